//! The native backend and dynamic batching as an operator sets them up
//! (`[models.<m>]` in the server's config): what each refuses and why, and
//! that a bad row in a shared batch costs only the request that sent it.

use edgescore_models::Model;
use edgescore_runtime::component_build::{BuildRequest, build_component};
use edgescore_test_support::repo_root;
use edgescore_test_support::server::Client;
use serde_json::{Value, json};

use crate::{Fixture, quickstart_model, quickstart_rows, row_objects, serve, write_version};

/// A fixture serving the quickstart `fraud` natively, batched.
const NATIVE_BATCHED: &str =
    "[models.fraud]\nbackend = \"native\"\nmax_batch_rows = 256\nmax_queue_delay_us = 100000\n";

#[test]
fn sixty_four_concurrent_single_rows_share_batches_and_keep_their_bits() {
    let fixture = Fixture::start(NATIVE_BATCHED, |_, _| {});
    let model =
        Model::from_bytes(&std::fs::read(quickstart_model()).expect("model"), None).expect("loads");
    let (header, rows) = quickstart_rows();
    let width = header.len();
    let native = model.score(&rows).expect("native scores");
    let (status, info) = fixture.server.get("/v2/models/fraud");
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["parameters"]["backend"], "native", "{info}");

    let clients = 64;
    let rows_count = rows.len() / width;
    std::thread::scope(|scope| {
        for client in 0..clients {
            let http = Client::new(fixture.server.base_url());
            let (rows, header, native) = (&rows, &header, &native);
            scope.spawn(move || {
                for r in (client..rows_count).step_by(clients) {
                    let (status, body) = http.post_json(
                        "/v1/models/fraud/score",
                        &json!({ "rows": row_objects(header, &rows[r * width..(r + 1) * width]) }),
                    );
                    assert_eq!(status, 200, "row {r}: {body}");
                    let got = body["results"][0]["score"].as_f64().expect("score");
                    assert_eq!(got.to_bits(), native[r].to_bits(), "row {r}");
                }
            });
        }
    });
    let (batches, requests) =
        histogram_count_and_sum(&fixture.server.metrics(), "edgescore_batch_requests");
    assert_eq!(
        requests, rows_count as f64,
        "every request went through the batcher"
    );
    assert!(
        batches < requests,
        "{requests} concurrent requests were scored in {batches} batches: none shared one"
    );
}

#[test]
fn a_bad_row_costs_only_its_own_request_in_a_shared_batch() {
    // A linear model without imputation refuses a missing value.
    let linear = repo_root().join("models/test_cases/linear_logistic/model.json");
    let config =
        "[models.fraud]\nbackend = \"native\"\nmax_batch_rows = 64\nmax_queue_delay_us = 200000\n";
    let fixture = Fixture::start(config, |registry, _| {
        let component = build_component(&BuildRequest {
            model: &linear,
            format: None,
            name: "fraud",
            version: "2",
        })
        .expect("builds");
        write_version(registry, 2, &component);
    });
    let model = Model::from_bytes(&std::fs::read(&linear).expect("model"), None).expect("loads");
    let names: Vec<String> = model
        .feature_names()
        .expect("named features")
        .iter()
        .map(|n| n.to_string())
        .collect();
    let row: Vec<f64> = (0..names.len()).map(|i| i as f64 * 0.5).collect();
    let expected = model.score(&row).expect("scores")[0];
    let unbatched_refusal = model
        .score(&[f64::NAN].repeat(names.len()))
        .expect_err("a missing value is refused")
        .to_string();

    // Twelve clients at once, every third sending a row with a missing
    // feature: with a 200 ms queue delay they share batches.
    let answers: Vec<(usize, u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..12)
            .map(|client| {
                let http = Client::new(fixture.server.base_url());
                let (names, row) = (&names, &row);
                scope.spawn(move || {
                    let mut object = serde_json::Map::new();
                    for (i, (name, value)) in names.iter().zip(row).enumerate() {
                        if client % 3 != 0 || i != 0 {
                            object.insert(name.clone(), json!(value));
                        }
                    }
                    let (status, body) =
                        http.post_json("/v1/models/fraud/score", &json!({ "rows": [object] }));
                    (client, status, body)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect()
    });
    for (client, status, body) in answers {
        if client % 3 == 0 {
            assert_eq!(status, 400, "client {client}: {body}");
            let error = body["error"].as_str().expect("error text");
            assert!(
                error.contains(&format!("feature '{}' is missing", names[0]))
                    && error.contains("row 0"),
                "client {client}: {error} (unbatched: {unbatched_refusal})"
            );
        } else {
            assert_eq!(status, 200, "client {client}: {body}");
            let got = body["results"][0]["score"].as_f64().expect("score");
            assert_eq!(got.to_bits(), expected.to_bits(), "client {client}");
        }
    }
    let metrics = fixture.server.metrics();
    let (batches, requests) = histogram_count_and_sum(&metrics, "edgescore_batch_requests");
    assert_eq!(requests, 12.0, "{metrics}");
    assert!(batches < requests, "no batch was shared:\n{metrics}");
    assert!(
        !metrics.contains("kind=\"model_failure\""),
        "a refused row is the client's error, never the model's:\n{metrics}"
    );
}

#[test]
fn contributions_and_large_requests_are_scored_outside_batches() {
    let config =
        "[models.fraud]\nbackend = \"native\"\nmax_batch_rows = 4\nmax_queue_delay_us = 1000\n";
    let fixture = Fixture::start(config, |_, _| {});
    let (header, rows) = quickstart_rows();
    let (status, body) = fixture.server.post_json(
        "/v1/models/fraud/score",
        &json!({ "rows": row_objects(&header, &rows[..header.len()]), "contributions": true }),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["results"][0]["contributions"].is_object(), "{body}");
    let (status, body) = fixture.server.post_json(
        "/v1/models/fraud/score",
        &json!({ "rows": row_objects(&header, &rows[..10 * header.len()]) }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"].as_array().expect("results").len(), 10);
    let metrics = fixture.server.metrics();
    assert!(
        !metrics.contains("edgescore_batch_requests_count"),
        "neither request fits a batch of 4 rows without contributions:\n{metrics}"
    );
}

#[test]
fn an_unknown_backend_or_bad_batching_is_refused_at_startup_with_the_key() {
    for (config, expected) in [
        ("[models.fraud]\nbackend = \"tpu\"\n", "unknown variant"),
        (
            "[models.fraud]\nmax_queue_delay_us = 100\n",
            "max_batch_rows is 0",
        ),
        (
            "[models.fraud]\nmax_batch_rows = 1000000\n",
            "max_batch_rows = 1000000: at most",
        ),
        ("[models.fraud]\nbatch = 4\n", "unknown field"),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("serve.toml");
        std::fs::write(&path, config).expect("config");
        let output = serve(&tmp.path().join("cache"))
            .arg("--config")
            .arg(&path)
            .output();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{config}: started");
        assert!(stderr.contains(expected), "{config}: {stderr}");
    }
}

#[test]
fn a_component_without_its_artifact_is_rejected_natively_with_how_to_fix() {
    let fixture = Fixture::start(
        "[models.fraud]\nbackend = \"native\"\n",
        |registry, component| {
            write_version(registry, 2, &without_artifact_section(component));
        },
    );
    let (status, body) = fixture.server.get("/v1/models/fraud");
    assert_eq!(status, 200, "{body}");
    let versions = body["versions"].as_array().expect("versions");
    let two = versions
        .iter()
        .find(|v| v["version"] == 2)
        .expect("version 2 listed");
    assert_eq!(two["status"], "rejected", "{body}");
    let reason = two["reason"].as_str().expect("reason");
    assert!(
        reason.contains("edgescore-artifact") && reason.contains("rebuild"),
        "{reason}"
    );
    // Version 1 still serves.
    assert_eq!(body["backend"], "native", "{body}");
}

#[test]
fn a_pipeline_cannot_be_served_natively() {
    // The demo registry serves the fraud pipeline as `fraud`.
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("serve.toml");
    std::fs::write(&path, "[models.fraud]\nbackend = \"native\"\n").expect("config");
    let server = serve(&tmp.path().join("cache"))
        .arg("--config")
        .arg(&path)
        .start();
    let (status, body) = server.get("/v1/models/fraud");
    assert_eq!(status, 200, "{body}");
    let reason = body["versions"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("it is a pipeline") && reason.contains("backend"),
        "{body}"
    );
}

/// The component without its last custom section, `edgescore-artifact`
/// (as a component built before it was written).
fn without_artifact_section(component: &[u8]) -> Vec<u8> {
    let name = b"edgescore-artifact";
    let at = component
        .windows(name.len())
        .rposition(|w| w == name)
        .expect("the artifact section is named");
    // Before the name: its length (one byte), the payload's LEB128 length,
    // and the custom section id 0.
    let payload = component.len() - at + 1;
    let mut leb = 1;
    while payload >> (7 * leb) != 0 {
        leb += 1;
    }
    let start = at - 1 - leb - 1;
    assert_eq!(component[start], 0, "a custom section starts there");
    component[..start].to_vec()
}

/// The `_count` and `_sum` of a histogram without labels beyond the model.
fn histogram_count_and_sum(metrics: &str, name: &str) -> (f64, f64) {
    let value = |suffix: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("{name}{suffix}{{")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {name}{suffix} in:\n{metrics}"))
    };
    (value("_count"), value("_sum"))
}

/// `backend = "gpu"` with batching: the GPU's scores are the native bits.
/// Without a Vulkan adapter (and CI not requiring one) the version is
/// rejected saying so, and the test says it skipped.
#[test]
fn the_gpu_backend_serves_the_native_bits() {
    let config =
        "[models.fraud]\nbackend = \"gpu\"\nmax_batch_rows = 1024\nmax_queue_delay_us = 2000\n";
    let fixture = Fixture::start(config, |_, _| {});
    let (status, info) = fixture.server.get("/v1/models/fraud");
    assert_eq!(status, 200, "{info}");
    if info["backend"].is_null() {
        let reason = info["versions"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(reason.contains("no GPU to run on"), "{info}");
        assert!(
            std::env::var_os("EDGESCORE_REQUIRE_GPU").is_none_or(|v| v != "1"),
            "a GPU is required here: {reason}"
        );
        eprintln!("skipped: {reason}");
        return;
    }
    assert_eq!(info["backend"], "gpu", "{info}");
    let model =
        Model::from_bytes(&std::fs::read(quickstart_model()).expect("model"), None).expect("loads");
    let (header, rows) = quickstart_rows();
    let native = model.score(&rows).expect("native scores");
    let (status, body) = fixture.server.post_json(
        "/v1/models/fraud/score",
        &json!({ "rows": row_objects(&header, &rows) }),
    );
    assert_eq!(status, 200, "{body}");
    for (i, (result, want)) in body["results"]
        .as_array()
        .expect("results")
        .iter()
        .zip(&native)
        .enumerate()
    {
        let got = result["score"].as_f64().expect("score");
        assert_eq!(got.to_bits(), want.to_bits(), "row {i}");
    }
}
