//! The body of `POST /v1/models/<m>/score` (`host/protocol`): parsed with
//! its rows bounded, read as rows of the fraud model's named features (and
//! of a model with unnamed ones), and scored with contributions.
#![no_main]

use edgescore_protocol::ScoreRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = ScoreRequest::parse(data, edgescore_fuzz::fraud::MAX_ROWS) else {
        return;
    };
    let pipeline = edgescore_fuzz::fraud::fraud();
    let names = pipeline
        .model
        .feature_names()
        .expect("the fraud model names its features");
    let features: Vec<&str> = names.iter().map(String::as_str).collect();
    if let Ok(rows) = request.feature_rows(&features) {
        let scores = pipeline
            .model
            .score(&rows)
            .expect("rows of the model's width score");
        assert_eq!(scores.len(), request.rows.len(), "one score per row");
        if request.contributions {
            let _ = pipeline
                .model
                .contributions(&rows)
                .expect("the fraud model explains");
        }
    }
    let unnamed = vec![""; features.len()];
    let _ = request.feature_rows(&unnamed);
});
