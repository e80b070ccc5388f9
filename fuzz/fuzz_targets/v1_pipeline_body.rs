//! The body of `POST /v1/pipelines/<p>/score` (`host/protocol`): parsed
//! with its transactions bounded, each read by the fraud pipeline's event
//! rules (`host/events`), and when all are accepted, transformed, scored,
//! decided and explained as the server would.
#![no_main]

use edgescore_protocol::PipelineRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = PipelineRequest::parse(data, edgescore_fuzz::fraud::MAX_ROWS) else {
        return;
    };
    let pipeline = edgescore_fuzz::fraud::fraud();
    let reader = pipeline.reader();
    let events: Result<Vec<_>, _> = request
        .transactions
        .iter()
        .map(|t| reader.event_from_json(t))
        .collect();
    if let Ok(events) = events {
        pipeline.score(events);
    }
});
