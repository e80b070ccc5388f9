//! Writes the compact encoding of each model file given, and an artifact
//! around it, into a folder: the `compact_encoding` target's seeds
//! (`fuzz/make_corpus.py` runs it).
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example compact_seeds -- <out-dir> <model>...
//! ```

use std::path::Path;

use edgescore_models::{Artifact, Manifest, ManifestFeature, Model, WIT_PACKAGE};

/// The largest compact model written.
const MAX_COMPACT_BYTES: usize = 80_000;
/// The largest compact model also written inside an artifact.
const MAX_ARTIFACT_MODEL_BYTES: usize = 4_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, models) = args
        .split_first()
        .expect("usage: compact_seeds <out-dir> <model>...");
    std::fs::create_dir_all(out).expect("the output folder");
    for path in models {
        let bytes = std::fs::read(path).expect("a model file");
        let Ok(model) = Model::from_bytes(&bytes, None) else {
            continue;
        };
        let name = Path::new(path)
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a file name");
        let compact = model.to_compact_bytes();
        // Seeds stay small: a large one slows every execution.
        if compact.len() > MAX_COMPACT_BYTES {
            continue;
        }
        std::fs::write(Path::new(out).join(format!("{name}.compact")), &compact).expect("write");
        if compact.len() > MAX_ARTIFACT_MODEL_BYTES {
            continue;
        }
        let features = (0..model.num_features())
            .map(|f| ManifestFeature {
                name: model
                    .feature_names()
                    .map_or_else(String::new, |names| names[f].clone()),
                kind: model.feature_kinds()[f].name().to_owned(),
            })
            .collect();
        let manifest = Manifest {
            name: name.to_owned(),
            version: "1".to_owned(),
            model_kind: model.kind().to_string(),
            objective: model.objective().to_owned(),
            output: model.output_kind().name().to_owned(),
            features,
            model_sha256: String::new(),
            edgescore_version: "0.1.0".to_owned(),
            wit_package: WIT_PACKAGE.to_owned(),
            steps_per_row: model.steps_per_row(),
            contribution_steps_per_row: model.contribution_steps_per_row(),
            golden: Vec::new(),
        };
        let artifact = Artifact { manifest, model };
        std::fs::write(
            Path::new(out).join(format!("{name}.artifact")),
            artifact.to_bytes(),
        )
        .expect("write");
    }
}
