//! Routing: a canary split by key, promote, rollback and shadow; a failing
//! canary rolled back automatically.

use std::time::Duration;

use edgescore_models::Model;
use edgescore_runtime::manifest_section;
use edgescore_test_programs as guests;
use serde_json::json;

use crate::{Fixture, admin_post, quickstart_model, scored_by, write_version};

#[test]
fn canary_splits_by_key_and_promote_rollback_and_shadow_work() {
    let fixture = Fixture::start("", |registry, component| {
        write_version(registry, 2, component);
    });
    let server = &fixture.server;
    let routing = "/admin/models/fraud/routing";
    // Pin version 1, version 2 the canary at 30%.
    let answer = admin_post(
        server,
        routing,
        Some(json!({ "primary": 1, "canary": { "version": 2, "percent": 30 } })),
    );
    assert_eq!(answer["serving"], 1, "{answer}");
    assert_eq!(answer["canary"]["version"], 2, "{answer}");

    let mut to_canary = 0;
    for i in 0..300 {
        let key = format!("txn-{i}");
        let (status, first) = scored_by(server, Some(&key), 10.0);
        assert_eq!(status, 200, "{first}");
        let version = first["results"][0]["version"].as_u64().expect("version");
        // The same key lands on the same version every time.
        let (_, again) = scored_by(server, Some(&key), 10.0);
        assert_eq!(again["results"][0]["version"], version, "key {key}");
        to_canary += usize::from(version == 2);
    }
    assert!(
        (45..135).contains(&to_canary),
        "{to_canary} of 300 went to the 30% canary"
    );

    // Promote: the canary becomes the primary, alone.
    let answer = admin_post(server, "/admin/models/fraud/promote", None);
    assert_eq!(answer["serving"], 2, "{answer}");
    assert!(answer["canary"].is_null(), "{answer}");
    for i in 0..20 {
        let (_, body) = scored_by(server, Some(&format!("k{i}")), 10.0);
        assert_eq!(body["results"][0]["version"], 2);
    }
    // Roll back without a canary: the version below serves.
    let answer = admin_post(server, "/admin/models/fraud/rollback", None);
    assert_eq!(answer["serving"], 1, "{answer}");

    // Shadow: version 2 scores the same rows off the request path; the
    // responses still come from version 1, and the scores agree.
    let answer = admin_post(server, routing, Some(json!({ "primary": 1, "shadow": 2 })));
    assert_eq!(answer["shadow"], 2, "{answer}");
    for i in 0..50 {
        let (_, body) = scored_by(server, None, f64::from(i));
        assert_eq!(body["results"][0]["version"], 1);
    }
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = server.metrics();
        if metrics.contains("edgescore_shadow_rows_total{model=\"fraud\"} 50") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        metrics.contains("edgescore_shadow_rows_total{model=\"fraud\"} 50"),
        "{metrics}"
    );
    assert!(
        metrics.contains("edgescore_shadow_disagreements_total{model=\"fraud\"} 0"),
        "{metrics}"
    );
}

/// The hostile test program under the fraud model's name and features: a
/// row whose first value (`amount`) is 1 loops until the call deadline.
fn hostile_as_fraud() -> Vec<u8> {
    let model =
        Model::from_bytes(&std::fs::read(quickstart_model()).expect("model"), None).expect("loads");
    let mut bytes = guests::HOSTILE_COMPONENT.to_vec();
    let features = model.feature_names().expect("names");
    let manifest = guests::stand_in_manifest("fraud", "hostile", features);
    manifest_section::append(&mut bytes, &manifest);
    bytes
}

#[test]
fn a_failing_canary_is_rolled_back_automatically() {
    let fixture = Fixture::start("", |registry, _| {
        write_version(registry, 2, &hostile_as_fraud());
    });
    let server = &fixture.server;
    let answer = admin_post(
        server,
        "/admin/models/fraud/routing",
        Some(json!({ "primary": 1, "canary": { "version": 2, "percent": 50 } })),
    );
    assert_eq!(answer["canary"]["version"], 2, "{answer}");
    // amount = 1 makes the canary loop past its deadline: a model failure,
    // a 5xx, counted against the canary (default: over 5% of 20 requests).
    let mut failures = 0;
    for i in 0..400 {
        let (status, body) = scored_by(server, Some(&format!("t{i}")), 1.0);
        match status {
            200 => assert_eq!(body["results"][0]["version"], 1, "{body}"),
            500 => failures += 1,
            other => panic!("status {other}: {body}"),
        }
    }
    assert!(failures > 0, "the canary never failed");
    assert!(
        failures <= 21,
        "{failures} failures: the rollback came late"
    );
    let (_, status) = server.get("/v1/models/fraud");
    assert!(status["canary"].is_null(), "{status}");
    let metrics = server.metrics();
    assert!(
        metrics.contains("edgescore_canary_rollbacks_total{model=\"fraud\"} 1"),
        "{metrics}"
    );
}
