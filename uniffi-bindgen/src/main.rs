//! `uniffi-bindgen`: generates the Kotlin, Swift and Python bindings of the
//! mobile library, in library mode:
//!
//! ```sh
//! cargo run -p uniffi-bindgen -- generate --library target/debug/libkeyway_mobile.so \
//!     --language kotlin --language swift --language python --out-dir DIR
//! ```

fn main() {
    uniffi::uniffi_bindgen_main()
}
