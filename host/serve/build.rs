//! Builds the browser package (`guest/web`, the npm package `edgescore`)
//! into `OUT_DIR/pkg`, for the `/demo` page the server embeds: the wasm
//! exactly as `guest/web/build.sh` makes it (release, size-optimised, the
//! same target directory) and its ES module by the `edgescore-web-package`
//! binary, as `build.sh` does. So `cargo build` alone makes a server whose demo scores
//! with the package of this very source.

// The shared file also holds what only component builds use (WASI).
#![allow(dead_code)]

include!("../../guest/build_support.rs");

fn main() {
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    for dir in [
        "guest/web",
        "guest/Cargo.lock",
        "models/src",
        "host/spec/src",
        "host/events/src",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    ensure_target(BARE);
    let target_dir = root.join("target").join("guest-web");
    build_guests(
        &root.join("guest"),
        &target_dir,
        BARE,
        &["edgescore-web"],
        &[
            ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z"),
            ("CARGO_PROFILE_RELEASE_STRIP", "debuginfo"),
        ],
    );
    let wasm = target_dir
        .join(BARE)
        .join("release")
        .join("edgescore_web.wasm");
    let out = PathBuf::from(env("OUT_DIR")).join("pkg");
    // The very binary build.sh runs (same target directory), not the
    // library as a build dependency: a build dependency's feature set is
    // resolved apart, and wasm-bindgen's output then differs in its bytes.
    println!(
        "cargo:rerun-if-changed={}",
        root.join("host/web-package").display()
    );
    let status = nested_cargo(&root)
        .args([
            "run",
            "--locked",
            "--release",
            "--quiet",
            "-p",
            "edgescore-web-package",
        ])
        .arg("--target-dir")
        .arg(root.join("target").join("web-package"))
        .arg("--")
        .arg(&wasm)
        .arg(&out)
        .arg("edgescore")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "making the browser package failed");
}
