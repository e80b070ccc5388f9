//! Malformed messages, a pipeline swap and a webhook that is down, while
//! the stream runs: each leaves it running with nothing lost.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::broker::Broker;
use crate::process::{Stream, wait_until_done};
use crate::tables::Format;
use crate::{fraud_pipeline, rows_by_id, transactions};
use edgescore_test_support::grafana;

/// Posts a webhook received: the Idempotency-Key header and the body.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A webhook receiver on `listener`: answers 200 to every POST and keeps
/// its idempotency key and body.
fn serve_webhook(listener: TcpListener, received: Received) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let received = received.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut length = 0usize;
                    let mut key = String::new();
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let header = line.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        let (name, value) = header.split_once(':').unwrap_or((header, ""));
                        match name.to_ascii_lowercase().as_str() {
                            "content-length" => length = value.trim().parse().unwrap_or(0),
                            "idempotency-key" => key = value.trim().to_owned(),
                            _ => {}
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    received
                        .lock()
                        .expect("no error")
                        .push((key, String::from_utf8_lossy(&body).into_owned()));
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if reader.get_mut().write_all(answer).is_err() {
                        return;
                    }
                }
            });
        }
    });
}

/// A registry version of the fraud pipeline with the logistic model.
fn logistic_version(dir: &Path) {
    let fraud = fraud_pipeline();
    std::fs::create_dir_all(dir.join("model")).expect("no error");
    std::fs::copy(fraud.join("transform.toml"), dir.join("transform.toml")).expect("no error");
    std::fs::copy(
        fraud.join("model/logistic.json"),
        dir.join("model/logistic.json"),
    )
    .expect("no error");
    let spec = std::fs::read_to_string(fraud.join("pipeline.toml"))
        .expect("no error")
        .replace("model/xgboost.json", "model/logistic.json");
    std::fs::write(dir.join("pipeline.toml"), spec).expect("no error");
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("no error");
    for entry in std::fs::read_dir(from).expect("no error") {
        let entry = entry.expect("no error");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("no error").is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("no error");
        }
    }
}

fn metrics_text(addr: std::net::SocketAddr) -> String {
    ureq::get(&format!("http://{addr}/metrics"))
        .call()
        .and_then(|r| r.into_body().read_to_string())
        .unwrap_or_default()
}

/// The value of the series `series` (name and labels) in `/metrics`, 0 when absent.
fn metric(addr: std::net::SocketAddr, series: &str) -> f64 {
    metrics_text(addr)
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen in 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn malformed_messages_a_swap_and_a_down_webhook_leave_the_stream_running() {
    let _one_at_a_time = crate::serial();
    let Some(broker) = Broker::start() else {
        return;
    };
    broker.create_topic("live", 4);
    let dir = tempfile::tempdir().expect("no error");
    let registry = dir.path().join("registry");
    copy_folder(
        &fraud_pipeline().join("model"),
        &registry.join("fraud/1/model"),
    );
    for file in ["transform.toml", "pipeline.toml"] {
        std::fs::copy(
            fraud_pipeline().join(file),
            registry.join("fraud/1").join(file),
        )
        .expect("no error");
    }
    // The webhook's port, with nothing listening yet: it is down.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("no error")
        .local_addr()
        .expect("no error")
        .port();
    let metrics = TcpListener::bind("127.0.0.1:0")
        .expect("no error")
        .local_addr()
        .expect("no error");
    let log = dir.path().join("stream.log");
    let args: Vec<String> = [
        "--brokers",
        &broker.bootstrap,
        "--topic",
        "live",
        "--group",
        "live",
        "--registry",
        &registry.display().to_string(),
        "--pipeline",
        "fraud",
        "--alerts-topic",
        "live-alerts",
        "--alert-webhook",
        &format!("http://127.0.0.1:{port}/hook"),
        "--table",
        &dir.path().join("table").display().to_string(),
        "--state-dir",
        &dir.path().join("state").display().to_string(),
        "--metrics-listen",
        &metrics.to_string(),
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let mut stream = Stream::start(&args, &log);

    // Malformed messages among good ones.
    let messages = transactions(4000, 5);
    let (first, second) = messages.split_at(2000);
    let malformed: Vec<(&str, &[u8], &str)> = vec![
        ("c1", b"not json", "not a JSON object"),
        ("c2", b"[1, 2, 3]", "not a JSON object"),
        ("c3", b"\xff\xfe\x00", "not UTF-8"),
        ("c4", br#"{"transaction_id": 7, "card_id": "c4"}"#, "not a text"),
        (
            "c5",
            br#"{"transaction_id": "bad-1", "timestamp": "2026-01-03T10:00:00Z", "card_id": "c5", "amount": "twelve", "merchant_id": "m1", "country": "US", "home_country": "US"}"#,
            "amount",
        ),
        (
            "c6",
            br#"{"transaction_id": "bad-2", "timestamp": "2026-01-03T10:00:00Z", "card_id": "c6", "amount": 3.5, "merchant_id": "m1", "country": "US", "home_country": "US", "colour": "red"}"#,
            "colour",
        ),
        (
            "c7",
            br#"{"transaction_id": "bad-3", "timestamp": "2026-01-03T10:00:00Z", "amount": 3.5, "merchant_id": "m1", "country": "US", "home_country": "US"}"#,
            "card_id",
        ),
    ];
    let mut batch: Vec<(&str, &[u8])> = first
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    for (i, (key, value, _)) in malformed.iter().enumerate() {
        batch.insert(i * 250, (key, value));
    }
    broker.produce("live", batch);
    wait_until_done(&broker, "live", "live", &mut [&mut stream], &log);

    let dead = broker.read_all("live.dead-letters");
    assert_eq!(dead.len(), malformed.len(), "dead letters: {dead:?}");
    for (key, value, says) in &malformed {
        let letter = dead
            .iter()
            .find(|d| d.key.as_deref() == Some(key))
            .unwrap_or_else(|| panic!("no dead letter for {key}"));
        let letter: serde_json::Value = serde_json::from_str(&letter.value).expect("no error");
        assert!(
            letter["error"].as_str().expect("no error").contains(says),
            "{key}: {letter}"
        );
        assert_eq!(letter["topic"], "live");
        match std::str::from_utf8(value) {
            Ok(text) => assert_eq!(letter["value"], text),
            Err(_) => assert!(letter["value_base64"].is_string()),
        }
    }

    // A new version in the registry, swapped in while the stream runs.
    let staging = dir.path().join("staging");
    logistic_version(&staging);
    std::fs::rename(&staging, registry.join("fraud/2")).expect("no error");
    wait_for("the swap to version 2", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("now serving version 2")
    });
    // The table cannot be written for a while (a file where its folder
    // was): the stream stops committing, retries, and loses nothing.
    let table = dir.path().join("table");
    let moved = dir.path().join("table.moved");
    std::fs::rename(&table, &moved).expect("no error");
    std::fs::write(&table, b"not a folder").expect("no error");
    broker.produce(
        "live",
        second.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
    );
    wait_for("a failed table write", || {
        metric(
            metrics,
            "edgescore_stream_sink_failures_total{sink=\"table\"}",
        ) > 0.0
    });
    std::thread::sleep(Duration::from_secs(2));
    let (done, total) = crate::process::progress(&broker, "live", "live");
    assert!(
        done < total,
        "offsets were committed past a batch the table did not take"
    );
    assert!(stream.running(), "the stream stopped on a failing sink");
    std::fs::remove_file(&table).expect("no error");
    std::fs::rename(&moved, &table).expect("no error");
    wait_until_done(&broker, "live", "live", &mut [&mut stream], &log);

    let rows = rows_by_id(Format::Parquet.read(&dir.path().join("table"), "live", 4));
    assert_eq!(rows.len(), 4000, "every good transaction, once");
    let versions: BTreeMap<&str, usize> = rows.values().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.version.as_str()).or_default() += 1;
        m
    });
    assert_eq!(versions.get("1"), Some(&2000), "{versions:?}");
    assert_eq!(versions.get("2"), Some(&2000), "{versions:?}");

    // The webhook comes up: every alert arrives, keyed by its transaction.
    let flagged: BTreeSet<String> = rows
        .values()
        .filter(|r| r.decision != "allow")
        .map(|r| r.transaction_id.clone())
        .collect();
    assert!(!flagged.is_empty());
    let received: Received = Arc::default();
    serve_webhook(
        TcpListener::bind(("127.0.0.1", port)).expect("no error"),
        received.clone(),
    );
    wait_for("every alert at the webhook", || {
        let keys: BTreeSet<String> = received
            .lock()
            .expect("no error")
            .iter()
            .filter(|(_, body)| !is_drift(body))
            .map(|(k, _)| k.clone())
            .collect();
        keys == flagged
    });
    for (key, body) in received.lock().expect("no error").iter() {
        let alert: serde_json::Value = serde_json::from_str(body).expect("no error");
        // A transaction's alert is keyed by its id; a drift alert (if the
        // windows crossed a threshold) by its own.
        let id = if is_drift(body) {
            &alert["id"]
        } else {
            &alert["transaction_id"]
        };
        assert_eq!(id, key.as_str(), "the key is the alert's id");
    }
    assert!(stream.running(), "the stream stopped");

    // What /metrics says of it.
    let text = metrics_text(metrics);
    for series in [
        "edgescore_stream_consumer_lag{partition=\"0\"}",
        "edgescore_stream_events_total{outcome=\"scored\"} 4000",
        &format!(
            "edgescore_stream_events_total{{outcome=\"dead_letter\"}} {}",
            malformed.len()
        ),
        "edgescore_stream_sink_seconds_count{sink=\"table\"}",
        "edgescore_stream_sink_seconds_count{sink=\"alerts_topic\"}",
        "edgescore_stream_scoring_seconds_count",
        "edgescore_stream_webhook_retries_total",
        "edgescore_swaps_total{model=\"fraud\"} 2",
    ] {
        assert!(text.contains(series), "/metrics lacks {series}:\n{text}");
    }
    // Every stream metric the Grafana dashboard queries is exported (the
    // server's are held to a live server in tests/grafana.rs).
    let queried: Vec<String> = grafana::dashboard_metrics()
        .into_iter()
        .filter(|name| name.starts_with("edgescore_stream_"))
        .collect();
    assert!(
        !queried.is_empty(),
        "the dashboard queries no stream metric"
    );
    let missing = grafana::missing(&queried, &text);
    assert!(
        missing.is_empty(),
        "the dashboard queries what the stream does not export: {missing:#?}\n{text}"
    );
    stream.stop();
}

/// Whether a webhook body is a drift alert.
fn is_drift(body: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(body).is_ok_and(|a| a["kind"] == "drift")
}
