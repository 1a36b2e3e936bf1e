# The compiler flags of the library apps ship, sourced by build-android.sh,
# build-ios.sh and `cargo xtask size` (so the size checked is the size shipped).
#
# The C inside (SQLite, ring's C) without unwind tables: no unwinding ever
# passes through it (a Rust panic cannot leave an `extern "C"` callback), and
# they are about 110 KB (docs/performance.md, "Mobile library size").
export CFLAGS="${CFLAGS:-} -fno-asynchronous-unwind-tables -fno-unwind-tables"
# Rust without unwind tables either (the profile aborts on a panic), and
# panic locations without this machine's registry directory.
RUSTFLAGS="${RUSTFLAGS:-} -Cforce-unwind-tables=no"
for src in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
  RUSTFLAGS="$RUSTFLAGS --remap-path-prefix=$src="
done
export RUSTFLAGS
