#!/usr/bin/env bash
# Builds the Android artefacts of the Keyway mobile library:
#   target/android/jniLibs/<abi>/libkeyway_mobile.so   (arm64-v8a, armeabi-v7a, x86_64)
#   target/android/kotlin/uniffi/...                   (generated Kotlin sources)
# Copy jniLibs into your module's src/main/jniLibs and the Kotlin sources into
# src/main/kotlin (or point a Gradle sourceSet at them). The app needs
# net.java.dev.jna:jna (aar) and kotlinx-coroutines-core.
#
# Bluetooth: btleplug's Android backend needs its Java half and a JNI init the
# library does not do, so Android builds leave it out by default and the app
# passes its own transport (KeywayClient.setTransport, on BluetoothGatt).
# KEYWAY_ANDROID_FEATURES=ble builds it in anyway.
#
# Needs: the Android NDK (ANDROID_NDK_HOME), `cargo install cargo-ndk`, and
# `rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android`.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to your Android NDK}"
command -v cargo-ndk >/dev/null || { echo "cargo-ndk is missing: cargo install cargo-ndk" >&2; exit 1; }

# No unwind tables, panic locations without this machine's paths.
source mobile-bindings/scripts/mobile-flags.sh
profile="${KEYWAY_PROFILE:-release-mobile}"
out="target/android"
rm -rf "$out"
mkdir -p "$out/jniLibs" "$out/kotlin"

features=(--no-default-features)
[ -n "${KEYWAY_ANDROID_FEATURES:-}" ] && features+=(--features "$KEYWAY_ANDROID_FEATURES")

cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 -o "$out/jniLibs" \
  build --profile "$profile" -p keyway-mobile "${features[@]}"

# Bindings are generated from a host build of the same library (library mode
# reads the metadata uniffi embeds; it is identical for every target).
cargo build --profile "$profile" -p keyway-mobile "${features[@]}"
cargo run -q -p uniffi-bindgen -- generate --no-format \
  --library "target/$profile/libkeyway_mobile.so" --language kotlin --out-dir "$out/kotlin"

echo "Android artefacts in $out"
find "$out" -name '*.so' -o -name '*.kt' | sort
