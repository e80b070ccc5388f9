//! The Grafana dashboard (`deploy/grafana/edgescore.json`) queries only
//! metrics that exist.
//!
//! - It is dashboard JSON over one Prometheus datasource variable: every
//!   panel's queries go to `${DS_PROMETHEUS}`, every query is non-empty.
//! - Every metric name its queries use (targets and variables, read by
//!   `edgescore_test_support::grafana`) is in the `/metrics` of a live
//!   `edgescore serve`, made to export each one: the fraud pipeline with
//!   its reference profile and a small drift window (shifted amounts raise
//!   a drift alert), a version swapped in, a model with a shadow, a canary
//!   that fails and is rolled back, a version that fails validation and a
//!   bad request. The stream's names (`edgescore_stream_*`) are held to a
//!   live stream's `/metrics` in `tests/stream/resilience.rs`.

#[path = "../examples/fraud/generate.rs"]
mod generate;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use edgescore_models::Model;
use edgescore_runtime::component_build::{BuildRequest, build_component};
use edgescore_runtime::manifest_section;
use edgescore_test_programs as guests;
use edgescore_test_support::grafana;
use edgescore_test_support::repo_root;
use edgescore_test_support::server::{Serve, Server};
use serde_json::{Value, json};

const TOKEN: &str = "grafana-test-token";

/// The prefix of the names only a stream exports.
const STREAM: &str = "edgescore_stream_";

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Whether `expr`'s brackets pair up, outside its string literals.
fn balanced(expr: &str) -> bool {
    let mut open = Vec::new();
    let mut quote = None;
    let mut escaped = false;
    for c in expr.chars() {
        if let Some(q) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                _ if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '[' | '{' => open.push(c),
            ')' | ']' | '}' => {
                let pair = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if open.pop() != Some(pair) {
                    return false;
                }
            }
            _ => {}
        }
    }
    open.is_empty() && quote.is_none()
}

#[test]
fn the_dashboard_is_grafana_json_over_one_prometheus_datasource() {
    let dashboard = grafana::dashboard();
    assert!(
        dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 36),
        "schemaVersion {}",
        dashboard["schemaVersion"]
    );
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("templating variables");
    assert!(
        variables.iter().any(|v| v["name"] == "DS_PROMETHEUS"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "no Prometheus datasource variable DS_PROMETHEUS"
    );
    for name in ["model", "pipeline"] {
        assert!(
            variables
                .iter()
                .any(|v| v["name"] == name && v["type"] == "query"),
            "no variable {name}"
        );
    }
    let datasource = json!({ "type": "prometheus", "uid": "${DS_PROMETHEUS}" });
    let mut ids = BTreeSet::new();
    let mut rows = Vec::new();
    let panels = dashboard["panels"].as_array().expect("panels");
    for panel in panels {
        let title = panel["title"].as_str().expect("every panel has a title");
        assert!(
            ids.insert(panel["id"].as_u64().expect("id")),
            "{title}: id repeated"
        );
        let grid = &panel["gridPos"];
        let (x, w) = (grid["x"].as_u64(), grid["w"].as_u64());
        assert!(
            matches!((x, w), (Some(x), Some(w)) if w > 0 && x + w <= 24),
            "{title}: gridPos {grid}"
        );
        if panel["type"] == "row" {
            rows.push(title.to_owned());
            continue;
        }
        assert_eq!(panel["datasource"], datasource, "{title}");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        for target in targets {
            assert_eq!(target["datasource"], datasource, "{title}");
            let expr = target["expr"].as_str().unwrap_or_default();
            assert!(!expr.trim().is_empty(), "{title}: empty query");
            assert!(balanced(expr), "{title}: brackets do not pair in {expr}");
            assert!(
                !grafana::metric_names(expr).is_empty(),
                "{title}: {expr} uses no edgescore metric"
            );
        }
    }
    assert_eq!(
        rows,
        ["Scoring", "Pipelines", "Drift", "Rollout", "Stream"],
        "the rows"
    );
    let names = grafana::dashboard_metrics();
    assert!(
        names.iter().any(|n| n.starts_with(STREAM)) && names.iter().any(|n| !n.starts_with(STREAM)),
        "{names:?}"
    );
}

/// The fraud example as a pipeline version in `dir`, with its profile.
fn fraud_version(dir: &Path) {
    let example = repo_root().join("examples/fraud");
    std::fs::create_dir_all(dir.join("model")).expect("folders");
    for file in [
        "pipeline.toml",
        "transform.toml",
        "profile.json",
        "model/xgboost.json",
    ] {
        std::fs::copy(example.join(file), dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

/// Writes `<registry>/quick/<version>/model.wasm`: another name, then a rename.
fn quick_version(registry: &Path, version: u64, bytes: &[u8]) {
    let folder = registry.join("quick").join(version.to_string());
    std::fs::create_dir_all(&folder).expect("mkdir");
    let tmp = folder.join("model.wasm.tmp");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, folder.join("model.wasm")).expect("rename");
}

fn quickstart_model() -> std::path::PathBuf {
    repo_root().join("examples/quickstart/fraud_xgboost.json")
}

/// The hostile test program as model `quick`, with the quickstart
/// model's features: a row whose first value (`amount`) is 1 loops until
/// the call deadline, any other scores (one score per value).
fn hostile_as_quick() -> Vec<u8> {
    let model =
        Model::from_bytes(&std::fs::read(quickstart_model()).expect("model"), None).expect("loads");
    let mut bytes = guests::HOSTILE_COMPONENT.to_vec();
    let features = model.feature_names().expect("names");
    manifest_section::append(
        &mut bytes,
        &guests::stand_in_manifest("quick", "hostile", features),
    );
    bytes
}

/// An admin call that must succeed; its answer.
fn admin_post(server: &Server, path: &str, body: &Value) -> Value {
    let (status, text) = server.request(
        "POST",
        path,
        &[
            ("authorization", &format!("Bearer {TOKEN}")),
            ("content-type", "application/json"),
        ],
        body.to_string().into_bytes(),
    );
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).expect("json")
}

/// `/metrics` once it has a line starting with `series`.
fn metrics_once(server: &Server, series: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = server.metrics();
        if text.lines().any(|l| l.starts_with(series)) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no {series} in /metrics within a minute:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Generated transactions as the pipeline reads them, amounts times
/// `scale`.
fn transaction(t: &generate::Transaction, scale: f64) -> Value {
    let mut fields = t.to_json();
    fields["amount"] = json!((t.amount * scale * 100.0).round() / 100.0);
    fields
}

fn send(server: &Server, transactions: &[Value]) {
    for chunk in transactions.chunks(20) {
        let (status, answer) = server.post_json(
            "/v1/pipelines/fraud/score",
            &json!({ "transactions": chunk }),
        );
        assert_eq!(status, 200, "{answer}");
    }
}

#[test]
fn every_metric_the_dashboard_queries_is_exported_by_a_live_server() {
    // The stream's names are held to a live stream in tests/stream/resilience.rs.
    let serve_side: Vec<String> = grafana::dashboard_metrics()
        .into_iter()
        .filter(|n| !n.starts_with(STREAM))
        .collect();
    assert!(
        !serve_side.is_empty(),
        "the dashboard queries no server metric"
    );

    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = tmp.path().join("registry");
    fraud_version(&registry.join("fraud/1"));
    let quick = build_component(&BuildRequest {
        model: &quickstart_model(),
        format: None,
        name: "quick",
        version: "1",
    })
    .expect("builds");
    quick_version(&registry, 1, &quick);
    quick_version(&registry, 2, &hostile_as_quick());
    quick_version(&registry, 3, &quick);
    // A drift window small enough for a test: states judged from 100
    // events, every 20.
    let config = tmp.path().join("serve.toml");
    std::fs::write(
        &config,
        "poll_interval_ms = 200\nsettle_ms = 200\n\n\
         [drift]\nwindow_events = 200\nmin_events = 100\ncheck_every = 20\n",
    )
    .expect("config");
    let server = Serve::new(env!("CARGO_BIN_EXE_edgescore"))
        .env("EDGESCORE_ADMIN_TOKEN", TOKEN)
        .env("XDG_CACHE_HOME", tmp.path().join("cache"))
        .args(["--registry", path(&registry), "--config", path(&config)])
        .args(["--alert-log", path(&tmp.path().join("alerts.jsonl"))])
        .grace(Duration::from_secs(5))
        .start();

    // Model `quick`: version 1 serves, version 3 (the same model) shadows
    // it, and is compared...
    let routing = "/admin/models/quick/routing";
    let answer = admin_post(&server, routing, &json!({ "primary": 1, "shadow": 3 }));
    assert_eq!(answer["shadow"], 3, "{answer}");
    for i in 0..10 {
        let body = json!({ "rows": [{ "amount": 10.0 + f64::from(i), "hour": 3 }] });
        let (status, answer) = server.post_json("/v1/models/quick/score", &body);
        assert_eq!(status, 200, "{answer}");
    }
    metrics_once(
        &server,
        "edgescore_shadow_max_abs_difference{model=\"quick\"}",
    );
    // ...then the hostile version 2 is a canary that fails (amount 1 loops
    // past the deadline) until it is rolled back.
    admin_post(
        &server,
        routing,
        &json!({ "primary": 1, "canary": { "version": 2, "percent": 50 } }),
    );
    for i in 0..400 {
        let body = json!({ "rows": [{ "amount": 1.0, "hour": 3 }], "key": format!("k{i}") });
        let (status, answer) = server.post_json("/v1/models/quick/score", &body);
        assert!(status == 200 || status == 500, "{status}: {answer}");
        if server.get("/v1/models/quick").1["canary"].is_null() {
            break;
        }
    }
    metrics_once(&server, "edgescore_canary_rollbacks_total{model=\"quick\"}");
    // A version that fails validation.
    quick_version(&registry, 4, b"not a component");
    metrics_once(&server, "edgescore_rejected_loads_total{model=\"quick\"}");

    // Pipeline `fraud`: the training law, then amounts five times larger,
    // which drift and draw review and block decisions.
    let generated = generate::generate(&generate::Config {
        cards: 150,
        days: 3,
        start_day: 60,
        fraud_rate: 0.02,
        ..generate::Config::default()
    });
    assert!(generated.len() >= 700, "only {} generated", generated.len());
    let (normal, shifted) = generated.split_at(300);
    let normal: Vec<Value> = normal.iter().map(|t| transaction(t, 1.0)).collect();
    let shifted: Vec<Value> = shifted.iter().map(|t| transaction(t, 5.0)).collect();
    send(&server, &normal);
    send(&server, &shifted[..300]);
    metrics_once(&server, "edgescore_drift_alerts_total{pipeline=\"fraud\"");
    // A bad request: an error by kind.
    let (status, answer) = server.post_json(
        "/v1/pipelines/fraud/score",
        &json!({ "transactions": [{ "amount": "twelve" }] }),
    );
    assert_eq!(status, 400, "{answer}");
    // Version 2 of the pipeline, swapped in while serving.
    let staging = tmp.path().join("staging");
    fraud_version(&staging);
    std::fs::rename(&staging, registry.join("fraud/2")).expect("rename");
    metrics_once(&server, "edgescore_swaps_total{model=\"fraud\"} 2");
    send(&server, &shifted[300..400]);

    let text = metrics_once(
        &server,
        "edgescore_requests_total{model=\"fraud\",version=\"2\"",
    );
    assert!(
        ["review", "block"]
            .iter()
            .any(|d| text.contains(&format!("pipeline=\"fraud\",decision=\"{d}\""))),
        "no review or block decision:\n{text}"
    );
    let missing = grafana::missing(&serve_side, &text);
    assert!(
        missing.is_empty(),
        "the dashboard queries what the server does not export: {missing:#?}\n{text}"
    );
}
