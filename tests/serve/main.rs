//! `edgescore serve`, run as a user runs it and called by a real HTTP client
//! over loopback (`edgescore_test_support::server`).
//!
//! - `apis`: scores over both APIs equal the native model's, bit for bit,
//!   contributions by name too; a corpus of malformed requests gets only
//!   4xx JSON errors, and the server keeps serving;
//! - `swaps`: versions swap under concurrent load without one failed
//!   request, every response names a version that was serving at the time,
//!   a bad version never replaces a good one, and versions written to disk
//!   are picked up from file-system events;
//! - `routing`: canary split by key, promote, rollback, shadow, and the
//!   automatic rollback of a failing canary;
//! - `backends`: the native backend and dynamic batching as `[models.<m>]`
//!   sets them: shared batches keep every row's bits, a bad row costs only
//!   its own request, and what cannot be served is refused with the key;
//! - `connections`: slow clients are cut off; SIGTERM drains;
//! - `signatures`: with trust roots, unsigned, untrusted, tampered,
//!   revoked and expired versions are refused with the reason under load,
//!   and the audit log records who did what;
//! - `tritonclient`: Triton's Python client works unchanged;
//! - `golden`: every golden case through `/v1` and through V2 FP64 tensors
//!   sent by Triton's client, one test per case and path.

mod apis;
mod backends;
mod connections;
mod golden;
mod routing;
mod signatures;
mod swaps;
mod tritonclient;

use std::path::{Path, PathBuf};
use std::time::Duration;

use edgescore_runtime::component_build::{BuildRequest, build_component};
use edgescore_test_support::repo_root;
use edgescore_test_support::server::{Serve, Server};
use serde_json::{Value, json};

const TOKEN: &str = "test-admin-token";

/// `edgescore serve` with the admin token set, its compiled cache in
/// `cache`, five seconds to drain when dropped.
fn serve(cache: &Path) -> Serve {
    let mut serve = Serve::new(env!("CARGO_BIN_EXE_edgescore"));
    serve
        .env("EDGESCORE_ADMIN_TOKEN", TOKEN)
        .env("XDG_CACHE_HOME", cache)
        .grace(Duration::from_secs(5));
    serve
}

fn quickstart_model() -> PathBuf {
    repo_root().join("examples/quickstart/fraud_xgboost.json")
}

/// The quickstart rows, row-major, NaN for empty cells.
fn quickstart_rows() -> (Vec<String>, Vec<f64>) {
    let text = std::fs::read_to_string(repo_root().join("examples/quickstart/transactions.csv"))
        .expect("transactions");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_owned)
        .collect();
    let rows = lines
        .flat_map(|l| {
            l.split(',')
                .map(|c| c.parse::<f64>().unwrap_or(f64::NAN))
                .collect::<Vec<_>>()
        })
        .collect();
    (header, rows)
}

/// Rows as `/v1` objects: named features, a missing key for a missing value.
fn row_objects(header: &[String], rows: &[f64]) -> Vec<Value> {
    rows.chunks(header.len())
        .map(|row| {
            let object: serde_json::Map<String, Value> = header
                .iter()
                .zip(row)
                .filter(|(_, v)| !v.is_nan())
                .map(|(name, &v)| (name.clone(), json!(v)))
                .collect();
            Value::Object(object)
        })
        .collect()
}

/// A registry with the quickstart model as `fraud` version 1 (and whatever
/// `before_start` adds), and a server on it with `config` as its TOML.
struct Fixture {
    // Declared first so it drops first: the server stops before its folder goes.
    server: Server,
    registry: PathBuf,
    component: Vec<u8>,
    _tmp: tempfile::TempDir,
}

impl Fixture {
    fn start(config: &str, before_start: impl FnOnce(&Path, &[u8])) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let registry = tmp.path().join("registry");
        let component = registry_with_fraud(&registry);
        before_start(&registry, &component);
        let mut serve = serve(&tmp.path().join("cache"));
        serve.arg("--registry").arg(&registry);
        if !config.is_empty() {
            let path = tmp.path().join("serve.toml");
            std::fs::write(&path, config).expect("config");
            serve.arg("--config").arg(path);
        }
        Self {
            server: serve.start(),
            registry,
            component,
            _tmp: tmp,
        }
    }
}

/// A registry folder with the quickstart model as `fraud` version 1.
fn registry_with_fraud(dir: &Path) -> Vec<u8> {
    let component = build_component(&BuildRequest {
        model: &quickstart_model(),
        format: None,
        name: "fraud",
        version: "1",
    })
    .expect("builds");
    write_version(dir, 1, &component);
    component
}

/// Writes `<dir>/fraud/<version>/model.wasm` the documented way: another
/// name, then an atomic rename.
fn write_version(dir: &Path, version: u64, bytes: &[u8]) {
    let folder = dir.join("fraud").join(version.to_string());
    std::fs::create_dir_all(&folder).expect("mkdir");
    let tmp = folder.join("model.wasm.tmp");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, folder.join("model.wasm")).expect("rename");
}

/// An admin call with the token that must succeed; its answer.
fn admin_post(server: &Server, path: &str, body: Option<Value>) -> Value {
    let (status, text) = server.request(
        "POST",
        path,
        &[
            ("authorization", &format!("Bearer {TOKEN}")),
            ("content-type", "application/json"),
        ],
        body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    );
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).expect("json")
}

/// The version that scored a request with `key` (`None`: no key).
fn scored_by(server: &Server, key: Option<&str>, amount: f64) -> (u16, Value) {
    let mut body = json!({ "rows": [{ "amount": amount, "hour": 3 }] });
    if let Some(key) = key {
        body["key"] = json!(key);
    }
    server.post_json("/v1/models/fraud/score", &body)
}
