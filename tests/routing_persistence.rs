//! `edgescore serve` across restarts and swaps, as a subprocess over loopback:
//!
//! - every acknowledged routing change (rollback, routing, promote, the
//!   automatic rollback of a failing canary) is in `routing.toml` and still
//!   serves after a restart; a change that cannot be written is refused and
//!   changes nothing; the server's own writes cause no reloads, and hand
//!   edits are still read;
//! - `/v2/health/ready` is ready only while every model has a version serving;
//! - a version whose features differ from the primary's is rejected (with
//!   the reason, in the listing, the index and the metrics) unless the
//!   routing allows schema changes, and a restart decides the same.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use edgescore_models::Model;
use edgescore_runtime::component_build::{BuildRequest, build_component};
use edgescore_runtime::manifest_section;
use edgescore_test_programs as guests;
use edgescore_test_support::repo_root;
use edgescore_test_support::server::{Serve, Server};
use serde_json::{Value, json};

const TOKEN: &str = "test-admin-token";
/// Polls often, so hot swaps show within the test's patience.
const CONFIG: &str = "poll_interval_ms = 100\nsettle_ms = 300\n";

/// `edgescore serve` on a free port over `registry`, with a config file,
/// the compiled cache and the admin token in `work`.
fn start(registry: &Path, work: &Path) -> Server {
    let config = work.join("serve.toml");
    std::fs::write(&config, CONFIG).expect("config");
    Serve::new(env!("CARGO_BIN_EXE_edgescore"))
        .arg("--registry")
        .arg(registry)
        .arg("--config")
        .arg(&config)
        .env("EDGESCORE_ADMIN_TOKEN", TOKEN)
        .env("XDG_CACHE_HOME", work.join("cache"))
        .grace(Duration::from_secs(5))
        .start()
}

/// `POST path` with the admin token: status and JSON body.
fn post(server: &Server, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, text) = server.request(
        "POST",
        path,
        &[
            ("authorization", &format!("Bearer {TOKEN}")),
            ("content-type", "application/json"),
        ],
        body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    );
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// An admin call that must succeed; its answer.
fn admin(server: &Server, path: &str, body: Option<Value>) -> Value {
    let (status, answer) = post(server, path, body);
    assert_eq!(status, 200, "{path}: {answer}");
    answer
}

/// `GET /v1/models/<model>` once `done` holds for it (or panics after 30 s).
fn wait_for_model(
    server: &Server,
    model: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, status) = server.get(&format!("/v1/models/{model}"));
        if done(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "waited for {what}: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes `<registry>/<model>/<version>/model.wasm` the documented way:
/// another name, then an atomic rename.
fn write_version(registry: &Path, model: &str, version: u64, bytes: &[u8]) {
    let folder = registry.join(model).join(version.to_string());
    std::fs::create_dir_all(&folder).expect("mkdir");
    let tmp = folder.join("model.wasm.tmp");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, folder.join("model.wasm")).expect("rename");
}

fn quickstart_model() -> PathBuf {
    repo_root().join("examples/quickstart/fraud_xgboost.json")
}

/// The quickstart model built as `fraud`.
fn fraud_component() -> Vec<u8> {
    build_component(&BuildRequest {
        model: &quickstart_model(),
        format: None,
        name: "fraud",
        version: "1",
    })
    .expect("builds")
}

/// A logistic model named `name` over `features` (all numeric), built.
fn linear_component(work: &Path, name: &str, version: &str, features: &[&str]) -> Vec<u8> {
    let path = work.join(format!("{name}-{version}.json"));
    let model = json!({
        "format": "edgescore-linear",
        "format_version": 1,
        "kind": "logistic",
        "feature_names": features,
        "coefficients": vec![0.25; features.len()],
        "intercept": -1.0,
    });
    std::fs::write(&path, model.to_string()).expect("model file");
    build_component(&BuildRequest {
        model: &path,
        format: None,
        name,
        version,
    })
    .expect("builds")
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

/// The version that scored one fraud row with `key`.
fn fraud_scored_by(server: &Server, key: &str, amount: f64) -> (u16, Value) {
    let body = json!({ "rows": [{ "amount": amount, "hour": 3 }], "key": key });
    post(server, "/v1/models/fraud/score", Some(body))
}

fn swaps(server: &Server) -> String {
    server
        .metrics()
        .lines()
        .find(|l| l.starts_with("edgescore_swaps_total{model=\"fraud\"}"))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn routing_changes_survive_a_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = tmp.path().join("registry");
    let component = fraud_component();
    for version in [1, 2, 3] {
        write_version(&registry, "fraud", version, &component);
    }
    let routing_file = registry.join("fraud").join("routing.toml");

    // Rollback: version 3 served, 2 serves; the file says so; a restart agrees.
    let server = start(&registry, tmp.path());
    assert_eq!(server.get("/v1/models/fraud").1["serving"], 3);
    let answer = admin(&server, "/admin/models/fraud/rollback", None);
    assert_eq!(answer["serving"], 2, "{answer}");
    let written = std::fs::read_to_string(&routing_file).expect("routing.toml written");
    assert!(written.contains("primary = 2"), "{written}");
    // The server's own write is not read back as a change: no swap follows.
    let before = swaps(&server);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(swaps(&server), before);
    assert!(server.get("/v1/models/fraud").1["routing_error"].is_null());
    drop(server);

    let server = start(&registry, tmp.path());
    let status = server.get("/v1/models/fraud").1;
    assert_eq!(status["serving"], 2, "the rollback was lost: {status}");
    let (code, scored) = fraud_scored_by(&server, "k", 10.0);
    assert_eq!(code, 200, "{scored}");
    assert_eq!(scored["results"][0]["version"], 2, "{scored}");

    // A routing change: primary, canary and shadow come back as set.
    let answer = admin(
        &server,
        "/admin/models/fraud/routing",
        Some(json!({ "primary": 3, "canary": { "version": 1, "percent": 30 }, "shadow": 2 })),
    );
    assert_eq!(answer["canary"]["version"], 1, "{answer}");
    drop(server);
    let server = start(&registry, tmp.path());
    let status = server.get("/v1/models/fraud").1;
    assert_eq!(status["serving"], 3, "{status}");
    assert_eq!(
        status["canary"],
        json!({ "version": 1, "percent": 30 }),
        "{status}"
    );
    assert_eq!(status["shadow"], 2, "{status}");

    // Promote: the canary is the primary after a restart.
    let answer = admin(&server, "/admin/models/fraud/promote", None);
    assert_eq!(answer["serving"], 1, "{answer}");
    drop(server);
    let server = start(&registry, tmp.path());
    let status = server.get("/v1/models/fraud").1;
    assert_eq!(status["serving"], 1, "{status}");
    assert!(status["canary"].is_null(), "{status}");

    // A hand edit after the server's writes is still read.
    std::fs::write(&routing_file, "primary = 3\n").expect("hand edit");
    wait_for_model(&server, "fraud", "the hand edit", |s| s["serving"] == 3);

    // A change that cannot be written is refused, and nothing changes.
    std::fs::remove_file(&routing_file).expect("rm");
    std::fs::create_dir(&routing_file).expect("a folder where the file goes");
    wait_for_model(&server, "fraud", "the routing folder to be noticed", |s| {
        !s["routing_error"].is_null()
    });
    let (code, answer) = post(&server, "/admin/models/fraud/rollback", None);
    assert_eq!(code, 503, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("routing change was not made")),
        "{answer}"
    );
    assert_eq!(server.get("/v1/models/fraud").1["serving"], 3);
}

#[test]
fn an_automatic_canary_rollback_survives_a_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = tmp.path().join("registry");
    write_version(&registry, "fraud", 1, &fraud_component());
    write_version(&registry, "fraud", 2, &hostile_as_fraud());

    let server = start(&registry, tmp.path());
    let answer = admin(
        &server,
        "/admin/models/fraud/routing",
        Some(json!({ "primary": 1, "canary": { "version": 2, "percent": 50 } })),
    );
    assert_eq!(answer["canary"]["version"], 2, "{answer}");
    // amount = 1 makes the canary loop past its deadline, until it is rolled back.
    for i in 0..200 {
        let (code, body) = fraud_scored_by(&server, &format!("t{i}"), 1.0);
        assert!(code == 200 || code == 500, "{code}: {body}");
    }
    let status = wait_for_model(&server, "fraud", "the automatic rollback", |s| {
        s["canary"].is_null()
    });
    assert_eq!(status["serving"], 1, "{status}");
    // Written after the rollback took effect: wait for the file.
    let routing_file = registry.join("fraud").join("routing.toml");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&routing_file).is_ok_and(|t| t.contains("canary"))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(server);

    let server = start(&registry, tmp.path());
    let status = server.get("/v1/models/fraud").1;
    assert!(
        status["canary"].is_null(),
        "the failing canary is back: {status}"
    );
    assert_eq!(status["serving"], 1, "{status}");
}

#[test]
fn ready_only_while_every_model_serves() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = tmp.path().join("registry");
    write_version(&registry, "fraud", 1, &fraud_component());
    write_version(&registry, "broken", 1, b"not a component");
    write_version(&registry, "broken", 2, b"\0asm truncated");

    let server = start(&registry, tmp.path());
    let (code, body) = server.get("/v2/health/ready");
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["ready"], false, "{body}");
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("model 'broken' has no version serving")
            && reason.contains("version 1 rejected")
            && reason.contains("version 2 rejected")
            && !reason.contains("fraud"),
        "{body}"
    );
    // The model that serves still serves.
    let (code, scored) = fraud_scored_by(&server, "k", 10.0);
    assert_eq!(code, 200, "{scored}");

    // Unloaded on purpose, it is not expected to serve; loaded, it is again.
    admin(&server, "/v2/repository/models/broken/unload", None);
    let (code, body) = server.get("/v2/health/ready");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["ready"], true, "{body}");
    admin(&server, "/v2/repository/models/broken/load", None);
    assert_eq!(server.get("/v2/health/ready").0, 503);

    // A valid version makes the server ready.
    let valid = build_component(&BuildRequest {
        model: &quickstart_model(),
        format: None,
        name: "broken",
        version: "3",
    })
    .expect("builds");
    write_version(&registry, "broken", 3, &valid);
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.get("/v2/health/ready").0 != 200 {
        assert!(
            Instant::now() < deadline,
            "{}",
            server.get("/v2/health/ready").1
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_schema_change_is_rejected_unless_the_routing_allows_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = tmp.path().join("registry");
    let four = ["amount", "hour", "merchant_risk", "card_age_days"];
    let twelve: Vec<String> = (0..12).map(|i| format!("f{i}")).collect();
    let twelve: Vec<&str> = twelve.iter().map(String::as_str).collect();
    write_version(
        &registry,
        "lin",
        1,
        &linear_component(tmp.path(), "lin", "1", &four),
    );

    let server = start(&registry, tmp.path());
    assert_eq!(server.get("/v1/models/lin").1["serving"], 1);
    let row = json!({ "rows": [{ "amount": 1.0, "hour": 2.0, "merchant_risk": 0.5, "card_age_days": 30.0 }] });
    let (code, body) = post(&server, "/v1/models/lin/score", Some(row.clone()));
    assert_eq!(code, 200, "{body}");

    // A hot swap to 12 features: rejected with the reason, version 1 stays.
    write_version(
        &registry,
        "lin",
        2,
        &linear_component(tmp.path(), "lin", "2", &twelve),
    );
    let status = wait_for_model(&server, "lin", "version 2 to be decided", |s| {
        s["versions"].as_array().is_some_and(|v| {
            v.iter()
                .any(|v| v["version"] == 2 && v["status"] != "pending")
        })
    });
    let v2 = status["versions"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["version"] == 2))
        .expect("version 2 listed")
        .clone();
    assert_eq!(v2["status"], "rejected", "{status}");
    let reason = v2["reason"].as_str().expect("reason");
    assert!(
        reason.contains("12 features instead of 4")
            && reason.contains("removed amount")
            && reason.contains("allow_schema_change"),
        "{reason}"
    );
    assert_eq!(status["serving"], 1, "{status}");
    let (code, body) = post(&server, "/v1/models/lin/score", Some(row.clone()));
    assert_eq!(code, 200, "existing clients still served: {body}");
    assert!(
        server
            .metrics()
            .contains("edgescore_rejected_loads_total{model=\"lin\"} 1"),
        "{}",
        server.metrics()
    );
    let (_, index) = post(&server, "/v2/repository/index", None);
    assert!(
        index.as_array().is_some_and(|all| all.iter().any(|v| {
            v["name"] == "lin"
                && v["version"] == "2"
                && v["state"] == "UNAVAILABLE"
                && v["reason"].as_str().is_some_and(|r| r.contains("schema"))
        })),
        "{index}"
    );
    // Naming it in the routing without allowing the change is refused.
    let (code, answer) = post(
        &server,
        "/admin/models/lin/routing",
        Some(json!({ "primary": 2 })),
    );
    assert_eq!(code, 400, "{answer}");

    // A restart decides the same (version order, each against the primary).
    drop(server);
    let server = start(&registry, tmp.path());
    let status = server.get("/v1/models/lin").1;
    assert_eq!(status["serving"], 1, "{status}");

    // Allowed through the admin routing: version 2 loads and serves, and
    // stays so after a restart.
    let answer = admin(
        &server,
        "/admin/models/lin/routing",
        Some(json!({ "allow_schema_change": true })),
    );
    assert_eq!(answer["serving"], 2, "{answer}");
    let body = json!({ "rows": [twelve.iter().map(|f| (f.to_string(), json!(1.0))).collect::<serde_json::Map<_, _>>()] });
    let (code, scored) = post(&server, "/v1/models/lin/score", Some(body));
    assert_eq!(code, 200, "{scored}");
    assert_eq!(scored["results"][0]["version"], 2, "{scored}");
    drop(server);
    let server = start(&registry, tmp.path());
    assert_eq!(server.get("/v1/models/lin").1["serving"], 2);
}
