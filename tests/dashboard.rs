//! The analyst dashboard (`edgescore serve` at `/`), end to end in
//! Debian's headless Chromium, against a registry holding the fraud
//! example with its reference profile (`examples/fraud/profile.json`) and
//! a drift window the size of the traffic sent:
//!
//! - the page loads (its scripts and chart library from the binary) with
//!   no console error and its live feed connected;
//! - a transaction the pipeline blocks, POSTed by a real HTTP client, is in
//!   the page's feed (card, "block", score, reasons) within a second of
//!   the answer;
//! - a fortnight of generated transactions drawn from the training law
//!   leaves no feature of the drift panel in "act"; a week of the same
//!   cards spending three times as much turns `amount` to "act" within
//!   seconds.
//!
//! The test leaves a screenshot at `target/dashboard.png` (and, with
//! `EDGESCORE_UPDATE_SCREENSHOT=1`, at `docs/dashboard.png`, the README's).

#[path = "../examples/fraud/generate.rs"]
mod generate;

use std::path::Path;
use std::time::{Duration, Instant};

use edgescore_test_support::chromium::Chromium;
use edgescore_test_support::repo_root;
use edgescore_test_support::server::{Serve, Server};
use serde_json::{Value, json};

/// What the page shows: whether it has a summary and a live feed, the
/// feed's entries and the drift panel's rows.
const SHOWN: &str = r##"
const d = window.edgescoreDashboard;
const drift = d.summary?.pipelines?.find((p) => p.name === "fraud")?.drift;
return {
  loaded: d.summary !== null,
  feed: d.feed,
  errors: d.errors,
  window_events: drift ? drift.window_events : null,
  alerts: Array.from(document.querySelectorAll("#feed li[data-kind=alert]"), (li) => ({
    card: li.dataset.card, decision: li.dataset.decision, text: li.textContent,
  })),
  drift: Array.from(document.querySelectorAll("#drift tbody tr"), (tr) => [tr.dataset.feature, tr.dataset.state]),
};
"##;

/// The fraud example as version 1 of pipeline `fraud` in a registry, with
/// its reference profile, and as pipeline `backfill` without one: the
/// week before the traffic watched goes through `backfill`, so the card
/// windows (the same feature store) are warm when `fraud` sees its first
/// transaction, as they were in training, and its drift window holds
/// only what it is judged on.
fn registry(root: &Path) {
    let example = repo_root().join("examples/fraud");
    assert!(
        example.join("profile.json").is_file(),
        "examples/fraud/profile.json is missing: make it with `edgescore profile --pipeline examples/fraud --input <the training CSV of examples/fraud/train.sh> --output examples/fraud/profile.json`"
    );
    for (name, profiled) in [("fraud", true), ("backfill", false)] {
        let version = root.join(name).join("1");
        std::fs::create_dir_all(version.join("model")).expect("folders");
        let files = ["pipeline.toml", "transform.toml", "model/xgboost.json"];
        for file in files.into_iter().chain(profiled.then_some("profile.json")) {
            std::fs::copy(example.join(file), version.join(file))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
        }
    }
}

/// Generated transactions as the JSON a client sends.
fn transactions(config: &generate::Config) -> Vec<Value> {
    generate::generate(config)
        .iter()
        .map(generate::Transaction::to_json)
        .collect()
}

fn send(server: &Server, pipeline: &str, transactions: &[Value]) {
    for chunk in transactions.chunks(100) {
        let (status, answer) = server.post_json(
            &format!("/v1/pipelines/{pipeline}/score"),
            &json!({ "transactions": chunk }),
        );
        assert_eq!(status, 200, "{answer}");
    }
}

/// Polls what the page shows until `done` holds, for at most `limit`;
/// the last thing shown, and whether `done` held.
fn wait_for(browser: &Chromium, limit: Duration, done: impl Fn(&Value) -> bool) -> (Value, bool) {
    let deadline = Instant::now() + limit;
    loop {
        let shown = browser.execute(SHOWN, &json!([]));
        if done(&shown) {
            return (shown, true);
        }
        if Instant::now() >= deadline {
            return (shown, false);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn states(shown: &Value) -> Vec<(String, String)> {
    shown["drift"]
        .as_array()
        .expect("drift rows")
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap_or_default().to_owned(),
                r[1].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn severe(browser: &Chromium) -> Vec<Value> {
    browser
        .console()
        .into_iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect()
}

#[test]
fn the_dashboard_shows_a_block_at_once_and_drift_turning_to_act() {
    if let Some(why) = Chromium::missing() {
        assert!(!Chromium::required(), "{why}");
        eprintln!("skipped: {why}");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("registry");
    registry(&root);
    // Held-out weeks of 150 of the example's cards: the training law, then
    // the same cards spending three times as much.
    let config = |days, start_day, amount_scale| generate::Config {
        cards: 150,
        days,
        start_day,
        amount_scale,
        ..generate::Config::default()
    };
    let backfill = transactions(&config(7, 53, 1.0));
    let normal = transactions(&config(14, 60, 1.0));
    let shifted = transactions(&config(7, 74, 3.0));
    // The window holds the fortnight: one of a few hundred events would
    // see a day or two, and the weekday and hour features drift by that
    // alone.
    let settings = tmp.path().join("serve.toml");
    std::fs::write(
        &settings,
        format!(
            "[drift]\nwindow_events = {}\nmin_events = {}\ncheck_every = 50\n",
            normal.len(),
            normal.len() / 2
        ),
    )
    .expect("config");
    let log = tmp.path().join("alerts.jsonl");
    let path = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
    let server = Serve::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(["--registry", &path(&root), "--config", &path(&settings)])
        .args(["--alert-log", &path(&log)])
        .start();

    let browser = Chromium::start();
    browser.open(&server.url("/"));
    let (shown, ready) = wait_for(&browser, Duration::from_secs(30), |s| {
        s["loaded"] == true && s["feed"] == "live"
    });
    assert!(ready, "the page did not load and connect its feed: {shown}");
    let errors = severe(&browser);
    assert!(errors.is_empty(), "console errors: {errors:?}");
    assert!(
        !states(&shown).is_empty(),
        "the drift panel has no rows: {shown}"
    );

    // A stolen card used abroad, online, on a new device: blocked.
    let at = edgescore_models::transform::format_rfc3339_ms(
        edgescore_runtime::feature_store::now_ms() - 60_000,
    );
    let stolen = json!({
        "timestamp": at, "card_id": "c-stolen-1", "amount": 1450.0, "merchant_id": "m40511",
        "merchant_category": "electronics", "channel": "online", "country": "NG",
        "home_country": "US", "device_id": "x91",
    });
    let (status, answer) = server.post_json(
        "/v1/pipelines/fraud/score",
        &json!({ "transactions": [stolen] }),
    );
    let answered = Instant::now();
    assert_eq!(status, 200, "{answer}");
    let result = &answer["results"][0];
    assert_eq!(result["decision"], "block", "{answer}");
    let (shown, found) = wait_for(&browser, Duration::from_secs(5), |s| {
        s["alerts"].as_array().is_some_and(|alerts| {
            alerts
                .iter()
                .any(|a| a["card"] == "c-stolen-1" && a["decision"] == "block")
        })
    });
    let took = answered.elapsed();
    assert!(found, "the block is not in the feed: {shown}");
    assert!(
        took < Duration::from_secs(1),
        "the block reached the feed {took:?} after the answer"
    );
    let entry = shown["alerts"]
        .as_array()
        .and_then(|alerts| alerts.iter().find(|a| a["card"] == "c-stolen-1"))
        .expect("the entry");
    let text = entry["text"].as_str().unwrap_or_default();
    let score = format!("{:.3}", result["score"].as_f64().expect("score"));
    assert!(text.contains(&score), "no score {score} in {text:?}");
    for reason in result["reasons"].as_array().expect("reasons") {
        let feature = reason["feature"].as_str().expect("feature");
        assert!(text.contains(feature), "no reason {feature} in {text:?}");
    }
    eprintln!("the block was in the feed {took:?} after the answer");

    // The training law: nothing to act on.
    send(&server, "backfill", &backfill);
    send(&server, "fraud", &normal);
    let (shown, judged) = wait_for(&browser, Duration::from_secs(10), |s| {
        s["window_events"] == normal.len()
            && !states(s).is_empty()
            && states(s).iter().all(|(_, state)| state != "collecting")
    });
    assert!(judged, "the drift panel never judged the window: {shown}");
    let acting: Vec<_> = states(&shown)
        .into_iter()
        .filter(|(_, state)| state == "act")
        .collect();
    assert!(acting.is_empty(), "the training law is in act: {acting:?}");

    // Tripled amounts: `amount` turns to act.
    send(&server, "fraud", &shifted);
    let sent = Instant::now();
    let (shown, acted) = wait_for(&browser, Duration::from_secs(10), |s| {
        states(s)
            .iter()
            .any(|(feature, state)| feature == "amount" && state == "act")
    });
    assert!(acted, "amount never turned to act: {:?}", states(&shown));
    eprintln!(
        "amount in act {:?} after the shifted week was sent: {:?}",
        sent.elapsed(),
        states(&shown)
            .iter()
            .filter(|(_, s)| s != "stable")
            .collect::<Vec<_>>()
    );
    let errors = severe(&browser);
    assert!(errors.is_empty(), "console errors: {errors:?}");
    assert_eq!(shown["errors"], json!([]), "the page's errors");

    // The summary the page reads.
    let (status, summary) = server.get("/v1/dashboard");
    assert_eq!(status, 200, "{summary}");
    let fraud = summary["pipelines"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "fraud"))
        .expect("pipeline fraud");
    let decided: u64 = ["allow", "review", "block"]
        .iter()
        .map(|d| fraud["decisions"][d].as_u64().expect("a count"))
        .sum();
    assert_eq!(
        decided as usize,
        1 + normal.len() + shifted.len(),
        "{fraud}"
    );
    let latency = |p: &str| fraud["latency"][p].as_f64().expect("a latency");
    assert!(
        latency("p50_ms") > 0.0 && latency("p99_ms") >= latency("p50_ms"),
        "{}",
        fraud["latency"]
    );
    assert_eq!(fraud["drift"]["pipeline"], "fraud");
    assert!(
        summary["swaps"]
            .as_array()
            .expect("swaps")
            .iter()
            .any(|s| s["model"] == "fraud" && s["from"].is_null() && s["to"] == 1),
        "{summary}"
    );
    assert_eq!(summary["feed"]["subscribers"], 1, "{summary}");
    assert_eq!(summary["feed"]["dropped"], 0, "{summary}");

    // A second for the charts to draw the last summary.
    std::thread::sleep(Duration::from_millis(1500));
    let png = browser.screenshot();
    std::fs::write(repo_root().join("target/dashboard.png"), &png).expect("screenshot");
    if std::env::var_os("EDGESCORE_UPDATE_SCREENSHOT").is_some_and(|v| v == "1") {
        std::fs::write(repo_root().join("docs/dashboard.png"), &png).expect("screenshot");
    }
    eprintln!(
        "{} normal and {} shifted transactions in Chromium {}",
        normal.len(),
        shifted.len(),
        browser.version
    );
}
