//! `edgescore serve`, run as a user runs it and called by a real HTTP client
//! over loopback.
//!
//! - scores over both APIs equal the native model's, bit for bit;
//! - a corpus of malformed requests gets only 4xx JSON errors, and the
//!   server keeps serving;
//! - versions swap under concurrent load without one failed request, every
//!   response names a version that was serving at the time, and a bad
//!   version never replaces a good one.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};

use edgescore_models::{Manifest, ManifestFeature, Model};
use edgescore_runtime::component_build::{BuildRequest, build_component};
use edgescore_runtime::manifest_section;
use edgescore_test_programs as guests;
use edgescore_test_support::repo_root;
use serde_json::{Value, json};

const TOKEN: &str = "test-admin-token";

/// A running `edgescore serve`; stopped (SIGTERM, then killed) on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// Starts the server on a free port with `args` and the admin token set.
    fn start(args: &[&str], cache: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_edgescore"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("EDGESCORE_ADMIN_TOKEN", TOKEN)
            .env("XDG_CACHE_HOME", cache)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("edgescore serve starts");
        let url = edgescore_test_support::served::announced_url(&mut child);
        Self { child, url }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        edgescore_test_support::served::stop_gracefully(&mut self.child, Duration::from_secs(5));
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Status and body text of a request.
fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> (u16, String) {
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(body.unwrap_or_default())
        .expect("request builds");
    match agent.run(request) {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_string().unwrap_or_default();
            (status, text)
        }
        Err(e) => (0, format!("transport error: {e}")),
    }
}

fn post_json(agent: &ureq::Agent, url: &str, body: &Value) -> (u16, Value) {
    let (status, text) = call(
        agent,
        "POST",
        url,
        &[("content-type", "application/json")],
        Some(body.to_string().into_bytes()),
    );
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
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
        let mut args = vec!["--registry".to_owned(), registry.display().to_string()];
        if !config.is_empty() {
            let path = tmp.path().join("serve.toml");
            std::fs::write(&path, config).expect("config");
            args.extend(["--config".to_owned(), path.display().to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = Server::start(&args, &tmp.path().join("cache"));
        Self {
            server,
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

#[test]
fn both_apis_score_bit_identically_to_the_native_model() {
    let fixture = Fixture::start("", |_, _| {});
    let server = &fixture.server;
    let agent = agent();
    let model =
        Model::from_bytes(&std::fs::read(quickstart_model()).expect("model"), None).expect("loads");
    let (header, rows) = quickstart_rows();
    let width = header.len();
    let native = model.score(&rows).expect("native scores");

    // The simple API: named features, missing keys for missing values.
    let objects: Vec<Value> = rows
        .chunks(width)
        .map(|row| {
            let mut object = serde_json::Map::new();
            for (name, &v) in header.iter().zip(row) {
                if !v.is_nan() {
                    object.insert(name.clone(), json!(v));
                }
            }
            Value::Object(object)
        })
        .collect();
    let (status, body) = post_json(
        &agent,
        &server.url("/v1/models/fraud/score"),
        &json!({ "rows": objects }),
    );
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().expect("results");
    assert_eq!(results.len(), native.len());
    for (i, (result, expected)) in results.iter().zip(&native).enumerate() {
        let got = result["score"].as_f64().expect("score");
        assert_eq!(
            got.to_bits(),
            expected.to_bits(),
            "row {i}: {got} vs {expected}"
        );
        assert_eq!(result["version"], 1);
    }

    // Open Inference Protocol, binary tensor data (NaN travels as bits).
    let json_header = json!({
        "inputs": [{
            "name": "features",
            "shape": [native.len(), width],
            "datatype": "FP32",
            "parameters": { "binary_data_size": rows.len() * 4 },
        }],
        "outputs": [{ "name": "score", "parameters": { "binary_data": true } }],
    })
    .to_string();
    let mut body = json_header.clone().into_bytes();
    // The quickstart values are float32 values, so FP32 carries them exactly.
    body.extend(rows.iter().flat_map(|&v| (v as f32).to_le_bytes()));
    let mut request = ureq::http::Request::builder()
        .method("POST")
        .uri(server.url("/v2/models/fraud/infer"))
        .header("inference-header-content-length", json_header.len())
        .body(body)
        .expect("request");
    request.headers_mut().insert(
        "content-type",
        "application/octet-stream".parse().expect("header"),
    );
    let mut response = agent.run(request).expect("binary infer");
    assert_eq!(response.status().as_u16(), 200);
    let header_len: usize = response
        .headers()
        .get("inference-header-content-length")
        .expect("binary response header")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number");
    let bytes = response.body_mut().read_to_vec().expect("body");
    let head: Value = serde_json::from_slice(&bytes[..header_len]).expect("json header");
    assert_eq!(head["model_version"], "1");
    let scores: Vec<f32> = bytes[header_len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(scores.len(), native.len());
    for (i, (got, expected)) in scores.iter().zip(&native).enumerate() {
        assert_eq!(got.to_bits(), (*expected as f32).to_bits(), "row {i}");
    }

    // Open Inference Protocol, JSON: rows without missing values.
    let complete: Vec<usize> = (0..native.len())
        .filter(|&r| rows[r * width..(r + 1) * width].iter().all(|v| !v.is_nan()))
        .collect();
    let data: Vec<f64> = complete
        .iter()
        .flat_map(|&r| rows[r * width..(r + 1) * width].to_vec())
        .collect();
    let (status, body) = post_json(
        &agent,
        &server.url("/v2/models/fraud/versions/1/infer"),
        &json!({ "id": "abc", "inputs": [{
            "name": "x", "shape": [complete.len(), width], "datatype": "FP32", "data": data,
        }]}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "abc");
    let data = body["outputs"][0]["data"].as_array().expect("data");
    for (&r, got) in complete.iter().zip(data) {
        let got = got.as_f64().expect("number") as f32;
        assert_eq!(got.to_bits(), (native[r] as f32).to_bits(), "row {r}");
    }
}

/// One malformed request: what it is, method, path, headers, body.
type BadRequest<'a> = (&'a str, &'a str, String, Vec<(&'a str, &'a str)>, Vec<u8>);

#[test]
fn malformed_requests_get_4xx_json_errors_and_cost_only_themselves() {
    let fixture = Fixture::start(
        "max_body_bytes = 65536\nbody_timeout_ms = 2000\n",
        |_, _| {},
    );
    let server = &fixture.server;
    let agent = agent();
    let row = "[1,2,3,4,5,6,7,8,9,10,11,12]";
    let infer = |input: &str| format!(r#"{{"inputs":[{input}]}}"#);
    let good_input = format!(r#"{{"name":"x","shape":[1,12],"datatype":"FP32","data":{row}}}"#);
    let auth = ("authorization", "Bearer wrong-token");
    let json_ct = ("content-type", "application/json");
    let big = vec![b' '; 70_000];

    let corpus: Vec<BadRequest<'_>> = vec![
        ("not json", "POST", "/v2/models/fraud/infer".into(), vec![json_ct], b"{not json".to_vec()),
        ("empty body", "POST", "/v2/models/fraud/infer".into(), vec![], vec![]),
        ("json array", "POST", "/v2/models/fraud/infer".into(), vec![], b"[]".to_vec()),
        ("no inputs", "POST", "/v2/models/fraud/infer".into(), vec![], br#"{"inputs":[]}"#.to_vec()),
        ("two inputs", "POST", "/v2/models/fraud/infer".into(), vec![], infer(&format!("{good_input},{good_input}")).into_bytes()),
        ("wrong width", "POST", "/v2/models/fraud/infer".into(), vec![], infer(r#"{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2,3]}"#).into_bytes()),
        ("1-d shape", "POST", "/v2/models/fraud/infer".into(), vec![], infer(&format!(r#"{{"name":"x","shape":[12],"datatype":"FP32","data":{row}}}"#)).into_bytes()),
        ("negative rows", "POST", "/v2/models/fraud/infer".into(), vec![], infer(&format!(r#"{{"name":"x","shape":[-1,12],"datatype":"FP32","data":{row}}}"#)).into_bytes()),
        ("data shorter than shape", "POST", "/v2/models/fraud/infer".into(), vec![], infer(&format!(r#"{{"name":"x","shape":[2,12],"datatype":"FP32","data":{row}}}"#)).into_bytes()),
        ("INT64 datatype", "POST", "/v2/models/fraud/infer".into(), vec![], infer(&format!(r#"{{"name":"x","shape":[1,12],"datatype":"INT64","data":{row}}}"#)).into_bytes()),
        ("BYTES datatype", "POST", "/v2/models/fraud/infer".into(), vec![], infer(r#"{"name":"x","shape":[1,12],"datatype":"BYTES","data":["a"]}"#).into_bytes()),
        ("string in data", "POST", "/v2/models/fraud/infer".into(), vec![], infer(r#"{"name":"x","shape":[1,12],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,"x"]}"#).into_bytes()),
        ("null in data", "POST", "/v2/models/fraud/infer".into(), vec![], infer(r#"{"name":"x","shape":[1,12],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,null]}"#).into_bytes()),
        ("NaN literal", "POST", "/v2/models/fraud/infer".into(), vec![], infer(r#"{"name":"x","shape":[1,12],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,NaN]}"#).into_bytes()),
        ("overflowing float32", "POST", "/v2/models/fraud/infer".into(), vec![], infer(r#"{"name":"x","shape":[1,12],"datatype":"FP32","data":[1e300,2,3,4,5,6,7,8,9,10,11,12]}"#).into_bytes()),
        ("no data", "POST", "/v2/models/fraud/infer".into(), vec![], infer(r#"{"name":"x","shape":[1,12],"datatype":"FP32"}"#).into_bytes()),
        ("unknown output", "POST", "/v2/models/fraud/infer".into(), vec![], format!(r#"{{"inputs":[{good_input}],"outputs":[{{"name":"probability"}}]}}"#).into_bytes()),
        ("unknown field", "POST", "/v2/models/fraud/infer".into(), vec![], format!(r#"{{"inputs":[{good_input}],"extra":1}}"#).into_bytes()),
        ("binary size mismatch", "POST", "/v2/models/fraud/infer".into(), vec![("inference-header-content-length", "91")], br#"{"inputs":[{"name":"x","shape":[1,12],"datatype":"FP32","parameters":{"binary_data_size":48}}]}"#.iter().copied().chain([0u8; 8]).collect()),
        ("header length past the body", "POST", "/v2/models/fraud/infer".into(), vec![("inference-header-content-length", "9999")], b"{}".to_vec()),
        ("header length not a number", "POST", "/v2/models/fraud/infer".into(), vec![("inference-header-content-length", "abc")], b"{}".to_vec()),
        ("body over the limit", "POST", "/v2/models/fraud/infer".into(), vec![], big.clone()),
        ("unknown model", "POST", "/v2/models/nope/infer".into(), vec![], infer(&good_input).into_bytes()),
        ("unknown version", "POST", "/v2/models/fraud/versions/7/infer".into(), vec![], infer(&good_input).into_bytes()),
        ("version not a number", "POST", "/v2/models/fraud/versions/latest/infer".into(), vec![], infer(&good_input).into_bytes()),
        ("version zero", "GET", "/v2/models/fraud/versions/0".into(), vec![], vec![]),
        ("path traversal", "GET", "/v2/models/..%2F..%2Fetc/ready".into(), vec![], vec![]),
        ("unknown route", "GET", "/v3/anything".into(), vec![], vec![]),
        ("v1 not json", "POST", "/v1/models/fraud/score".into(), vec![], b"rows".to_vec()),
        ("v1 rows not a list", "POST", "/v1/models/fraud/score".into(), vec![], br#"{"rows":{}}"#.to_vec()),
        ("v1 unknown feature", "POST", "/v1/models/fraud/score".into(), vec![], br#"{"rows":[{"amout":5}]}"#.to_vec()),
        ("v1 string value", "POST", "/v1/models/fraud/score".into(), vec![], br#"{"rows":[{"amount":"5"}]}"#.to_vec()),
        ("v1 value beyond float64", "POST", "/v1/models/fraud/score".into(), vec![], br#"{"rows":[{"amount":1e400}]}"#.to_vec()),
        ("v1 unknown model", "POST", "/v1/models/nope/score".into(), vec![], br#"{"rows":[]}"#.to_vec()),
        ("v1 body over the limit", "POST", "/v1/models/fraud/score".into(), vec![], big),
        ("load without token", "POST", "/v2/repository/models/fraud/load".into(), vec![], vec![]),
        ("unload with a wrong token", "POST", "/v2/repository/models/fraud/unload".into(), vec![auth], vec![]),
        ("routing without token", "POST", "/admin/models/fraud/routing".into(), vec![], br#"{"primary":1}"#.to_vec()),
        ("routing to a missing version", "POST", "/admin/models/fraud/routing".into(), vec![("authorization", "Bearer test-admin-token")], br#"{"canary":{"version":9,"percent":10}}"#.to_vec()),
        ("routing over 100 percent", "POST", "/admin/models/fraud/routing".into(), vec![("authorization", "Bearer test-admin-token")], br#"{"canary":{"version":1,"percent":101}}"#.to_vec()),
        ("routing not json", "POST", "/admin/models/fraud/routing".into(), vec![("authorization", "Bearer test-admin-token")], b"nine".to_vec()),
        ("promote without a canary", "POST", "/admin/models/fraud/promote".into(), vec![("authorization", "Bearer test-admin-token")], vec![]),
        ("rollback with nothing below", "POST", "/admin/models/fraud/rollback".into(), vec![("authorization", "Bearer test-admin-token")], vec![]),
        ("wrong method", "GET", "/v2/models/fraud/infer".into(), vec![], vec![]),
    ];
    assert!(corpus.len() >= 30);
    for (what, method, path, headers, body) in corpus {
        let (status, text) = call(&agent, method, &server.url(&path), &headers, Some(body));
        assert!(
            (400..500).contains(&status),
            "{what}: status {status}, body {text}"
        );
        let error: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{what}: error body is not JSON: {text}"));
        assert!(
            error["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {text}"
        );
    }
    // Every one cost only itself.
    let (status, body) = post_json(
        &agent,
        &server.url("/v2/models/fraud/infer"),
        &serde_json::from_str(&infer(&good_input)).expect("json"),
    );
    assert_eq!(status, 200, "{body}");
    let (_, metrics) = call(&agent, "GET", &server.url("/metrics"), &[], None);
    assert!(
        metrics.contains("edgescore_errors_total{kind=\"bad_request\"}"),
        "{metrics}"
    );
}

#[test]
fn versions_swap_under_load_without_a_failed_request() {
    const SWAPS: u64 = 100;
    const CLIENTS: usize = 4;
    let fixture = Fixture::start("", |_, _| {});
    let (server, registry, component) = (&fixture.server, &fixture.registry, &fixture.component);
    let url = server.url("/v1/models/fraud/score");
    let load_url = server.url("/v2/repository/models/fraud/load");
    let row = json!({ "rows": [{ "amount": 950.0, "hour": 3, "device_new": 1 }] });

    // (version, written, confirmed serving by the load call's answer).
    let start = Instant::now();
    let mut timeline: Vec<(u64, Instant, Instant)> = vec![(1, start, start)];
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    // (started, ended, version) of every response; failures as text.
    let observations: Arc<Mutex<Vec<(Instant, Instant, u64)>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();

    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (url, row, stop, done) = (url.clone(), row.clone(), stop.clone(), done.clone());
            let (observations, failures) = (observations.clone(), failures.clone());
            std::thread::spawn(move || {
                let agent = agent();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let (status, body) = post_json(&agent, &url, &row);
                    let ended = Instant::now();
                    match body["results"][0]["version"].as_u64() {
                        Some(version) if status == 200 => {
                            observations
                                .lock()
                                .expect("lock")
                                .push((started, ended, version));
                        }
                        _ => failures
                            .lock()
                            .expect("lock")
                            .push(format!("status {status}: {body}")),
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let admin = agent();
    let bad_version = SWAPS / 2;
    let mut serving = 1;
    for version in 2..=SWAPS + 1 {
        let written = Instant::now();
        if version == bad_version {
            // Half a component: it must be rejected and version `serving` stay.
            write_version(registry, version, &component[..component.len() / 2]);
        } else {
            write_version(registry, version, component);
        }
        let (status, text) = call(
            &admin,
            "POST",
            &load_url,
            &[("authorization", &format!("Bearer {TOKEN}"))],
            None,
        );
        let answer: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(status, 200, "{text}");
        if version == bad_version {
            assert_eq!(
                answer["serving"], serving,
                "a bad version replaced a good one"
            );
            // The rejection and its reason are visible through the API.
            let (_, status) = call(&admin, "GET", &server.url("/v1/models/fraud"), &[], None);
            let status: Value = serde_json::from_str(&status).expect("json");
            let entry = status["versions"]
                .as_array()
                .expect("versions")
                .iter()
                .find(|v| v["version"] == version)
                .expect("the bad version is listed");
            assert_eq!(entry["status"], "rejected", "{entry}");
            assert!(
                entry["reason"].as_str().is_some_and(|r| !r.is_empty()),
                "{entry}"
            );
        } else {
            assert_eq!(answer["serving"], version, "{text}");
            serving = version;
            timeline.push((version, written, Instant::now()));
        }
        // Old versions go away, as in a real rollout.
        if version > 3 {
            let _ = std::fs::remove_dir_all(registry.join("fraud").join((version - 3).to_string()));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("client thread");
    }

    let failures = failures.lock().expect("lock");
    assert!(
        failures.is_empty(),
        "{} failed requests, first: {}",
        failures.len(),
        failures[0]
    );
    let observations = observations.lock().expect("lock");
    assert!(
        observations.len() > 100,
        "only {} requests",
        observations.len()
    );
    for &(started, ended, version) in observations.iter() {
        assert_ne!(version, bad_version, "the rejected version answered");
        // It was serving at some point during the request: written before
        // the request ended, and its successor not yet confirmed serving
        // when the request started.
        let (_, written, _) = timeline
            .iter()
            .find(|(v, _, _)| *v == version)
            .unwrap_or_else(|| panic!("version {version} was never confirmed"));
        assert!(
            *written < ended,
            "version {version} answered before it was written"
        );
        if let Some((next, _, confirmed)) = timeline.iter().find(|(v, _, _)| *v > version) {
            assert!(
                *confirmed > started,
                "version {version} answered a request that started after version {next} was confirmed serving"
            );
        }
    }
    eprintln!(
        "{} requests across {} swaps, none failed",
        observations.len(),
        SWAPS
    );
}

/// The Python interpreter with `tritonclient[http]`, if configured.
fn tritonclient_python() -> Result<PathBuf, String> {
    let python = std::env::var_os("EDGESCORE_TRITONCLIENT_PYTHON").ok_or_else(|| {
        "EDGESCORE_TRITONCLIENT_PYTHON is not set (a python with `pip install -r tests/tritonclient/requirements.txt`)".to_owned()
    })?;
    let python = PathBuf::from(python);
    let works = Command::new(&python)
        .args(["-c", "import tritonclient.http, numpy"])
        .status()
        .is_ok_and(|s| s.success());
    if works {
        Ok(python)
    } else {
        Err(format!(
            "{} cannot import tritonclient.http and numpy",
            python.display()
        ))
    }
}

/// Triton's own Python client, unchanged, against `edgescore serve`
/// (`tests/tritonclient/check.py`): liveness, metadata, binary and JSON infer.
#[test]
fn tritons_python_client_works_unchanged() {
    let python = match tritonclient_python() {
        Ok(python) => python,
        Err(missing) => {
            assert!(
                std::env::var_os("EDGESCORE_REQUIRE_TRITONCLIENT").is_none(),
                "EDGESCORE_REQUIRE_TRITONCLIENT is set but {missing}"
            );
            eprintln!("SKIPPED: {missing}");
            return;
        }
    };
    let fixture = Fixture::start("", |_, _| {});
    let server = &fixture.server;
    let model =
        Model::from_bytes(&std::fs::read(quickstart_model()).expect("model"), None).expect("loads");
    let (header, rows) = quickstart_rows();
    let expected: Vec<u8> = model
        .score(&rows)
        .expect("native")
        .iter()
        .flat_map(|&s| (s as f32).to_le_bytes())
        .collect();
    let scratch = tempfile::tempdir().expect("tempdir");
    let rows_path = scratch.path().join("rows.f32");
    let expected_path = scratch.path().join("expected.f32");
    std::fs::write(
        &rows_path,
        rows.iter()
            .flat_map(|&v| (v as f32).to_le_bytes())
            .collect::<Vec<_>>(),
    )
    .expect("rows");
    std::fs::write(&expected_path, expected).expect("expected");
    let run = Command::new(python)
        .arg(repo_root().join("tests/tritonclient/check.py"))
        .arg(&server.url)
        .arg("fraud")
        .arg(&rows_path)
        .arg(header.len().to_string())
        .arg(&expected_path)
        .output()
        .expect("python runs");
    assert!(
        run.status.success(),
        "tritonclient check failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    eprint!("{}", String::from_utf8_lossy(&run.stdout));
}

fn admin_post(agent: &ureq::Agent, url: &str, body: Option<Value>) -> Value {
    let (status, text) = call(
        agent,
        "POST",
        url,
        &[
            ("authorization", &format!("Bearer {TOKEN}")),
            ("content-type", "application/json"),
        ],
        body.map(|b| b.to_string().into_bytes()),
    );
    assert_eq!(status, 200, "{url}: {text}");
    serde_json::from_str(&text).expect("json")
}

/// The version that scored a request with `key` (`None`: no key).
fn scored_by(agent: &ureq::Agent, server: &Server, key: Option<&str>, amount: f64) -> (u16, Value) {
    let mut body = json!({ "rows": [{ "amount": amount, "hour": 3 }] });
    if let Some(key) = key {
        body["key"] = json!(key);
    }
    post_json(agent, &server.url("/v1/models/fraud/score"), &body)
}

#[test]
fn canary_splits_by_key_and_promote_rollback_and_shadow_work() {
    let fixture = Fixture::start("", |registry, component| {
        write_version(registry, 2, component);
    });
    let server = &fixture.server;
    let agent = agent();
    let routing = server.url("/admin/models/fraud/routing");
    // Pin version 1, version 2 the canary at 30%.
    let answer = admin_post(
        &agent,
        &routing,
        Some(json!({ "primary": 1, "canary": { "version": 2, "percent": 30 } })),
    );
    assert_eq!(answer["serving"], 1, "{answer}");
    assert_eq!(answer["canary"]["version"], 2, "{answer}");

    let mut to_canary = 0;
    for i in 0..300 {
        let key = format!("txn-{i}");
        let (status, first) = scored_by(&agent, server, Some(&key), 10.0);
        assert_eq!(status, 200, "{first}");
        let version = first["results"][0]["version"].as_u64().expect("version");
        // The same key lands on the same version every time.
        let (_, again) = scored_by(&agent, server, Some(&key), 10.0);
        assert_eq!(again["results"][0]["version"], version, "key {key}");
        to_canary += usize::from(version == 2);
    }
    assert!(
        (45..135).contains(&to_canary),
        "{to_canary} of 300 went to the 30% canary"
    );

    // Promote: the canary becomes the primary, alone.
    let answer = admin_post(&agent, &server.url("/admin/models/fraud/promote"), None);
    assert_eq!(answer["serving"], 2, "{answer}");
    assert!(answer["canary"].is_null(), "{answer}");
    for i in 0..20 {
        let (_, body) = scored_by(&agent, server, Some(&format!("k{i}")), 10.0);
        assert_eq!(body["results"][0]["version"], 2);
    }
    // Roll back without a canary: the version below serves.
    let answer = admin_post(&agent, &server.url("/admin/models/fraud/rollback"), None);
    assert_eq!(answer["serving"], 1, "{answer}");

    // Shadow: version 2 scores the same rows off the request path; the
    // responses still come from version 1, and the scores agree.
    let answer = admin_post(&agent, &routing, Some(json!({ "primary": 1, "shadow": 2 })));
    assert_eq!(answer["shadow"], 2, "{answer}");
    for i in 0..50 {
        let (_, body) = scored_by(&agent, server, None, f64::from(i));
        assert_eq!(body["results"][0]["version"], 1);
    }
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = call(&agent, "GET", &server.url("/metrics"), &[], None).1;
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
    let manifest = Manifest {
        name: "fraud".into(),
        version: "hostile".into(),
        model_kind: "linear".into(),
        objective: "hostile".into(),
        output: "regression".into(),
        features: model
            .feature_names()
            .expect("names")
            .iter()
            .map(|name| ManifestFeature {
                name: name.clone(),
                kind: "numeric".into(),
            })
            .collect(),
        model_sha256: String::new(),
        edgescore_version: "test".into(),
        wit_package: edgescore_models::WIT_PACKAGE.into(),
        steps_per_row: 1,
        contribution_steps_per_row: 1,
        golden: Vec::new(),
    };
    manifest_section::append(&mut bytes, &manifest);
    bytes
}

#[test]
fn a_failing_canary_is_rolled_back_automatically() {
    let fixture = Fixture::start("", |registry, _| {
        write_version(registry, 2, &hostile_as_fraud());
    });
    let server = &fixture.server;
    let agent = agent();
    let answer = admin_post(
        &agent,
        &server.url("/admin/models/fraud/routing"),
        Some(json!({ "primary": 1, "canary": { "version": 2, "percent": 50 } })),
    );
    assert_eq!(answer["canary"]["version"], 2, "{answer}");
    // amount = 1 makes the canary loop past its deadline: a model failure,
    // a 5xx, counted against the canary (default: over 5% of 20 requests).
    let mut failures = 0;
    for i in 0..400 {
        let (status, body) = scored_by(&agent, server, Some(&format!("t{i}")), 1.0);
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
    let (_, status) = call(&agent, "GET", &server.url("/v1/models/fraud"), &[], None);
    let status: Value = serde_json::from_str(&status).expect("json");
    assert!(status["canary"].is_null(), "{status}");
    let metrics = call(&agent, "GET", &server.url("/metrics"), &[], None).1;
    assert!(
        metrics.contains("edgescore_canary_rollbacks_total{model=\"fraud\"} 1"),
        "{metrics}"
    );
}

/// Reads whatever the server sends until it closes or `limit` passes.
fn read_until_closed(stream: &mut std::net::TcpStream, limit: Duration) -> String {
    use std::io::Read as _;
    stream.set_read_timeout(Some(limit)).expect("read timeout");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn slow_clients_are_cut_off_and_cost_only_their_own_connection() {
    use std::io::Write as _;
    let fixture = Fixture::start(
        "header_timeout_ms = 300\nbody_timeout_ms = 300\n",
        |_, _| {},
    );
    let server = &fixture.server;
    let address = server.url.trim_start_matches("http://").to_owned();

    // Headers that never finish: the connection is closed.
    let mut headers_only = std::net::TcpStream::connect(&address).expect("connect");
    headers_only
        .write_all(b"POST /v1/models/fraud/score HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    // A body that never finishes: 408 with a JSON error.
    let mut slow_body = std::net::TcpStream::connect(&address).expect("connect");
    slow_body
        .write_all(b"POST /v1/models/fraud/score HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"rows\"")
        .expect("write");

    // Meanwhile everyone else is served.
    let agent = agent();
    let (status, body) = scored_by(&agent, server, None, 10.0);
    assert_eq!(status, 200, "{body}");

    let started = Instant::now();
    let answer = read_until_closed(&mut headers_only, Duration::from_secs(5));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "a client that never finished its headers was kept for {:?}",
        started.elapsed()
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    let answer = read_until_closed(&mut slow_body, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"kind\":\"timeout\""), "{answer}");
}

#[test]
fn sigterm_drains_in_flight_requests() {
    use std::io::Write as _;
    let mut fixture = Fixture::start("", |_, _| {});
    let server = &mut fixture.server;
    let address = server.url.trim_start_matches("http://").to_owned();
    let body = br#"{"rows": [{"amount": 950.0}]}"#;
    // A request in flight: headers and half the body sent.
    let mut stream = std::net::TcpStream::connect(&address).expect("connect");
    write!(
        stream,
        "POST /v1/models/fraud/score HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("headers");
    stream.write_all(&body[..10]).expect("half the body");
    std::thread::sleep(Duration::from_millis(200));
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill");
    std::thread::sleep(Duration::from_millis(200));
    // The server is draining: it still finishes this request.
    stream.write_all(&body[10..]).expect("the rest of the body");
    let answer = read_until_closed(&mut stream, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"version\":1"), "{answer}");
    // And then it exits cleanly, refusing new connections.
    let exit = server.child.wait().expect("exits");
    assert!(exit.success(), "{exit:?}");
    assert!(std::net::TcpStream::connect(&address).is_err());
}

#[test]
fn new_versions_on_disk_are_picked_up_without_an_api_call_even_when_written_in_place() {
    use std::io::Write as _;
    // A long poll interval: only file-system events can be this quick.
    let fixture = Fixture::start("poll_interval_ms = 60000\n", |_, _| {});
    let (server, registry, component) = (&fixture.server, &fixture.registry, &fixture.component);
    let agent = agent();
    let serving = |agent: &ureq::Agent| -> Value {
        let (_, text) = call(agent, "GET", &server.url("/v1/models/fraud"), &[], None);
        serde_json::from_str::<Value>(&text).expect("json")["serving"].clone()
    };
    let wait_for = |version: u64| {
        let started = Instant::now();
        while serving(&agent) != version {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "version {version} was not picked up"
            );
            // Requests keep succeeding meanwhile.
            let (status, body) = scored_by(&agent, server, None, 10.0);
            assert_eq!(status, 200, "{body}");
            std::thread::sleep(Duration::from_millis(50));
        }
        started.elapsed()
    };

    // The documented way: another name, then a rename.
    write_version(registry, 2, component);
    let took = wait_for(2);
    eprintln!("a renamed-in version served after {took:?}");

    // A writer that ignores the convention: model.wasm written in place,
    // pausing half way. The half file must never serve.
    let folder = registry.join("fraud").join("3");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let mut file = std::fs::File::create(folder.join("model.wasm")).expect("create");
    file.write_all(&component[..component.len() / 2])
        .expect("first half");
    file.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(serving(&agent), 2, "a half-written version serves");
    file.write_all(&component[component.len() / 2..])
        .expect("second half");
    drop(file);
    wait_for(3);
}

#[test]
fn contributions_come_back_by_feature_name_and_equal_the_native_ones() {
    let fixture = Fixture::start("", |_, _| {});
    let agent = agent();
    let model =
        Model::from_bytes(&std::fs::read(quickstart_model()).expect("model"), None).expect("loads");
    let (header, rows) = quickstart_rows();
    let width = header.len();
    let native = model.contributions(&rows).expect("native contributions");
    let objects: Vec<Value> = rows
        .chunks(width)
        .map(|row| {
            let object: serde_json::Map<String, Value> = header
                .iter()
                .zip(row)
                .filter(|(_, v)| !v.is_nan())
                .map(|(name, &v)| (name.clone(), json!(v)))
                .collect();
            Value::Object(object)
        })
        .collect();
    let (status, body) = post_json(
        &agent,
        &fixture.server.url("/v1/models/fraud/score"),
        &json!({ "rows": objects, "contributions": true }),
    );
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().expect("results");
    for (r, result) in results.iter().enumerate() {
        let contributions = result["contributions"].as_object().expect("contributions");
        assert_eq!(contributions.len(), width + 1, "row {r}");
        let expected = &native[r * (width + 1)..(r + 1) * (width + 1)];
        for (name, want) in header
            .iter()
            .map(String::as_str)
            .chain(["bias"])
            .zip(expected)
        {
            let got = contributions[name].as_f64().expect("number");
            assert_eq!(got.to_bits(), want.to_bits(), "row {r}, {name}");
        }
    }
}

/// Every golden case, every input set (float64 boundary sets included),
/// through the server: `/v1` with JSON numbers (float64; a missing value is
/// a missing key) and the Open Inference Protocol with FP64 binary tensors
/// sent by Triton's own Python client. Each within the case's tolerance of
/// the reference library, as the model core, the CLI and jco are.
#[test]
fn every_golden_case_scores_like_its_reference_over_http() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = tmp.path().join("registry");
    let cases = edgescore_test_support::cases();
    for case in &cases {
        let component = build_component(&BuildRequest {
            model: &case.model_path,
            format: None,
            name: &case.name,
            version: "1",
        })
        .unwrap_or_else(|e| panic!("{}: build: {e}", case.name));
        let folder = registry.join(&case.name).join("1");
        std::fs::create_dir_all(&folder).expect("mkdir");
        std::fs::write(folder.join("model.wasm"), component).expect("write");
    }
    let server = Server::start(
        &["--registry", registry.to_str().expect("utf-8")],
        &tmp.path().join("cache"),
    );
    let agent = agent();
    let python = tritonclient_python();
    if let Err(missing) = &python {
        assert!(
            std::env::var_os("EDGESCORE_REQUIRE_TRITONCLIENT").is_none(),
            "EDGESCORE_REQUIRE_TRITONCLIENT is set but {missing}"
        );
        eprintln!("SKIPPED the FP64 tensors through tritonclient: {missing}");
    }
    for case in &cases {
        for set in &case.sets {
            let width = set.header.len();
            let tolerance = case.tolerance(edgescore_test_support::Output::Score);

            // JSON has no infinity: `/v1` takes the rows without one (the
            // FP64 tensors below carry them).
            let finite: Vec<usize> = (0..set.num_rows)
                .filter(|&r| {
                    !set.rows[r * width..(r + 1) * width]
                        .iter()
                        .any(|v| v.is_infinite())
                })
                .collect();
            let rows: Vec<f64> = finite
                .iter()
                .flat_map(|&r| set.rows[r * width..(r + 1) * width].iter().copied())
                .collect();
            let expected: Vec<f64> = finite.iter().map(|&r| set.expected_score[r]).collect();
            let what = format!("{} / {} / v1", case.name, set.name);
            let mut scores = Vec::with_capacity(set.num_rows);
            for chunk in rows.chunks(1000 * width) {
                let objects: Vec<Value> = chunk
                    .chunks(width)
                    .map(|row| {
                        let object: serde_json::Map<String, Value> = set
                            .header
                            .iter()
                            .zip(row)
                            .filter(|(_, v)| !v.is_nan())
                            .map(|(name, &v)| (name.clone(), json!(v)))
                            .collect();
                        Value::Object(object)
                    })
                    .collect();
                let (status, body) = post_json(
                    &agent,
                    &server.url(&format!("/v1/models/{}/score", case.name)),
                    &json!({ "rows": objects }),
                );
                assert_eq!(status, 200, "{what}: {body}");
                scores.extend(
                    body["results"]
                        .as_array()
                        .expect("results")
                        .iter()
                        .map(|r| r["score"].as_f64().expect("score")),
                );
            }
            edgescore_test_support::check_scores(&what, &scores, &expected, tolerance);

            let Ok(python) = &python else { continue };
            let what = format!("{} / {} / v2 FP64 (tritonclient)", case.name, set.name);
            let rows_path = tmp.path().join("rows.f64");
            let scores_path = tmp.path().join("scores.f64");
            let bytes: Vec<u8> = set.rows.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(&rows_path, bytes).expect("rows");
            let run = Command::new(python)
                .arg(repo_root().join("tests/tritonclient/score_fp64.py"))
                .arg(&server.url)
                .arg(&case.name)
                .arg(&rows_path)
                .arg(width.to_string())
                .arg(&scores_path)
                .output()
                .expect("python runs");
            assert!(
                run.status.success(),
                "{what}: {}",
                String::from_utf8_lossy(&run.stderr)
            );
            let scores: Vec<f64> = std::fs::read(&scores_path)
                .expect("scores")
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect();
            edgescore_test_support::check_scores(&what, &scores, &set.expected_score, tolerance);
        }
    }
}
