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

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use edgescore_models::transform::format_rfc3339_ms;
use edgescore_test_support::repo_root;
use serde_json::{Map, Value, json};

/// The demo server (the fraud pipeline); killed on drop.
struct Server {
    child: Child,
    url: String,
    agent: ureq::Agent,
}

impl Server {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_edgescore"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("edgescore serve starts");
        let url = edgescore_test_support::served::announced_url(&mut child);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self { child, url, agent }
    }

    /// Status and JSON body of a request to the pipeline.
    fn post(&self, body: impl Into<Vec<u8>>) -> (u16, Value) {
        let request = ureq::http::Request::builder()
            .method("POST")
            .uri(format!("{}/v1/pipelines/fraud/score", self.url))
            .header("content-type", "application/json")
            .body(body.into())
            .expect("request");
        let mut response = self.agent.run(request).expect("the server answers");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// The one result of a request that must succeed.
    fn score(&self, body: &Value) -> Value {
        let (status, answer) = self.post(body.to_string());
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["version"], json!(1), "the version is a number");
        answer["results"][0].clone()
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut response = self
            .agent
            .get(format!("{}{path}", self.url))
            .call()
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().expect("body"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        edgescore_test_support::served::stop_gracefully(&mut self.child, Duration::from_secs(10));
    }
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

/// One hostile request: what it is, its body, the status and a phrase the
/// message must hold.
struct Case {
    what: &'static str,
    body: Vec<u8>,
    status: u16,
    says: &'static str,
}

fn case(what: &'static str, body: Vec<u8>, status: u16, says: &'static str) -> Case {
    Case {
        what,
        body,
        status,
        says,
    }
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    let now = now_ms();
    let many: Vec<Map<String, Value>> = (0..10_001).map(|_| Map::new()).collect();
    let mut wide = grocery(PROBE, &at(-20));
    for i in 0..300 {
        wide.insert(format!("extra{i}"), json!(i));
    }
    let valid = serde_json::to_string(&grocery(PROBE, &at(-20))).expect("json");
    let twice = valid.replacen("\"amount\":23.5", "\"amount\":23.5,\"amount\":9000", 1);
    assert_ne!(twice, valid);
    let deep = format!(
        "{{\"transactions\": [{}]}}",
        "[".repeat(5000) + &"]".repeat(5000)
    );
    vec![
        // The request.
        case("not JSON", b"transactions please".to_vec(), 400, "expected"),
        case("JSON, not an object", b"[1, 2]".to_vec(), 400, "expected"),
        case("no transactions", b"{}".to_vec(), 400, "missing field `transactions`"),
        case("empty transactions", b"{\"transactions\": []}".to_vec(), 400, "is empty"),
        case("transactions not a list", b"{\"transactions\": {}}".to_vec(), 400, "an array"),
        case("a transaction not an object", b"{\"transactions\": [42]}".to_vec(), 400, "an object of event fields"),
        case("an unknown request field", format!("{{\"transactions\": [{valid}], \"explain_all\": true}}").into_bytes(), 400, "unknown field `explain_all`"),
        case("transactions given twice", format!("{{\"transactions\": [{valid}], \"transactions\": [{valid}]}}").into_bytes(), 400, "duplicate field"),
        case("10,001 transactions", request(many), 413, "max_rows_per_request"),
        case("nesting 5,000 deep", deep.into_bytes(), 400, "expected"),
        // Fields.
        case("a repeated key", format!("{{\"transactions\": [{twice}]}}").into_bytes(), 400, "'amount' is given twice"),
        case("a typo of a field", after_a_valid_one(with("merchant_categroy", json!("gift_cards"))), 400, "did you mean 'merchant_category'"),
        case("an unknown field", after_a_valid_one(with("tip", json!(5))), 400, "unknown field 'tip'"),
        case("an unknown field named by 1 MB", after_a_valid_one(with(&"k".repeat(1 << 20), json!(1))), 400, "unknown field"),
        case("300 fields", after_a_valid_one(wide), 400, "max_fields_per_event"),
        case("a 100 KB card id", after_a_valid_one(with("card_id", json!("c".repeat(100_000)))), 400, "max_text_bytes"),
        case("a 2 KB merchant id", after_a_valid_one(with("merchant_id", json!("m".repeat(2048)))), 400, "max_text_bytes"),
        case("a 1 MB country", after_a_valid_one(with("country", json!("U".repeat(1 << 20)))), 400, "max_text_bytes"),
        case("an empty card id", after_a_valid_one(with("card_id", json!(""))), 400, "required field 'card_id'"),
        case("a blank card id", after_a_valid_one(with("card_id", json!("   "))), 400, "required field 'card_id'"),
        case("a null card id", after_a_valid_one(with("card_id", Value::Null)), 400, "required field 'card_id'"),
        case("no card id", after_a_valid_one(without("card_id")), 400, "required field 'card_id'"),
        case("a numeric card id", after_a_valid_one(with("card_id", json!(42))), 400, "'card_id' must be a text"),
        case("no timestamp", after_a_valid_one(without("timestamp")), 400, "required field 'timestamp'"),
        case("amount \"inf\"", after_a_valid_one(with("amount", json!("inf"))), 400, "'amount' must be a number"),
        case("amount \"NaN\"", after_a_valid_one(with("amount", json!("NaN"))), 400, "'amount' must be a number"),
        case("amount 1e400", format!("{{\"transactions\": [{}]}}", valid.replace("23.5", "1e400")).into_bytes(), 400, "out of range"),
        case("amount as text", after_a_valid_one(with("amount", json!("12.50"))), 400, "'amount' must be a number"),
        case("amount a boolean", after_a_valid_one(with("amount", json!(true))), 400, "'amount' must be a number"),
        case("amount a list", after_a_valid_one(with("amount", json!([1, 2]))), 400, "'amount' is an array"),
        case("amount an object", after_a_valid_one(with("amount", json!({"value": 1}))), 400, "'amount' is an object"),
        case("device id a list", after_a_valid_one(with("device_id", json!(["d1"]))), 400, "'device_id' is an array"),
        case("30 February", after_a_valid_one(with("timestamp", json!("2026-02-30T12:00:00Z"))), 400, "exists"),
        case("month 13", after_a_valid_one(with("timestamp", json!("2026-13-01T00:00:00Z"))), 400, "exists"),
        case("hour 24", after_a_valid_one(with("timestamp", json!("2026-01-01T24:00:00Z"))), 400, "exists"),
        case("an offset of 25 hours", after_a_valid_one(with("timestamp", json!("2026-01-01T00:00:00+25:00"))), 400, "RFC 3339"),
        case("a date without a time", after_a_valid_one(with("timestamp", json!("2026-01-01"))), 400, "RFC 3339"),
        case("\"yesterday\"", after_a_valid_one(with("timestamp", json!("yesterday"))), 400, "RFC 3339"),
        case("a fractional timestamp", after_a_valid_one(with("timestamp", json!(1.5e12))), 400, "must be a timestamp"),
        case("9999-12-31", after_a_valid_one(with("timestamp", json!("9999-12-31T23:59:59Z"))), 400, "ahead of the server's clock"),
        case("8 days ahead", after_a_valid_one(with("timestamp", json!(at(8 * 86_400)))), 400, "max_skew_seconds"),
        case("10 minutes ahead", after_a_valid_one(with("timestamp", json!(at(600)))), 400, "max_skew_seconds"),
        case("microseconds", after_a_valid_one(with("timestamp", json!(now * 1000))), 400, "is this one in another unit"),
        case("nanoseconds", after_a_valid_one(with("timestamp", json!(now * 1_000_000))), 400, "ahead of the server's clock"),
        case("seconds read as milliseconds", after_a_valid_one(with("timestamp", json!(now / 1000))), 400, "seconds read as milliseconds"),
        case("past the range of timestamps", after_a_valid_one(with("timestamp", json!(i64::MAX))), 400, "ahead of the server's clock"),
    ]
}

#[test]
fn hostile_transactions_are_refused_and_change_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let alerts = tmp.path().join("alerts.jsonl");
    let server = Server::start(&["--alert-log", path(&alerts)]);
    let start_s = now_ms() / 1000;
    let probe = |seconds: i64| {
        let time = format_rfc3339_ms((start_s + seconds) * 1000);
        let mut t = grocery(PROBE, &time);
        t.insert("merchant_id".into(), json!(format!("m{seconds}")));
        server.score(&json!({"transactions": [t], "features": true}))["features"].clone()
    };
    let before = probe(-60);
    for name in [
        "card_txn_10m",
        "card_txn_24h",
        "card_country_txn_7d",
        "card_device_txn_7d",
    ] {
        assert_eq!(before[name], json!(1.0), "{name}: {before}");
    }

    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut refused = 0;
    for case in &cases {
        let (status, answer) = server.post(case.body.clone());
        assert_eq!(status, case.status, "{}: {answer}", case.what);
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(
            message.contains(case.says),
            "{}: {message:?} does not say {:?}",
            case.what,
            case.says
        );
        assert!(
            message.len() < 4096,
            "{}: a {} byte message",
            case.what,
            message.len()
        );
        assert_ne!(answer["kind"], json!("model_failure"), "{}", case.what);
        let (live, _) = server.get("/v2/health/live");
        assert_eq!(live, 200, "{}: the server still serves", case.what);
        refused += 1;
    }

    // The probe card saw exactly its two probes; nothing else was recorded.
    let after = probe(-10);
    for name in [
        "card_txn_10m",
        "card_txn_24h",
        "card_country_txn_7d",
        "card_device_txn_7d",
    ] {
        assert_eq!(after[name], json!(2.0), "{name}: {after}");
    }
    assert_eq!(after["seconds_since_last"], json!(50.0), "{after}");
    let (_, metrics) = server.get("/metrics");
    assert!(
        !metrics.contains("kind=\"model_failure\""),
        "no client mistake is a model failure:\n{metrics}"
    );
    let counted: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("edgescore_errors_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(counted, refused, "{metrics}");
    // The blocked companion was never scored: no alert.
    std::thread::sleep(Duration::from_millis(300));
    let logged = std::fs::read_to_string(&alerts).unwrap_or_default();
    assert!(logged.is_empty(), "alerts from refused requests: {logged}");
}

/// The card's history, the burst, and (for the poisoned card) the
/// transactions dated ahead, as JSON transactions by name.
struct Attack {
    history: Vec<Map<String, Value>>,
    ahead: Vec<Map<String, Value>>,
    burst: Vec<Map<String, Value>>,
}

fn attack(card: &str, now_s: i64) -> Attack {
    let time = |offset: i64| format_rfc3339_ms((now_s + offset) * 1000);
    let history = (0..3)
        .map(|i| {
            let mut t = grocery(card, &time(-7200 + i * 600));
            t.insert("merchant_id".into(), json!(format!("g{i}")));
            t
        })
        .collect();
    let ahead = [
        json!("9999-12-31T23:59:59Z"),
        json!(time(8 * 86_400)),
        json!((now_s - 600) * 1_000_000),
    ]
    .into_iter()
    .map(|ts| {
        let mut t = grocery(card, "");
        t.insert("timestamp".into(), ts);
        t
    })
    .collect();
    let burst = (0..8)
        .map(|i| {
            let mut t = grocery(card, &time(-300 + i * 20));
            t.insert("amount".into(), json!(900.0));
            t.insert("merchant_id".into(), json!(format!("gc{i}")));
            t.insert("merchant_category".into(), json!("gift_cards"));
            t.insert("channel".into(), json!("online"));
            t
        })
        .collect();
    Attack {
        history,
        ahead,
        burst,
    }
}

/// The velocity features the attack blinded.
const VELOCITY: [&str; 4] = [
    "card_txn_10m",
    "card_txn_1h",
    "card_txn_24h",
    "seconds_since_last",
];

/// After transactions dated 9999-12-31, 8 days ahead and in microseconds,
/// a card's gift-card burst is blocked exactly as on a clean card: online
/// (each future one refused with the reason) and in `edgescore transform`
/// (each left out and reported), with the same features to the bit.
#[test]
fn a_future_dated_transaction_does_not_blind_a_card() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = Server::start(&["--alert-log", path(&tmp.path().join("alerts.jsonl"))]);
    let now_s = now_ms() / 1000;
    let (clean, poisoned) = (attack("clean", now_s), attack("poisoned", now_s));

    let mut online = std::collections::HashMap::new();
    for (card, a) in [("clean", &clean), ("poisoned", &poisoned)] {
        for t in &a.history {
            server.score(&json!({"transactions": [t]}));
        }
        if card == "poisoned" {
            for t in &a.ahead {
                let (status, answer) = server.post(request(vec![t.clone()]));
                assert_eq!(status, 400, "{answer}");
                let message = answer["error"].as_str().unwrap_or_default();
                assert!(message.contains("ahead of the server's clock"), "{message}");
            }
        }
        let results: Vec<Value> = a
            .burst
            .iter()
            .map(|t| server.score(&json!({"transactions": [t], "features": true})))
            .collect();
        online.insert(card, results);
    }
    for (clean, poisoned) in online["clean"].iter().zip(&online["poisoned"]) {
        assert_eq!(clean["features"], poisoned["features"]);
        assert_eq!(clean["score"], poisoned["score"]);
    }
    let last = &online["poisoned"][7];
    assert_eq!(last["decision"], json!("block"), "{last}");
    assert_eq!(last["features"]["card_txn_10m"], json!(8.0), "{last}");
    assert_eq!(last["features"]["card_txn_24h"], json!(11.0), "{last}");

    // Offline: the same transactions in a file, the future ones included.
    let inputs = [
        "timestamp",
        "card_id",
        "amount",
        "merchant_id",
        "merchant_category",
        "channel",
        "country",
        "home_country",
        "device_id",
    ];
    let mut csv = format!("transaction_id,{}\n", inputs.join(","));
    for (card, a) in [("clean", &clean), ("poisoned", &poisoned)] {
        let ahead = if card == "poisoned" {
            &a.ahead[..]
        } else {
            &[]
        };
        let all = a.history.iter().chain(ahead).chain(&a.burst);
        for (i, t) in all.enumerate() {
            let cells: Vec<String> = inputs
                .iter()
                .map(|f| match &t[*f] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            csv.push_str(&format!("{card}-{i},{}\n", cells.join(",")));
        }
    }
    let input = tmp.path().join("attack.csv");
    std::fs::write(&input, csv).expect("write");
    let output = tmp.path().join("features.csv");
    let pipeline = repo_root().join("examples/fraud");
    let run = edgescore(&[
        "transform",
        "--pipeline",
        path(&pipeline),
        "--input",
        path(&input),
        "--output",
        path(&output),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("3 event(s) left out"), "{stderr}");
    assert!(stderr.contains("9999-12-31T23:59:59.000Z"), "{stderr}");
    let mut reader = csv::Reader::from_path(&output).expect("features");
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("row").iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), 2 * (3 + 8), "the 3 future ones are left out");
    for card in ["clean", "poisoned"] {
        for (k, result) in online[card].iter().enumerate() {
            let id = format!("{card}-{}", 3 + if card == "poisoned" { 3 } else { 0 } + k);
            let row = rows.iter().find(|r| r[0] == id).expect("the burst row");
            for name in VELOCITY {
                let column = header.iter().position(|h| h == name).expect(name);
                let offline: f64 = row[column].parse().expect("f64");
                assert_eq!(
                    json!(offline),
                    result["features"][name],
                    "{id} {name}: offline vs online"
                );
            }
        }
    }
}

/// One rule for numbers and times, online and offline: each value is taken
/// by both paths to the same feature bits, or refused by both, naming the
/// field.
#[test]
fn one_rule_for_values_online_and_offline() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = Server::start(&["--alert-log", path(&tmp.path().join("alerts.jsonl"))]);
    let pipeline = repo_root().join("examples/fraud");
    // Each value as JSON and as a CSV cell, and whether it is taken.
    let amounts: [(&str, Value, bool); 9] = [
        ("1e39", json!(1e39), true),
        ("1.7976931348623157e308", json!(f64::MAX), true),
        ("5e-324", json!(5e-324), true),
        ("-0.0", json!(-0.0), true),
        ("12.5", json!(12.5), true),
        ("inf", json!("inf"), false),
        ("-inf", json!("-inf"), false),
        ("NaN", json!("NaN"), false),
        ("1e400", Value::Null, false),
    ];
    let header = "timestamp,card_id,amount,merchant_id,country,home_country\n";
    let mut accepted_csv = String::from(header);
    let mut online = Vec::new();
    for (i, (cell, value, taken)) in amounts.iter().enumerate() {
        let time = at(-100 + i as i64);
        let card = format!("v{i}");
        let body = match value {
            // 1e400 cannot be a JSON value: sent as text in the body.
            Value::Null => format!(
                "{{\"transactions\": [{{\"timestamp\": \"{time}\", \"card_id\": \"{card}\", \"amount\": 1e400, \"merchant_id\": \"m\", \"country\": \"US\", \"home_country\": \"US\"}}], \"features\": true}}"
            ),
            value => json!({"transactions": [{
                "timestamp": time, "card_id": card, "amount": value,
                "merchant_id": "m", "country": "US", "home_country": "US",
            }], "features": true})
            .to_string(),
        };
        let (status, answer) = server.post(body);
        let row = format!("{time},{card},{cell},m,US,US\n");
        if *taken {
            assert_eq!(status, 200, "{cell}: {answer}");
            online.push(answer["results"][0]["features"].clone());
            accepted_csv.push_str(&row);
            continue;
        }
        assert_eq!(status, 400, "{cell}: {answer}");
        // Offline, the same cell stops `edgescore transform`, naming it.
        let input = tmp.path().join(format!("refused{i}.csv"));
        std::fs::write(&input, format!("{header}{row}")).expect("write");
        let output = tmp.path().join(format!("refused{i}.out.csv"));
        let run = edgescore(&[
            "transform",
            "--pipeline",
            path(&pipeline),
            "--input",
            path(&input),
            "--output",
            path(&output),
        ]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{cell} is taken offline");
        assert!(
            stderr.contains("'amount' must be a finite number"),
            "{cell}: {stderr}"
        );
        assert!(!output.exists());
    }
    let input = tmp.path().join("accepted.csv");
    std::fs::write(&input, accepted_csv).expect("write");
    let output = tmp.path().join("accepted.out.csv");
    let run = edgescore(&[
        "transform",
        "--pipeline",
        path(&pipeline),
        "--input",
        path(&input),
        "--output",
        path(&output),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut reader = csv::Reader::from_path(&output).expect("features");
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("row").iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), online.len());
    for (row, features) in rows.iter().zip(&online) {
        for name in ["amount", "amount_log"] {
            let column = header.iter().position(|h| h == name).expect(name);
            let offline: f64 = row[column].parse().expect("f64");
            let online = features[name].as_f64().expect("a number");
            assert_eq!(offline.to_bits(), online.to_bits(), "{name}: {row:?}");
        }
    }
}
