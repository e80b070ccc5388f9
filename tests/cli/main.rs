//! The `edgescore` binary, run as a user runs it.
//!
//! - `golden`: every golden case scored by `edgescore score` equals the
//!   reference library, from the original model file, from its compact
//!   encoding and through `edgescore build` + `score --component` (bit for
//!   bit the native scores): one test per case and path;
//! - `scoring`: column matching, atomic and Parquet output, standard
//!   input, a large model within the call deadline, the compiled cache;
//! - `refusals`: bad models and bad inputs give one clear line on stderr
//!   and exit 1, never a panic and never a partial output file;
//! - `components`: bad component files, and transform components told
//!   apart from models;
//! - `drift`: `edgescore profile` and `edgescore drift` on the fraud
//!   pipeline: no drift against its own profile, shifted amounts in
//!   `act`, the HTML page, refusals;
//! - `stream_trust`: `edgescore stream --trust` refuses an unsigned or
//!   tampered pipeline folder with the reason before reaching a broker.

mod bench;
mod components;
mod drift;
mod golden;
mod refusals;
mod scoring;
mod stream_trust;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use edgescore_test_support::repo_root;

/// Runs the `edgescore` binary with `args`; how it ended, with its output.
fn edgescore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(args)
        // Compiled components are cached here, not in the user's cache.
        .env(
            "XDG_CACHE_HOME",
            std::env::temp_dir().join("edgescore-cli-tests"),
        )
        .output()
        .expect("edgescore runs")
}

/// `edgescore score <source> <model> --input <input>`, where `source` is
/// `--model` or `--component`.
fn score_file(source: &str, model: &Path, input: &Path) -> Output {
    edgescore(&["score", source, path_str(model), "--input", path_str(input)])
}

/// Parses the CLI's output CSV: the header, then one number per line.
fn parse_output(what: &str, out: &Output, header: &str) -> Vec<f64> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what}: edgescore failed: {stderr}");
    let text = String::from_utf8(out.stdout.clone()).expect("utf-8 output");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(header), "{what}: output header");
    lines
        .map(|l| {
            l.parse::<f64>()
                .unwrap_or_else(|_| panic!("{what}: '{l}' is not a number"))
        })
        .collect()
}

/// `p` as an argument (the test paths are UTF-8).
fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The quickstart model's features: the header of its transactions.
const QUICKSTART_HEADER: &str = "amount,hour,merchant_risk,card_age_days,txn_count_1h,distance_km,device_new,country_mismatch,velocity_24h,avg_amount_30d,amount_ratio,account_score";

/// The quickstart example's model.
fn quickstart_model() -> PathBuf {
    repo_root().join("examples/quickstart/fraud_xgboost.json")
}

/// The quickstart example's transactions.
fn quickstart_input() -> PathBuf {
    repo_root().join("examples/quickstart/transactions.csv")
}

/// Asserts `out` failed with exit status 1 and one short line on stderr
/// containing every one of `words`; returns the line.
fn one_clear_line(what: &str, out: &Output, words: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    assert!(
        stderr.len() < 2_000,
        "{what}: {} bytes on stderr: {}...",
        stderr.len(),
        &stderr[..200.min(stderr.len())]
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    for word in words {
        assert!(
            stderr.contains(word),
            "{what}: should mention {word:?}: {stderr}"
        );
    }
    stderr
}

/// A small transform spec: a timestamp, a card and an amount in; the amount out.
const TRANSFORM_SPEC: &str = r#"name = "tiny"
version = "3"
time = "ts"

[inputs]
ts = { type = "timestamp", required = true }
card = { type = "text", required = true }
amount = { type = "number" }

[[features]]
name = "amount"
value = "amount"
"#;

/// Builds [`TRANSFORM_SPEC`] into `dir/tiny.wasm`.
fn built_transform(dir: &Path) -> PathBuf {
    let spec = dir.join("tiny.toml");
    std::fs::write(&spec, TRANSFORM_SPEC).expect("write spec");
    let wasm = dir.join("tiny.wasm");
    let built = edgescore(&[
        "build",
        "--transform",
        path_str(&spec),
        "--output",
        path_str(&wasm),
    ]);
    assert!(
        built.status.success(),
        "build --transform: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    wasm
}

/// A Parquet writer of `path` for the message type `schema` (Parquet's
/// schema text, e.g. `message rows { REQUIRED DOUBLE amount; }`).
fn parquet_writer(
    path: &Path,
    schema: &str,
) -> parquet::file::writer::SerializedFileWriter<std::fs::File> {
    let schema = parquet::schema::parser::parse_message_type(schema).expect("schema");
    parquet::file::writer::SerializedFileWriter::new(
        std::fs::File::create(path).expect("create"),
        std::sync::Arc::new(schema),
        std::sync::Arc::new(parquet::file::properties::WriterProperties::builder().build()),
    )
    .expect("writer")
}

/// The quickstart model built into `dir/<name>.wasm`.
fn built_model(dir: &Path, name: &str) -> PathBuf {
    let wasm = dir.join(format!("{name}.wasm"));
    let model = quickstart_model();
    let built = edgescore(&[
        "build",
        "--model",
        path_str(&model),
        "--name",
        name,
        "--version",
        "1",
        "--output",
        path_str(&wasm),
    ]);
    assert!(
        built.status.success(),
        "build --model: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    wasm
}
