//! A V2 inference request with binary tensor data (`host/protocol`): the
//! first byte says how many of the next bytes are the
//! `Inference-Header-Content-Length` header's value; the rest is the body,
//! split into its JSON header and data, read as rows of the fraud model's
//! features and scored.
#![no_main]

use edgescore_protocol::split_body;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 24).min(rest.len());
    let (header, body) = rest.split_at(n);
    if let Ok((json, binary)) = split_body(Some(header), body) {
        edgescore_fuzz::fraud::infer(json, binary);
    }
});
