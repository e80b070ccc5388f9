#!/usr/bin/env bash
# Builds the npm package `edgescore` (the browser build of the model core)
# into OUT_DIR (default target/web/edgescore): the wasm (release, size
# optimised), wasm-bindgen's ES module and TypeScript types, package.json and
# README. Run from anywhere; needs only the Rust toolchain (rustup's
# wasm32-unknown-unknown target). The ES module and types are made by
# host/web-package (wasm-bindgen-cli-support, the library wasm-bindgen-cli
# is made of, of exactly the wasm-bindgen crate's pinned version), the same
# code the server's build script runs for its /demo page.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/target/web/edgescore}
echo "== building the browser wasm"
# From guest/, so its .cargo/config.toml (simd128) applies, as to every guest.
(cd "$root/guest" && CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_STRIP=debuginfo cargo build --locked --release \
    -p edgescore-web \
    --target wasm32-unknown-unknown --target-dir "$root/target/guest-web")
mkdir -p "$out"
echo "== making the package"
cargo run --locked --release --quiet --manifest-path "$root/Cargo.toml" -p edgescore-web-package \
    --target-dir "$root/target/web-package" -- \
    "$root/target/guest-web/wasm32-unknown-unknown/release/edgescore_web.wasm" "$out"
cp "$root/guest/web/package.json" "$root/guest/web/README.md" "$out/"
wasm=$out/edgescore_bg.wasm
echo "== $out: edgescore_bg.wasm $(wc -c < "$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) gzipped"
