#!/usr/bin/env bash
# The crate builds where only the simulator can run: type-checks (and lints) ctrace for macOS from
# this Linux machine. Installs what the check needs when missing: the Rust standard library for
# the target (rustup) and clang, which cross-compiles the C and assembly of a few dependencies'
# build scripts (nothing is linked: a check needs no macOS SDK).
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-apple-darwin
if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi
if ! command -v clang >/dev/null || ! command -v llvm-ar >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "check-portable: clang and llvm-ar are missing: install Debian's clang and llvm packages" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang llvm >/dev/null
fi
export CC_x86_64_apple_darwin=clang AR_x86_64_apple_darwin=llvm-ar
cargo clippy --target "$target" -- -D warnings
