//! Drift on the server, against the fraud example's reference profile
//! (`examples/fraud/profile.json`, made by `edgescore profile` on the
//! training data): a fortnight of transactions drawn from the training law,
//! after a week that warms the cards' windows, keeps every feature stable
//! (PSI under 0.1); a week with amounts tripled
//! (the generator's `amount_scale`) drives the amount features past 0.25,
//! with exactly one drift alert per crossing of a threshold, in the alert
//! log and in `/metrics`.

use std::collections::BTreeMap;
use std::path::Path;

use edgescore_test_support::repo_root;
use edgescore_test_support::server::{Serve, Server};
use serde_json::{Value, json};

use crate::generate;

/// The fraud example as version 1 of pipeline `fraud` in a registry, with
/// its reference profile; and as `backfill`, without one, to fill the
/// cards' windows in the feature store both share.
fn registry(root: &Path) {
    let example = repo_root().join("examples/fraud");
    let files = ["pipeline.toml", "transform.toml", "model/xgboost.json"];
    for (name, profile) in [("fraud", true), ("backfill", false)] {
        let version = root.join(name).join("1");
        std::fs::create_dir_all(version.join("model")).expect("folders");
        for file in files.iter().chain(profile.then_some(&"profile.json")) {
            std::fs::copy(example.join(file), version.join(file))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
        }
    }
}

/// The generated transactions as the JSON a client sends.
fn bodies(transactions: &[generate::Transaction]) -> Vec<Value> {
    transactions
        .iter()
        .map(generate::Transaction::to_json)
        .collect()
}

fn send(server: &Server, pipeline: &str, transactions: &[Value]) {
    for chunk in transactions.chunks(100) {
        let path = format!("/v1/pipelines/{pipeline}/score");
        let (status, answer) = server.post_json(&path, &json!({ "transactions": chunk }));
        assert_eq!(status, 200, "{answer}");
    }
}

/// Each feature's PSI and state in the drift report.
fn states(report: &Value) -> BTreeMap<String, (f64, String)> {
    report["features"]
        .as_array()
        .expect("features")
        .iter()
        .chain([&report["score"]])
        .map(|f| {
            (
                f["name"].as_str().expect("name").to_owned(),
                (
                    f["psi"].as_f64().unwrap_or(f64::NAN),
                    f["state"].as_str().expect("state").to_owned(),
                ),
            )
        })
        .collect()
}

/// The drift alerts in the alert log: per feature, the states it crossed
/// into, in order.
fn drift_alerts(log: &Path) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut crossings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let alert: Value = serde_json::from_str(line).expect("JSON lines");
        if alert["kind"] == "drift" {
            crossings
                .entry(alert["feature"].as_str().expect("feature").to_owned())
                .or_default()
                .push(alert["state"].as_str().expect("state").to_owned());
        }
    }
    crossings
}

#[test]
fn shifted_amounts_cross_into_act_once_and_the_training_law_stays_stable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("registry");
    registry(&root);
    // Held-out weeks of the example's cards: the training law, then the
    // same cards spending three times as much.
    let config = |days, start_day, amount_scale| generate::Config {
        cards: 300,
        days,
        start_day,
        amount_scale,
        ..generate::Config::default()
    };
    // A week through `backfill` to fill the cards' windows (the 7-day
    // counts start empty on a fresh server) without entering fraud's drift
    // window, then the fortnight the window holds.
    let warm_up = bodies(&generate::generate(&config(7, 53, 1.0)));
    let normal = bodies(&generate::generate(&config(14, 60, 1.0)));
    let shifted = bodies(&generate::generate(&config(7, 74, 3.0)));
    // The window holds the fortnight, and states are judged on a full one:
    // a window shorter than a week would see some weekdays only.
    let settings = tmp.path().join("serve.toml");
    std::fs::write(
        &settings,
        format!(
            "[drift]\nwindow_events = {}\nmin_events = {}\ncheck_every = 100\n",
            normal.len(),
            normal.len()
        ),
    )
    .expect("config");
    let log = tmp.path().join("alerts.jsonl");
    let server = Serve::new(env!("CARGO_BIN_EXE_edgescore"))
        .args([
            "--registry",
            crate::path(&root),
            "--config",
            crate::path(&settings),
        ])
        .args(["--alert-log", crate::path(&log)])
        .start();

    // The profile is part of the version: its hash is the file's, and the
    // version's hash covers the model's and the profile's.
    let (_, fraud) = server.get("/v1/pipelines/fraud");
    let (_, backfill) = server.get("/v1/pipelines/backfill");
    let sha = edgescore_runtime::digest::sha256_hex;
    let profile = std::fs::read(repo_root().join("examples/fraud/profile.json")).expect("profile");
    assert_eq!(fraud["profile_sha256"], sha(&profile));
    assert!(backfill["profile_sha256"].is_null(), "{backfill}");
    let model = fraud["model_sha256"].as_str().expect("model hash");
    let covered = format!("{model}\n{}", sha(&profile));
    assert_eq!(fraud["version_sha256"], sha(covered.as_bytes()), "{fraud}");

    send(&server, "backfill", &warm_up);
    send(&server, "fraud", &normal);
    let (status, report) = server.get("/v1/pipelines/fraud/drift");
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["window_events"], normal.len());
    let stable = states(&report);
    let drifted: Vec<String> = stable
        .iter()
        .filter(|(_, (psi, state))| psi.is_nan() || *psi >= 0.1 || state != "stable")
        .map(|(name, (psi, state))| format!("{name}: PSI {psi} ({state})"))
        .collect();
    assert!(drifted.is_empty(), "the training law drifted: {drifted:?}");
    assert!(drift_alerts(&log).is_empty(), "{:?}", drift_alerts(&log));

    send(&server, "fraud", &shifted);
    let (_, report) = server.get("/v1/pipelines/fraud/drift");
    let after = states(&report);
    for feature in ["amount", "amount_log"] {
        let (psi, state) = &after[feature];
        assert!(
            *psi >= 0.25 && state == "act",
            "{feature}: PSI {psi} ({state})"
        );
    }
    // One alert per crossing: each feature's alerts climb, never repeat.
    let crossings = drift_alerts(&log);
    for feature in ["amount", "amount_log"] {
        assert_eq!(
            crossings[feature].last().map(String::as_str),
            Some("act"),
            "{crossings:?}"
        );
    }
    for (feature, states) in &crossings {
        let order = |s: &str| ["moderate", "act"].iter().position(|x| *x == s);
        let climbs = states.windows(2).all(|w| order(&w[0]) < order(&w[1]));
        assert!(climbs && states.len() <= 2, "{feature}: {states:?}");
    }
    let metrics = server.metrics();
    for series in [
        "edgescore_drift_psi{pipeline=\"fraud\",version=\"1\",feature=\"amount\"}",
        "edgescore_drift_state{pipeline=\"fraud\",version=\"1\",feature=\"amount\"} 2",
        "edgescore_drift_alerts_total{pipeline=\"fraud\",version=\"1\",feature=\"amount\",state=\"act\"} 1",
    ] {
        assert!(metrics.contains(series), "no {series} in /metrics");
    }
}
