//! The fraud pipeline end to end, through every path a user takes:
//!
//! - online features (the server, one transaction per request, in time
//!   order) equal offline features (`edgescore transform` over the file);
//! - the scores equal three ways: the server, `edgescore transform` then
//!   `edgescore score --component`, and `edgescore eval --scores`;
//! - `edgescore eval` reports PR-AUC far above the base rate, and the same
//!   ROC-AUC and PR-AUC as scikit-learn computed at training time
//!   (`examples/fraud/model/metrics.json`) on the same held-out fortnight;
//! - review and block decisions land in the alert log, and a webhook that
//!   is down neither fails a request nor loses an alert;
//! - Parquet files written by pandas and pyarrow give the CSV's features
//!   and metrics, and features written as Parquet read back unchanged.
//!
//! - drift against the example's reference profile: the training law stays
//!   stable, tripled amounts cross into `act` with one alert per crossing.
//!
//! `online` holds the first two (and `eval` against scikit-learn), `alerts`
//! the webhook, `parquet` the Parquet files, `drift` the drift.

#[path = "../../examples/fraud/generate.rs"]
mod generate;

mod alerts;
mod drift;
mod online;
mod parquet;

use std::path::{Path, PathBuf};
use std::process::Command;

use edgescore_test_support::server::{Serve, Server};
use serde_json::{Value, json};

fn edgescore(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(args)
        .output()
        .expect("edgescore runs");
    assert!(
        output.status.success(),
        "edgescore {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A server on the embedded demo (the fraud pipeline) with `args`.
fn start(args: &[&str]) -> Server {
    Serve::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(args)
        .start()
}

/// The answer to a pipeline request that must succeed.
fn score(server: &Server, body: &Value) -> Value {
    let (status, answer) = server.post_json("/v1/pipelines/fraud/score", body);
    assert_eq!(status, 200, "{answer}");
    answer
}

/// A small held-out slice of the example's population: after the training
/// period, enough cards for every window to fill and some fraud.
fn holdout(dir: &Path) -> PathBuf {
    let transactions = generate::generate(&generate::Config {
        cards: 150,
        days: 3,
        start_day: 60,
        fraud_rate: 0.02,
        ..generate::Config::default()
    });
    let file = dir.join("holdout.csv");
    generate::write_csv(&transactions, std::fs::File::create(&file).expect("create"))
        .expect("write");
    file
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).expect("csv");
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("row").iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// The generator's columns that are not fields of a transaction (the
/// pipeline refuses fields its transform does not read).
const NOT_FIELDS: [&str; 3] = ["transaction_id", "is_fraud", "pattern"];

/// A CSV row of the generator as the JSON transaction a client would send.
fn transaction(header: &[String], row: &[String]) -> Value {
    let mut object = serde_json::Map::new();
    for (name, cell) in header.iter().zip(row) {
        if cell.is_empty() || NOT_FIELDS.contains(&name.as_str()) {
            continue;
        }
        let value = match name.as_str() {
            "amount" => json!(cell.parse::<f64>().expect("amount")),
            _ => json!(cell),
        };
        object.insert(name.clone(), value);
    }
    Value::Object(object)
}
