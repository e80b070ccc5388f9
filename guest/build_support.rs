// Nested cargo builds of the guest workspace, shared by every build script
// that builds a guest: `guest/build_components.rs` (components) and
// `host/serve/build.rs` (the browser package). `include!`d, as build
// scripts share no crate.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target of guests made into components by `wit-component`.
const BARE: &str = "wasm32-unknown-unknown";
/// The target of guests that import WASI (the linker writes the component).
const WASI: &str = "wasm32-wasip2";

/// Builds, in release, every guest crate meant for `target`, with `profile`
/// settings (`CARGO_PROFILE_RELEASE_*` variables) over the guest
/// workspace's.
fn build_guests(
    guest: &Path,
    target_dir: &Path,
    target: &str,
    names: &[&str],
    profile: &[(&str, &str)],
) {
    let mut build = nested_cargo(guest);
    build
        .args(["build", "--release", "--locked", "--target", target])
        .arg("--target-dir")
        .arg(target_dir);
    for name in names {
        build.args(["-p", name]);
    }
    build.envs(profile.iter().copied());
    let status = build.status().expect("cargo runs");
    assert!(
        status.success(),
        "building the {target} guest components failed"
    );
}

/// A cargo command run in `dir`, without the outer build's settings (they
/// are for the crate being built, not for what the nested cargo builds).
fn nested_cargo(dir: &Path) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(dir);
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
    ] {
        command.env_remove(var);
    }
    command
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
