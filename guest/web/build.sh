#!/usr/bin/env bash
# Builds the npm package `edgescore` (the browser build of the model core)
# into OUT_DIR (default target/web/edgescore): the wasm (release, size
# optimised), wasm-bindgen's ES module and TypeScript types, package.json and
# README. Run from anywhere; needs only the Rust toolchain (rustup's
# wasm32-unknown-unknown target) and network access to crates.io the first
# time, to install wasm-bindgen-cli of exactly the crate's version under
# target/tools.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/target/web/edgescore}
version=0.2.130
cli=$root/target/tools/wasm-bindgen-$version/bin/wasm-bindgen
if ! [ -x "$cli" ] || [ "$("$cli" --version)" != "wasm-bindgen $version" ]; then
    echo "== installing wasm-bindgen-cli $version under target/tools (once)"
    # Not --locked: the CLI's own lock file names a webpki-roots that the
    # registry no longer serves; the CLI version itself is exact.
    cargo install wasm-bindgen-cli --version "=$version" --root "$root/target/tools/wasm-bindgen-$version"
fi
echo "== building the browser wasm"
CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_STRIP=debuginfo cargo build --locked --release \
    --manifest-path "$root/guest/Cargo.toml" -p edgescore-web \
    --target wasm32-unknown-unknown --target-dir "$root/target/guest-web"
mkdir -p "$out"
"$cli" --target web --out-dir "$out" --out-name edgescore --remove-name-section --remove-producers-section \
    "$root/target/guest-web/wasm32-unknown-unknown/release/edgescore_web.wasm"
cp "$root/guest/web/package.json" "$root/guest/web/README.md" "$out/"
wasm=$out/edgescore_bg.wasm
echo "== $out: edgescore_bg.wasm $(wc -c < "$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) gzipped"
