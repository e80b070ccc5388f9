//! Builds the guest components and exposes them to the host as bytes.
//!
//! wasmtime's test-programs pattern: the guest workspace (`../guest`) is built
//! by a nested cargo with its own target directory and the components are
//! written to `OUT_DIR`; `src/guests.rs` includes them as `<NAME>_COMPONENT`
//! constants. Most guests are built for `wasm32-unknown-unknown` and each core
//! module is made into a component with `wit-component`, so it imports
//! nothing at all; the one WASI test program is built for `wasm32-wasip2`,
//! whose linker already writes a component (importing WASI). A fresh machine
//! needs no step beyond `cargo build`: a missing wasm target is added with
//! rustup.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target of guests made into components by `wit-component`.
const BARE: &str = "wasm32-unknown-unknown";
/// The target of guests that import WASI (the linker writes the component).
const WASI: &str = "wasm32-wasip2";

/// The guest crates, the constant each becomes, and the target it is built for.
const GUESTS: &[(&str, &str, &str)] = &[
    ("edgescore-guest-scorer", "SCORER_TEMPLATE", BARE),
    ("edgescore-guest-transform", "TRANSFORM_TEMPLATE", BARE),
    (
        "edgescore-guest-transform-example",
        "TRANSFORM_EXAMPLE",
        BARE,
    ),
    ("edgescore-guest-hostile", "HOSTILE", BARE),
    ("edgescore-guest-hostile-wasi", "HOSTILE_WASI", WASI),
    (
        "edgescore-guest-unprovided-import",
        "UNPROVIDED_IMPORT",
        BARE,
    ),
];

fn main() {
    let host = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = host.parent().expect("host/ has a parent").to_owned();
    let guest = root.join("guest");
    let out = PathBuf::from(env("OUT_DIR"));
    for dir in ["guest", "models/src", "models/Cargo.toml", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    // Beside the host's own target directory, shared by every profile.
    let target_dir = root.join("target").join("guest");
    for target in [BARE, WASI] {
        ensure_target(target);
        build_guests(&guest, &target_dir, target);
    }

    let mut constants = String::new();
    for (name, constant, target) in GUESTS {
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

/// Builds, in release, every guest crate meant for `target`.
fn build_guests(guest: &Path, target_dir: &Path, target: &str) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(guest)
        .args(["build", "--release", "--locked", "--target", target])
        .arg("--target-dir")
        .arg(target_dir);
    for (name, _, _) in GUESTS.iter().filter(|(_, _, t)| *t == target) {
        build.args(["-p", name]);
    }
    // The outer build's settings are for the host, not the guest.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
    ] {
        build.env_remove(var);
    }
    let status = build.status().expect("cargo runs");
    assert!(
        status.success(),
        "building the {target} guest components failed"
    );
}

/// Adds the wasm target with rustup when the toolchain lacks it.
fn ensure_target(target: &str) {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    if Path::new(&sysroot)
        .join("lib/rustlib")
        .join(target)
        .exists()
    {
        return;
    }
    let status = Command::new("rustup")
        .args(["target", "add", target])
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "the {target} target is missing and `rustup target add {target}` failed"
    );
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by cargo"))
}
