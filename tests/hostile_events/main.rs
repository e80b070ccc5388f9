//! The pipeline endpoint (`POST /v1/pipelines/<p>/score` of the demo fraud
//! pipeline) against hostile and careless clients, run as a user runs it
//! (`edgescore serve` without `--registry`, over loopback).
//!
//! - Every kind of bad request or transaction below is answered 4xx with a
//!   message that names what to fix, before anything is transformed: the
//!   server keeps serving, nothing reaches the feature store (a probe
//!   card's velocity features are the same before and after, though every
//!   bad request names that card and most carry a valid transaction too),
//!   nothing reaches the alert log (the valid transaction would be
//!   blocked), and none counts as a model failure in `/metrics`.
//! - The future-timestamp attack: a card that was sent transactions dated
//!   9999-12-31, a week ahead and in microseconds still blocks the gift-card
//!   burst that blocks on a clean card, online and in `edgescore transform`.
//! - One rule for numbers online and offline: a value the server takes,
//!   `edgescore transform` takes to the same bits; one it refuses, the
//!   other refuses.
//!
//! `refused` holds the bad requests, `future` the attack, `values` the
//! one rule.

mod future;
mod refused;
mod values;

use std::path::Path;
use std::process::Command;

use edgescore_models::transform::format_rfc3339_ms;
use edgescore_test_support::server::{Serve, Server};
use serde_json::{Map, Value, json};

/// The demo server (the fraud pipeline) with `args`.
fn start(args: &[&str]) -> Server {
    Serve::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(args)
        .start()
}

/// Status and JSON body of a request to the pipeline.
fn post(server: &Server, body: impl Into<Vec<u8>>) -> (u16, Value) {
    server.post("/v1/pipelines/fraud/score", body)
}

/// The one result of a request to the pipeline that must succeed.
fn score(server: &Server, body: &Value) -> Value {
    let (status, answer) = post(server, body.to_string());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["version"], json!(1), "the version is a number");
    answer["results"][0].clone()
}

fn edgescore(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(args)
        .output()
        .expect("edgescore runs")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// RFC 3339, `seconds` from now (whole seconds).
fn at(seconds: i64) -> String {
    format_rfc3339_ms((now_ms() / 1000 + seconds) * 1000)
}

/// A valid transaction of `card`: small, domestic, at a grocery.
fn grocery(card: &str, timestamp: &str) -> Map<String, Value> {
    json!({
        "timestamp": timestamp,
        "card_id": card,
        "amount": 23.5,
        "merchant_id": "m-grocer",
        "merchant_category": "grocery",
        "channel": "pos",
        "country": "US",
        "home_country": "US",
        "device_id": "d-probe",
    })
    .as_object()
    .expect("object")
    .clone()
}

/// A valid transaction the demo model blocks on its own: a large online
/// electronics purchase abroad.
fn blocked(card: &str) -> Map<String, Value> {
    let mut t = grocery(card, &at(-30));
    t.insert("amount".into(), json!(1450.0));
    t.insert("merchant_category".into(), json!("electronics"));
    t.insert("channel".into(), json!("online"));
    t.insert("country".into(), json!("NG"));
    t
}

const PROBE: &str = "probe";

/// A request of `transactions`.
fn request(transactions: Vec<Map<String, Value>>) -> Vec<u8> {
    json!({ "transactions": transactions })
        .to_string()
        .into_bytes()
}

/// The probe card's valid transaction with `field` set to `value`.
fn with(field: &str, value: Value) -> Map<String, Value> {
    let mut t = grocery(PROBE, &at(-20));
    t.insert(field.into(), value);
    t
}

/// The probe card's valid transaction without `field`.
fn without(field: &str) -> Map<String, Value> {
    let mut t = grocery(PROBE, &at(-20));
    t.remove(field);
    t
}

/// A request whose first transaction would be blocked (so a request
/// processed half way would write the store and the alert log) and whose
/// second is `bad`.
fn after_a_valid_one(bad: Map<String, Value>) -> Vec<u8> {
    request(vec![blocked(PROBE), bad])
}
