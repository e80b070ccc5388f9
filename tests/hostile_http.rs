//! `edgescore serve` against hostile HTTP clients, run as a user runs it
//! and called over loopback (a real HTTP client; a raw socket where the
//! client must misbehave).
//!
//! Each request below once crashed the server, held gigabytes, or was
//! answered wrongly: shapes far larger than their data (or overflowing
//! `usize`), a body of 1.3 million empty rows, `Expect: 100-continue` with a
//! huge length. Each is now a 4xx naming what to fix; the server keeps
//! serving and stays small. With them: a taken port reported before the
//! registry is read, alert-log errors naming the file, no alert log until
//! an alert, a crashed demo server's folder removed by the next one, folders
//! that are not versions listed with why, and the listings
//! (`GET /v1/models`, `GET /v1/pipelines/<p>`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use edgescore_runtime::component_build::{BuildRequest, build_component};
use edgescore_test_support::repo_root;
use serde_json::{Value, json};

/// The server's default `max_rows_per_request`.
const MAX_ROWS: usize = 10_000;
/// Resident memory the server may hold after the whole suite.
const MAX_RSS_BYTES: u64 = 200 << 20;

/// A running `edgescore serve`; stopped (SIGTERM, then killed) on drop.
struct Server {
    child: Child,
    url: String,
}

/// How to start a server besides its arguments.
#[derive(Default)]
struct Setup<'a> {
    /// The working folder (where a default alert log would appear).
    cwd: Option<&'a Path>,
    /// `TMPDIR` (where the demo registry goes).
    tmpdir: Option<&'a Path>,
    /// `XDG_CACHE_HOME` (the compiled cache); the user's own when `None`.
    cache: Option<&'a Path>,
    /// Standard error to this file rather than the test's.
    stderr: Option<&'a Path>,
}

impl Server {
    /// Starts the server on a free port with `args`.
    fn start(args: &[&str], setup: &Setup<'_>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_edgescore"));
        command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped());
        if let Some(cwd) = setup.cwd {
            command.current_dir(cwd);
        }
        if let Some(tmpdir) = setup.tmpdir {
            command.env("TMPDIR", tmpdir);
        }
        if let Some(cache) = setup.cache {
            command.env("XDG_CACHE_HOME", cache);
        }
        match setup.stderr {
            Some(path) => command.stderr(std::fs::File::create(path).expect("stderr file")),
            None => command.stderr(Stdio::inherit()),
        };
        let mut child = command.spawn().expect("edgescore serve starts");
        let url = edgescore_test_support::served::announced_url(&mut child);
        Self { child, url }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// `host:port`.
    fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Resident memory now (VmRSS of /proc/<pid>/status).
    fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS in {status}"));
        kib * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        edgescore_test_support::served::stop_gracefully(&mut self.child, Duration::from_secs(10));
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// Status and JSON body (a string when it is not JSON) of a request.
fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Value) {
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(body).expect("request builds");
    match agent.run(request) {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_string().unwrap_or_default();
            let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            (status, value)
        }
        Err(e) => (0, Value::String(format!("transport error: {e}"))),
    }
}

fn get(agent: &ureq::Agent, url: &str) -> (u16, Value) {
    call(agent, "GET", url, &[], Vec::new())
}

fn post(agent: &ureq::Agent, url: &str, body: impl Into<Vec<u8>>) -> (u16, Value) {
    call(
        agent,
        "POST",
        url,
        &[("content-type", "application/json")],
        body.into(),
    )
}

/// A V2 binary request: the JSON header, then `data`.
fn post_binary(agent: &ureq::Agent, url: &str, header: &Value, data: &[u8]) -> (u16, Value) {
    let header = header.to_string();
    let length = header.len().to_string();
    let mut body = header.into_bytes();
    body.extend_from_slice(data);
    call(
        agent,
        "POST",
        url,
        &[
            ("content-type", "application/octet-stream"),
            ("inference-header-content-length", &length),
        ],
        body,
    )
}

/// Sends a request's head with `Expect: 100-continue` on a raw socket and
/// returns what the server answers before any body is sent (up to the end
/// of its first final response, or of the connection). When the server
/// answers `100 Continue`, `body` follows and the final response is read.
fn expect_continue(addr: &str, path: &str, length: u64, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {length}\r\nexpect: 100-continue\r\n\r\n"
    )
    .expect("sends the head");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 8192];
    let mut sent_body = false;
    loop {
        let text = String::from_utf8_lossy(&answer).into_owned();
        if !sent_body && text.starts_with("HTTP/1.1 100 Continue\r\n\r\n") {
            stream.write_all(body).expect("sends the body");
            sent_body = true;
        }
        // A complete final response: its head, then content-length bytes.
        let final_start = if text.starts_with("HTTP/1.1 100") {
            text.find("\r\n\r\n").map_or(usize::MAX, |i| i + 4)
        } else {
            0
        };
        if let Some(head) = text.get(final_start..)
            && let Some(end) = head.find("\r\n\r\n")
        {
            let length = head[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok());
            if length.is_some_and(|n| head.len() >= end + 4 + n) {
                return text;
            }
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return text,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
        }
    }
}

/// The quickstart model built as `fraud` version 1 into `<registry>/fraud/1`.
fn registry_with_fraud(registry: &Path) {
    let component = build_component(&BuildRequest {
        model: &repo_root().join("examples/quickstart/fraud_xgboost.json"),
        format: None,
        name: "fraud",
        version: "1",
    })
    .expect("builds");
    let folder = registry.join("fraud").join("1");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(folder.join("model.wasm.tmp"), component).expect("write");
    std::fs::rename(folder.join("model.wasm.tmp"), folder.join("model.wasm")).expect("rename");
}

/// Asserts a 4xx status and an error message holding each of `says`.
#[track_caller]
fn check_refused(what: &str, (status, body): (u16, Value), expected: u16, says: &[&str]) {
    let error = body["error"].as_str().unwrap_or_default();
    assert_eq!(status, expected, "{what}: {body}");
    for part in says {
        assert!(error.contains(part), "{what}: '{part}' not in: {error}");
    }
}

/// A JSON array of `n` zeros.
fn zeros(n: usize) -> String {
    let mut text = String::with_capacity(2 * n + 2);
    text.push('[');
    for i in 0..n {
        if i > 0 {
            text.push(',');
        }
        text.push('0');
    }
    text.push(']');
    text
}

fn infer_body(shape: &str, data: &str) -> String {
    format!(
        r#"{{"inputs":[{{"name":"features","shape":{shape},"datatype":"FP32","data":{data}}}]}}"#
    )
}

/// Every hostile request of the suite against one server on a model
/// registry (with folders that are not versions): each answered with the
/// 4xx that names the mismatch or the limit; then the server still scores,
/// wrote no alert log, logged each ignored folder once, and is small.
#[test]
fn hostile_requests_are_refused_and_the_server_stays_small() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = tmp.path().join("registry");
    registry_with_fraud(&registry);
    for folder in ["latest", "010", "1.5"] {
        std::fs::create_dir_all(registry.join("fraud").join(folder)).expect("mkdir");
    }
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    let log = tmp.path().join("server.log");
    let server = Server::start(
        &["--registry", registry.to_str().expect("utf-8")],
        &Setup {
            cwd: Some(&work),
            cache: Some(&tmp.path().join("cache")),
            stderr: Some(&log),
            ..Setup::default()
        },
    );
    let agent = agent();
    let infer = server.url("/v2/models/fraud/infer");
    let score = server.url("/v1/models/fraud/score");
    let width = 12;

    // Shapes far beyond their data: once an abort (108 GB allocation) and a
    // panic (capacity overflow). Refused before anything is allocated.
    check_refused(
        "the issue's shape, wrong width too",
        post(&agent, &infer, infer_body("[1000000000,27]", "[0]")),
        400,
        &["[1000000000, 27]", "[rows, 12]"],
    );
    check_refused(
        "a billion rows, one value",
        post(&agent, &infer, infer_body("[1000000000,12]", "[0]")),
        400,
        &["[1000000000, 12]", "12000000000 values", "data has 1"],
    );
    check_refused(
        "a shape whose byte count overflows",
        post(&agent, &infer, infer_body("[683212743470724133,12]", "[0]")),
        400,
        &["[683212743470724133, 12]", "data has 1"],
    );
    check_refused(
        "a shape whose value count overflows",
        post(
            &agent,
            &infer,
            infer_body("[9223372036854775807,12]", "[0]"),
        ),
        400,
        &["more values than can exist", "data has 1"],
    );
    check_refused(
        "an overflowing shape in binary",
        post_binary(
            &agent,
            &infer,
            &json!({"inputs": [{"name": "features", "shape": [683212743470724133_i64, width], "datatype": "FP32", "parameters": {"binary_data_size": 4}}]}),
            &[0; 4],
        ),
        400,
        &["more bytes than can exist", "4 bytes were sent"],
    );
    check_refused(
        "a binary shape larger than its bytes",
        post_binary(
            &agent,
            &infer,
            &json!({"inputs": [{"name": "features", "shape": [1000000000, width], "datatype": "FP64", "parameters": {"binary_data_size": 96}}]}),
            &[0; 96],
        ),
        400,
        &["96000000000 bytes", "96 bytes were sent"],
    );
    check_refused(
        "a negative row count",
        post(&agent, &infer, infer_body("[-1,12]", "[0]")),
        400,
        &["[-1, 12]"],
    );
    check_refused(
        "fewer rows declared than sent",
        post(&agent, &infer, infer_body("[1,12]", &zeros(24))),
        400,
        &["12 values", "data has 24"],
    );

    // Rows beyond max_rows_per_request, with data that matches: 413.
    let limit_says = ["10000 rows", "max_rows_per_request"];
    check_refused(
        "V2 JSON over the row limit",
        post(
            &agent,
            &infer,
            infer_body(
                &format!("[{},12]", MAX_ROWS + 1),
                &zeros((MAX_ROWS + 1) * width),
            ),
        ),
        413,
        &limit_says,
    );
    check_refused(
        "V2 binary over the row limit",
        post_binary(
            &agent,
            &infer,
            &json!({"inputs": [{"name": "features", "shape": [MAX_ROWS + 1, width], "datatype": "FP32", "parameters": {"binary_data_size": (MAX_ROWS + 1) * width * 4}}]}),
            &vec![0; (MAX_ROWS + 1) * width * 4],
        ),
        413,
        &limit_says,
    );
    let (status, body) = post(
        &agent,
        &infer,
        infer_body(&format!("[{MAX_ROWS},12]"), &zeros(MAX_ROWS * width)),
    );
    assert_eq!(status, 200, "V2 at the row limit: {body}");
    assert_eq!(body["outputs"][0]["shape"], json!([MAX_ROWS]));

    // 1.3 million empty rows in 3.9 MB (under the 4 MiB body limit): once
    // 1.9 GB resident. Counting stops at the limit.
    let mut many = String::with_capacity(4 << 20);
    many.push_str(r#"{"rows":["#);
    for i in 0..1_300_000 {
        many.push_str(if i == 0 { "{}" } else { ",{}" });
    }
    many.push_str("]}");
    assert!(many.len() < 4 << 20, "{}", many.len());
    for _ in 0..3 {
        check_refused(
            "/v1 with 1.3 million empty rows",
            post(&agent, &score, many.clone()),
            413,
            &limit_says,
        );
    }
    drop(many);
    let rows = |n: usize| format!(r#"{{"rows":[{}]}}"#, vec!["{}"; n].join(","));
    check_refused(
        "/v1 one row over the limit",
        post(&agent, &score, rows(MAX_ROWS + 1)),
        413,
        &limit_says,
    );
    let (status, body) = post(&agent, &score, rows(MAX_ROWS));
    assert_eq!(status, 200, "/v1 at the row limit: {body}");
    assert_eq!(body["results"].as_array().map(Vec::len), Some(MAX_ROWS));
    assert_eq!(body["results"][0]["version"], 1, "a number");
    check_refused(
        "/v1 with a repeated field",
        post(&agent, &score, r#"{"rows":[{}],"key":"a","key":"b"}"#),
        400,
        &["duplicate field `key`"],
    );
    check_refused(
        "/v1 without rows",
        post(&agent, &score, r#"{"key":"a"}"#),
        400,
        &["missing field `rows`"],
    );

    // Expect: 100-continue with a length over max_body_bytes: a 413 and no
    // 100, so the client never sends the body.
    for path in [
        "/v2/models/fraud/infer",
        "/v1/models/fraud/score",
        "/v1/pipelines/fraud/score",
        "/no/such/route",
    ] {
        let answer = expect_continue(server.addr(), path, 1 << 40, b"");
        assert!(
            answer.starts_with("HTTP/1.1 413") && answer.contains("max_body_bytes"),
            "{path}: {answer}"
        );
        assert!(!answer.contains("100 Continue"), "{path}: {answer}");
    }
    // Within the limit, the client is told to continue and is answered.
    let body = r#"{"rows":[{"amount":12.5}]}"#;
    let answer = expect_continue(
        server.addr(),
        "/v1/models/fraud/score",
        body.len() as u64,
        body.as_bytes(),
    );
    assert!(
        answer.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200"),
        "{answer}"
    );

    // Folders that are not versions: listed with why.
    let (status, model) = get(&agent, &server.url("/v1/models/fraud"));
    assert_eq!(status, 200, "{model}");
    assert_eq!(model["serving"], 1, "{model}");
    let reason = "version folders are positive integers without leading zeros";
    assert_eq!(
        model["ignored"],
        json!([
            { "folder": "010", "reason": reason },
            { "folder": "1.5", "reason": reason },
            { "folder": "latest", "reason": reason },
        ]),
        "{model}"
    );

    // The listings; versions are numbers on /v1, strings only where the
    // Open Inference Protocol says so.
    let (status, listing) = get(&agent, &server.url("/v1/models"));
    assert_eq!(status, 200, "{listing}");
    let features = model["features"].clone();
    assert_eq!(features.as_array().map(Vec::len), Some(width), "{model}");
    assert_eq!(
        listing,
        json!({ "models": [{ "name": "fraud", "kind": "model", "serving": 1, "features": features }] })
    );
    check_refused(
        "a model is not a pipeline",
        get(&agent, &server.url("/v1/pipelines/fraud")),
        404,
        &["'fraud' is a model, not a pipeline"],
    );
    check_refused(
        "no such pipeline",
        get(&agent, &server.url("/v1/pipelines/nope")),
        404,
        &["no model named 'nope'"],
    );
    let (_, metadata) = get(&agent, &server.url("/v2/models/fraud"));
    assert_eq!(metadata["parameters"]["serving_version"], 1, "{metadata}");
    assert_eq!(metadata["versions"], json!(["1"]), "{metadata}");

    // Still serving, as before.
    let (status, body) = post(&agent, &infer, infer_body("[1,12]", &zeros(width)));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model_version"], "1", "{body}");
    let (status, body) = post(&agent, &score, r#"{"rows":[{"amount":950.0,"hour":3}]}"#);
    assert_eq!(status, 200, "{body}");

    // Let the registry poll a few times: each ignored folder is logged once.
    std::thread::sleep(Duration::from_millis(2500));
    let rss = server.rss_bytes();
    assert!(
        rss < MAX_RSS_BYTES,
        "resident memory after the suite: {} MiB",
        rss >> 20
    );
    let logged = std::fs::read_to_string(&log).expect("server log");
    for folder in ["latest", "010", "1.5"] {
        let line = format!(
            "{} ignored: {reason}",
            registry.join("fraud").join(folder).display()
        );
        assert_eq!(logged.matches(&line).count(), 1, "{line} in:\n{logged}");
    }
    // No pipeline, no alert: no alert log.
    let left: Vec<PathBuf> = std::fs::read_dir(&work)
        .expect("work folder")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The demo registry of a server killed with SIGKILL is left behind; the
/// next demo server removes it (its owner is gone) and its own on exit.
/// That server describes its pipeline, creates the alert log only with the
/// first alert, and refuses an oversized `Expect: 100-continue` too.
#[test]
fn the_demo_pipeline_cleans_up_after_a_crash_and_describes_itself() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let temp = tmp.path().join("tmp");
    let work = tmp.path().join("work");
    for dir in [&temp, &work] {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    let demo_folders = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&temp)
            .expect("temp")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("edgescore-demo-registry-"))
            .collect();
        names.sort();
        names
    };
    let setup = Setup {
        cwd: Some(&work),
        tmpdir: Some(&temp),
        ..Setup::default()
    };

    let mut crashed = Server::start(&[], &setup);
    let crashed_pid = crashed.child.id();
    let left = demo_folders();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        left[0].starts_with(&format!("edgescore-demo-registry-{crashed_pid}-")),
        "{left:?}"
    );
    crashed.child.kill().expect("SIGKILL");
    crashed.child.wait().expect("reaped");
    assert_eq!(demo_folders(), left, "a killed server cannot clean up");

    let server = Server::start(&[], &setup);
    let now = demo_folders();
    assert_eq!(now.len(), 1, "{now:?}");
    assert!(
        now[0].starts_with(&format!("edgescore-demo-registry-{}-", server.child.id())),
        "the crashed server's folder is gone: {now:?}"
    );

    let agent = agent();
    let (status, pipeline) = get(&agent, &server.url("/v1/pipelines/fraud"));
    assert_eq!(status, 200, "{pipeline}");
    assert_eq!(pipeline["pipeline"], "fraud", "{pipeline}");
    assert_eq!(pipeline["serving"], 1, "a number: {pipeline}");
    assert_eq!(pipeline["decision"], json!({ "review": 0.5, "block": 0.9 }));
    assert_eq!(pipeline["reasons"], json!({ "top": 3 }));
    assert_eq!(
        pipeline["feature_store"]["namespaces"],
        json!(["card", "card-country", "card-device"])
    );
    let inputs = pipeline["inputs"].as_array().expect("inputs");
    assert!(
        inputs.contains(&json!({ "name": "card_id", "type": "text", "required": true })),
        "{pipeline}"
    );
    let features = pipeline["features"].as_array().expect("features");
    assert!(features.contains(&json!("card_txn_1h")), "{pipeline}");
    let (status, listing) = get(&agent, &server.url("/v1/models"));
    assert_eq!(status, 200, "{listing}");
    assert_eq!(listing["models"][0]["name"], "fraud", "{listing}");
    assert_eq!(listing["models"][0]["kind"], "pipeline", "{listing}");
    assert_eq!(listing["models"][0]["serving"], 1, "{listing}");
    assert_eq!(listing["models"][0]["features"], pipeline["features"]);

    let answer = expect_continue(server.addr(), "/v1/pipelines/fraud/score", 1 << 40, b"");
    assert!(
        answer.starts_with("HTTP/1.1 413") && answer.contains("max_body_bytes"),
        "{answer}"
    );

    // No alert yet: no alert log. The first block creates it.
    let alert_log = work.join("edgescore-alerts.jsonl");
    assert!(!alert_log.exists());
    let blocked = json!({"transactions": [{
        "timestamp": "2026-03-01T03:12:00Z", "card_id": "c00042", "amount": 1450.0,
        "merchant_id": "m40511", "merchant_category": "electronics", "channel": "online",
        "country": "NG", "home_country": "US", "device_id": "x91"}]});
    let (status, answer) = post(
        &agent,
        &server.url("/v1/pipelines/fraud/score"),
        blocked.to_string(),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][0]["decision"], "block", "{answer}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !alert_log.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(alert_log.exists(), "the first alert creates the alert log");

    drop(server);
    assert_eq!(demo_folders(), Vec::<String>::new(), "removed on exit");
}

/// A port already taken is reported first, before the registry is read
/// (which, with many versions to validate, takes long).
#[test]
fn a_taken_port_is_reported_before_the_registry_is_read() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = tmp.path().join("registry");
    let folder = registry.join("fraud").join("1");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(folder.join("model.wasm"), b"not a component").expect("write");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let addr = taken.local_addr().expect("addr").to_string();

    let output = Command::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(["serve", "--listen", &addr, "--registry"])
        .arg(&registry)
        .current_dir(tmp.path())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(!stderr.contains("loading the registry"), "{stderr}");
    assert!(!stderr.contains("rejected"), "{stderr}");
}

/// An alert log that cannot be written stops the server at startup with an
/// error that names the file.
#[test]
fn alert_log_errors_name_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = tmp.path().join("registry");
    std::fs::create_dir_all(&registry).expect("mkdir");
    let missing_folder = tmp.path().join("no-such-folder").join("alerts.jsonl");
    let a_folder = tmp.path().join("a-folder");
    std::fs::create_dir_all(&a_folder).expect("mkdir");
    for log in [&missing_folder, &a_folder] {
        let output = Command::new(env!("CARGO_BIN_EXE_edgescore"))
            .args(["serve", "--listen", "127.0.0.1:0", "--registry"])
            .arg(&registry)
            .arg("--alert-log")
            .arg(log)
            .current_dir(tmp.path())
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!("the alert log {}", log.display())),
            "{stderr}"
        );
    }
    assert!(!missing_folder.parent().expect("parent").exists());
}
