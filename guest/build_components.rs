// Builds guest crates into components, shared by the build scripts of
// `edgescore-runtime` (the production templates) and
// `edgescore-test-programs` (the test guests), each of which `include!`s
// this file.
//
// wasmtime's test-programs pattern: the guest workspace (`guest/`) is built
// by a nested cargo with its own target directory (`target/guest`, shared by
// every profile) and each component is written to `OUT_DIR`; a generated
// `guests.rs` holds one `<NAME>_COMPONENT` constant per guest. Guests for
// `wasm32-unknown-unknown` are made into components with `wit-component`,
// so they import nothing at all; guests for `wasm32-wasip2` are already
// components (the linker writes them). A missing wasm target is added with
// rustup.

include!("build_support.rs");

/// Builds `guests` (crate, constant, target) from the repository at `root`
/// and writes `guests.rs` with their constants into `OUT_DIR`.
fn build_components(root: &Path, guests: &[(&str, &str, &str)]) {
    let guest = root.join("guest");
    let out = PathBuf::from(env("OUT_DIR"));
    for dir in ["guest", "models/src", "models/Cargo.toml", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    let target_dir = root.join("target").join("guest");
    for target in [BARE, WASI] {
        let names: Vec<&str> = guests
            .iter()
            .filter(|(_, _, t)| *t == target)
            .map(|(name, _, _)| *name)
            .collect();
        if !names.is_empty() {
            ensure_target(target);
            build_guests(&guest, &target_dir, target, &names, &[]);
        }
    }

    let mut constants = String::new();
    for (name, constant, target) in guests {
        let module_path = target_dir
            .join(target)
            .join("release")
            .join(format!("{}.wasm", name.replace('-', "_")));
        let built = std::fs::read(&module_path)
            .unwrap_or_else(|e| panic!("{}: {e}", module_path.display()));
        let component = if *target == BARE {
            wit_component::ComponentEncoder::default()
                .module(&built)
                .and_then(|encoder| encoder.validate(true).encode())
                .unwrap_or_else(|e| panic!("making {name} a component: {e:?}"))
        } else {
            built
        };
        let file = out.join(format!("{name}.component.wasm"));
        std::fs::write(&file, component).expect("write component");
        constants.push_str(&format!(
            "/// The `{name}` guest as a component.\npub const {constant}_COMPONENT: &[u8] = include_bytes!({:?});\n",
            file.display().to_string()
        ));
    }
    std::fs::write(out.join("guests.rs"), constants).expect("write guests.rs");
}


