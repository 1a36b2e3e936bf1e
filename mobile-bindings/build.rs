//! Link options for the mobile library's shared object.
//!
//! On Linux with glibc, the relocation table is packed (`DT_RELR`, glibc 2.36
//! and binutils 2.38 or newer): the library holds thousands of relative
//! relocations (vtables, string tables), which take 24 bytes each unpacked and
//! a few bits each packed: about 450 KB of the release-mobile library. Other
//! targets keep their linker's defaults, untested here: Android's lld could
//! pack them too (`-Wl,--pack-dyn-relocs=relr`, API 28 and later), Apple's
//! linker writes chained fix-ups on its own.
//!
//! Identical code is folded (`--icf=all`, LLD, which Rust uses on x86_64
//! Linux): generic instantiations that compile to the same machine code are
//! kept once, about 130 KB. Rust promises no distinct function addresses, so
//! folding every identical function is sound for it.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,pack-relative-relocs");
        println!("cargo:rustc-cdylib-link-arg=-Wl,--icf=all");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
