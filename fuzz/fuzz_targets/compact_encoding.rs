//! edgescore's compact encoding (`models/src/encoding.rs`, ONNX programs in
//! `models/src/onnx/codec.rs`) and the artifact a component embeds around
//! it (`models/src/artifact.rs`): decoded, and when it decodes, used.
#![no_main]

use edgescore_models::{Artifact, Format, Model};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = Model::from_bytes(data, Some(Format::Compact)) {
        edgescore_fuzz::model_use::exercise(&model);
    }
    if let Ok(artifact) = Artifact::from_bytes(data) {
        for golden in &artifact.manifest.golden {
            let _ = artifact.model.score(&golden.values());
        }
        edgescore_fuzz::model_use::exercise(&artifact.model);
        let again = Artifact::from_bytes(&artifact.to_bytes()).expect("an artifact reads back");
        assert_eq!(again.manifest, artifact.manifest, "the manifest reads back");
    }
});
