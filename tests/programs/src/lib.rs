//! The test guests, as component bytes: hostile programs (each misbehaves
//! in one way the sandbox must contain), a WASI program, one importing what
//! the host does not provide, and the transform SDK's example.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

use edgescore_models::{Manifest, ManifestFeature};

/// The manifest `edgescore build` would embed for a test program standing in
/// for a linear model `name` with these numeric features (the hostile
/// programs read rows like one).
pub fn stand_in_manifest(name: &str, version: &str, features: &[String]) -> Manifest {
    Manifest {
        name: name.into(),
        version: version.into(),
        model_kind: "linear".into(),
        objective: "hostile".into(),
        output: "regression".into(),
        features: features
            .iter()
            .map(|name| ManifestFeature {
                name: name.clone(),
                kind: "numeric".into(),
            })
            .collect(),
        model_sha256: String::new(),
        edgescore_version: "test".into(),
        wit_package: edgescore_models::WIT_PACKAGE.into(),
        steps_per_row: 1,
        contribution_steps_per_row: 1,
        golden: Vec::new(),
    }
}
