//! Builds the production guest templates (the generic scorer and the
//! transform interpreter) into components, exposed by `src/guests.rs`. The
//! test guests are built by `tests/programs` only, for tests.

include!("../../guest/build_components.rs");

fn main() {
    let manifest = std::path::PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    build_components(
        &root,
        &[
            ("edgescore-guest-scorer", "SCORER_TEMPLATE", BARE),
            ("edgescore-guest-transform", "TRANSFORM_TEMPLATE", BARE),
        ],
    );
}
