//! Every hostile request against one server on a model registry.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::{
    check_refused, expect_continue, infer_body, post_binary, registry_with_fraud, serve, zeros,
};

/// The server's default `max_rows_per_request`.
const MAX_ROWS: usize = 10_000;
/// Resident memory the server may hold after the whole suite.
const MAX_RSS_BYTES: u64 = 200 << 20;

/// Every hostile request of the suite against one server on a model
/// registry (with folders that are not versions): each answered with the
/// 4xx that names the mismatch or the limit; then the server still scores,
/// wrote no alert log, logged each ignored folder once, and is small.
#[test]
fn hostile_requests_are_refused_and_the_server_stays_small() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = tmp.path().join("registry");
    registry_with_fraud(&registry);
    for folder in ["latest", "010", "1.5"] {
        std::fs::create_dir_all(registry.join("fraud").join(folder)).expect("mkdir");
    }
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    let log = tmp.path().join("server.log");
    let server = serve()
        .arg("--registry")
        .arg(&registry)
        .current_dir(&work)
        .env("XDG_CACHE_HOME", tmp.path().join("cache"))
        .stderr_to(&log)
        .start();
    let infer = "/v2/models/fraud/infer";
    let score = "/v1/models/fraud/score";
    let width = 12;

    // Shapes far beyond their data: once an abort (108 GB allocation) and a
    // panic (capacity overflow). Refused before anything is allocated.
    check_refused(
        "the issue's shape, wrong width too",
        server.post(infer, infer_body("[1000000000,27]", "[0]")),
        400,
        &["[1000000000, 27]", "[rows, 12]"],
    );
    check_refused(
        "a billion rows, one value",
        server.post(infer, infer_body("[1000000000,12]", "[0]")),
        400,
        &["[1000000000, 12]", "12000000000 values", "data has 1"],
    );
    check_refused(
        "a shape whose byte count overflows",
        server.post(infer, infer_body("[683212743470724133,12]", "[0]")),
        400,
        &["[683212743470724133, 12]", "data has 1"],
    );
    check_refused(
        "a shape whose value count overflows",
        server.post(infer, infer_body("[9223372036854775807,12]", "[0]")),
        400,
        &["more values than can exist", "data has 1"],
    );
    check_refused(
        "an overflowing shape in binary",
        post_binary(
            &server,
            infer,
            &json!({"inputs": [{"name": "features", "shape": [683212743470724133_i64, width], "datatype": "FP32", "parameters": {"binary_data_size": 4}}]}),
            &[0; 4],
        ),
        400,
        &["more bytes than can exist", "4 bytes were sent"],
    );
    check_refused(
        "a binary shape larger than its bytes",
        post_binary(
            &server,
            infer,
            &json!({"inputs": [{"name": "features", "shape": [1000000000, width], "datatype": "FP64", "parameters": {"binary_data_size": 96}}]}),
            &[0; 96],
        ),
        400,
        &["96000000000 bytes", "96 bytes were sent"],
    );
    check_refused(
        "a negative row count",
        server.post(infer, infer_body("[-1,12]", "[0]")),
        400,
        &["[-1, 12]"],
    );
    check_refused(
        "fewer rows declared than sent",
        server.post(infer, infer_body("[1,12]", &zeros(24))),
        400,
        &["12 values", "data has 24"],
    );

    // Rows beyond max_rows_per_request, with data that matches: 413.
    let limit_says = ["10000 rows", "max_rows_per_request"];
    check_refused(
        "V2 JSON over the row limit",
        server.post(
            infer,
            infer_body(
                &format!("[{},12]", MAX_ROWS + 1),
                &zeros((MAX_ROWS + 1) * width),
            ),
        ),
        413,
        &limit_says,
    );
    check_refused(
        "V2 binary over the row limit",
        post_binary(
            &server,
            infer,
            &json!({"inputs": [{"name": "features", "shape": [MAX_ROWS + 1, width], "datatype": "FP32", "parameters": {"binary_data_size": (MAX_ROWS + 1) * width * 4}}]}),
            &vec![0; (MAX_ROWS + 1) * width * 4],
        ),
        413,
        &limit_says,
    );
    let (status, body) = server.post(
        infer,
        infer_body(&format!("[{MAX_ROWS},12]"), &zeros(MAX_ROWS * width)),
    );
    assert_eq!(status, 200, "V2 at the row limit: {body}");
    assert_eq!(body["outputs"][0]["shape"], json!([MAX_ROWS]));

    // 1.3 million empty rows in 3.9 MB (under the 4 MiB body limit): once
    // 1.9 GB resident. Counting stops at the limit.
    let mut many = String::with_capacity(4 << 20);
    many.push_str(r#"{"rows":["#);
    for i in 0..1_300_000 {
        many.push_str(if i == 0 { "{}" } else { ",{}" });
    }
    many.push_str("]}");
    assert!(many.len() < 4 << 20, "{}", many.len());
    for _ in 0..3 {
        check_refused(
            "/v1 with 1.3 million empty rows",
            server.post(score, many.clone()),
            413,
            &limit_says,
        );
    }
    drop(many);
    let rows = |n: usize| format!(r#"{{"rows":[{}]}}"#, vec!["{}"; n].join(","));
    check_refused(
        "/v1 one row over the limit",
        server.post(score, rows(MAX_ROWS + 1)),
        413,
        &limit_says,
    );
    let (status, body) = server.post(score, rows(MAX_ROWS));
    assert_eq!(status, 200, "/v1 at the row limit: {body}");
    assert_eq!(body["results"].as_array().map(Vec::len), Some(MAX_ROWS));
    assert_eq!(body["results"][0]["version"], 1, "a number");
    check_refused(
        "/v1 with a repeated field",
        server.post(score, r#"{"rows":[{}],"key":"a","key":"b"}"#),
        400,
        &["duplicate field `key`"],
    );
    check_refused(
        "/v1 without rows",
        server.post(score, r#"{"key":"a"}"#),
        400,
        &["missing field `rows`"],
    );

    // Expect: 100-continue with a length over max_body_bytes: a 413 and no
    // 100, so the client never sends the body.
    for path in [
        "/v2/models/fraud/infer",
        "/v1/models/fraud/score",
        "/v1/pipelines/fraud/score",
        "/no/such/route",
    ] {
        let answer = expect_continue(server.addr(), path, 1 << 40, b"");
        assert!(
            answer.starts_with("HTTP/1.1 413") && answer.contains("max_body_bytes"),
            "{path}: {answer}"
        );
        assert!(!answer.contains("100 Continue"), "{path}: {answer}");
    }
    // Within the limit, the client is told to continue and is answered.
    let body = r#"{"rows":[{"amount":12.5}]}"#;
    let answer = expect_continue(
        server.addr(),
        "/v1/models/fraud/score",
        body.len() as u64,
        body.as_bytes(),
    );
    assert!(
        answer.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200"),
        "{answer}"
    );

    // Folders that are not versions: listed with why.
    let (status, model) = server.get("/v1/models/fraud");
    assert_eq!(status, 200, "{model}");
    assert_eq!(model["serving"], 1, "{model}");
    let reason = "version folders are positive integers without leading zeros";
    assert_eq!(
        model["ignored"],
        json!([
            { "folder": "010", "reason": reason },
            { "folder": "1.5", "reason": reason },
            { "folder": "latest", "reason": reason },
        ]),
        "{model}"
    );

    // The listings; versions are numbers on /v1, strings only where the
    // Open Inference Protocol says so.
    let (status, listing) = server.get("/v1/models");
    assert_eq!(status, 200, "{listing}");
    let features = model["features"].clone();
    assert_eq!(features.as_array().map(Vec::len), Some(width), "{model}");
    assert_eq!(
        listing,
        json!({ "models": [{ "name": "fraud", "kind": "model", "serving": 1, "features": features }] })
    );
    check_refused(
        "a model is not a pipeline",
        server.get("/v1/pipelines/fraud"),
        404,
        &["'fraud' is a model, not a pipeline"],
    );
    check_refused(
        "no such pipeline",
        server.get("/v1/pipelines/nope"),
        404,
        &["no model named 'nope'"],
    );
    let (_, metadata) = server.get("/v2/models/fraud");
    assert_eq!(metadata["parameters"]["serving_version"], 1, "{metadata}");
    assert_eq!(metadata["versions"], json!(["1"]), "{metadata}");

    // Still serving, as before.
    let (status, body) = server.post(infer, infer_body("[1,12]", &zeros(width)));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model_version"], "1", "{body}");
    let (status, body) = server.post(score, r#"{"rows":[{"amount":950.0,"hour":3}]}"#);
    assert_eq!(status, 200, "{body}");

    // Let the registry poll a few times: each ignored folder is logged once.
    std::thread::sleep(Duration::from_millis(2500));
    let rss = server.resident_bytes();
    assert!(
        rss < MAX_RSS_BYTES,
        "resident memory after the suite: {} MiB",
        rss >> 20
    );
    let logged = std::fs::read_to_string(&log).expect("server log");
    for folder in ["latest", "010", "1.5"] {
        let line = format!(
            "{} ignored: {reason}",
            registry.join("fraud").join(folder).display()
        );
        assert_eq!(logged.matches(&line).count(), 1, "{line} in:\n{logged}");
    }
    // No pipeline, no alert: no alert log.
    let left: Vec<PathBuf> = std::fs::read_dir(&work)
        .expect("work folder")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
