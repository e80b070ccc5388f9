//! A V2 inference request in JSON (`host/protocol`): parsed, its input read
//! as rows of the fraud model's features, its outputs checked, and the rows
//! scored.
#![no_main]

use edgescore_protocol::{InferRequest, split_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (json, binary) = split_body(None, data).expect("without the header the body is JSON");
    edgescore_fuzz::fraud::infer(json, binary);
    let _ = InferRequest::from_json(data);
});
