#!/usr/bin/env bash
# Builds the iOS artefacts of the Keyway mobile library on macOS:
#   target/ios/KeywayFFI.xcframework   (device arm64; simulator arm64 + x86_64)
#   target/ios/Keyway/                 (a Swift package: Package.swift + sources)
# Add target/ios/Keyway as a local Swift package in Xcode and `import Keyway`.
#
# Needs: Xcode command line tools, and
# `rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios`.
set -euo pipefail
cd "$(dirname "$0")/../.."

[ "$(uname)" = "Darwin" ] || { echo "build-ios.sh runs on macOS (xcodebuild, lipo)" >&2; exit 1; }

# No unwind tables, panic locations without this machine's paths.
source mobile-bindings/scripts/mobile-flags.sh
profile="${KEYWAY_PROFILE:-release-mobile}"
out="target/ios"
rm -rf "$out"
mkdir -p "$out/headers" "$out/Keyway/Sources/Keyway"

for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
  cargo build --profile "$profile" -p keyway-mobile --target "$target"
done

# One fat simulator library.
mkdir -p "$out/sim"
lipo -create \
  "target/aarch64-apple-ios-sim/$profile/libkeyway_mobile.a" \
  "target/x86_64-apple-ios/$profile/libkeyway_mobile.a" \
  -output "$out/sim/libkeyway_mobile.a"

# Swift sources, C headers and module maps from the library's metadata.
cargo run -q -p uniffi-bindgen -- generate --no-format \
  --library "target/aarch64-apple-ios/$profile/libkeyway_mobile.a" --language swift --out-dir "$out/generated"
cp "$out"/generated/*.h "$out/headers/"
cat "$out"/generated/*.modulemap > "$out/headers/module.modulemap"
cp "$out"/generated/*.swift "$out/Keyway/Sources/Keyway/"

xcodebuild -create-xcframework \
  -library "target/aarch64-apple-ios/$profile/libkeyway_mobile.a" -headers "$out/headers" \
  -library "$out/sim/libkeyway_mobile.a" -headers "$out/headers" \
  -output "$out/Keyway/KeywayFFI.xcframework"

cat > "$out/Keyway/Package.swift" <<'SWIFT'
// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "Keyway",
    platforms: [.iOS(.v15)],
    products: [.library(name: "Keyway", targets: ["Keyway"])],
    targets: [
        .binaryTarget(name: "KeywayFFI", path: "KeywayFFI.xcframework"),
        .target(name: "Keyway", dependencies: ["KeywayFFI"], path: "Sources/Keyway"),
    ]
)
SWIFT

echo "iOS artefacts in $out/Keyway"
