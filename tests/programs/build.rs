//! Builds the test guests into components, exposed by `src/lib.rs`: for
//! tests only, so no production build compiles a hostile program.

include!("../../guest/build_components.rs");

fn main() {
    let manifest = std::path::PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    build_components(
        &root,
        &[
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
        ],
    );
}
