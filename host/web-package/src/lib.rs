//! The npm package `edgescore` from the browser builds' wasm (`guest/web`,
//! built for `wasm32-unknown-unknown`): for each, wasm-bindgen's ES module
//! for the web (`edgescore.js`, or `edgescore_models.js` for the build
//! without pipelines), its TypeScript types and the processed wasm
//! (`edgescore_bg.wasm`, name and producers sections removed).
//!
//! It runs `wasm-bindgen-cli-support`, the library wasm-bindgen-cli is made
//! of, of exactly the version the `wasm-bindgen` crate is pinned to, with
//! the CLI's `--target web` settings. `guest/web/build.sh` (through this
//! crate's binary) and `edgescore-serve`'s build script (the `/demo` page)
//! both call [`bindgen`], so the package a user builds and the one the
//! server embeds are the same bytes.

use std::path::Path;

/// Writes the package's generated files for `wasm` into `out_dir`, named
/// `<name>.js`, `<name>.d.ts` and `<name>_bg.wasm`.
pub fn bindgen(wasm: &Path, out_dir: &Path, name: &str) -> Result<(), String> {
    let mut bindgen = wasm_bindgen_cli_support::Bindgen::new();
    bindgen
        .input_path(wasm)
        .web(true)
        .map_err(|e| format!("{e:#}"))?;
    // The CLI's defaults where the library's differ, then the package's.
    bindgen
        .out_name(name)
        .typescript(true)
        .omit_default_module_path(false)
        .remove_name_section(true)
        .remove_producers_section(true)
        .generate(out_dir)
        .map_err(|e| format!("wasm-bindgen on {}: {e:#}", wasm.display()))
}
