#!/usr/bin/env bash
# Builds the npm package `edgescore` (the browser build of the model core,
# the transform interpreter and the event rules) into OUT_DIR (default
# target/web/edgescore): two builds of guest/web (release, size optimised,
# simd128), each with wasm-bindgen's ES module and TypeScript types:
# `edgescore` (Model and Pipeline) and `edgescore_models` (Model alone, the
# package's `edgescore/models`); then package.json and README. Run from anywhere; needs only the Rust toolchain (rustup's
# wasm32-unknown-unknown target). The ES module and types are made by
# host/web-package (wasm-bindgen-cli-support, the library wasm-bindgen-cli
# is made of, of exactly the wasm-bindgen crate's pinned version), the same
# code the server's build script runs for its /demo page.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/target/web/edgescore}
mkdir -p "$out"
# package <name> <target dir> [cargo flags]: one build of guest/web, made
# into <name>.js, <name>.d.ts and <name>_bg.wasm.
package() {
    local name=$1 target_dir=$2
    shift 2
    echo "== building $name"
    # From guest/, so its .cargo/config.toml (simd128) applies, as to every guest.
    (cd "$root/guest" && CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_STRIP=debuginfo \
        cargo build --locked --release -p edgescore-web --target wasm32-unknown-unknown \
        --target-dir "$target_dir" "$@")
    cargo run --locked --release --quiet --manifest-path "$root/Cargo.toml" -p edgescore-web-package \
        --target-dir "$root/target/web-package" -- \
        "$target_dir/wasm32-unknown-unknown/release/edgescore_web.wasm" "$out" "$name"
    local wasm=$out/${name}_bg.wasm
    echo "== $name: ${name}_bg.wasm $(wc -c < "$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) gzipped"
}
# The package's main module: Model and Pipeline (the server's /demo embeds
# this very build, from the same target directory).
package edgescore "$root/target/guest-web"
# edgescore/models: Model alone, for pages that only score models.
package edgescore_models "$root/target/guest-web-models" --no-default-features
cp "$root/guest/web/package.json" "$root/guest/web/README.md" "$out/"
