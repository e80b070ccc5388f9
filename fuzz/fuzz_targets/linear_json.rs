//! An edgescore linear JSON model file (`models/src/linear.rs`): parsed, and when it parses, scored, explained and re-encoded
//! ([`edgescore_fuzz::model_use::exercise`]).
#![no_main]

use edgescore_models::{Format, Model};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = Model::from_bytes(data, Some(Format::LinearJson)) {
        edgescore_fuzz::model_use::exercise(&model);
    }
});
