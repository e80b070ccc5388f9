//! The dashboard of a stream, on its `--metrics-listen` address: the page
//! at `/`, a `/v1/dashboard` of the stream's own (lag per partition held,
//! decisions, latency from the broker to the commit) and `/v1/events`,
//! which carries every alert of every committed batch, as the alert log
//! has it.

use std::io::BufRead as _;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::broker::Broker;
use crate::process::{Stream, wait_until_done};
use crate::{fraud_pipeline, transactions};

fn get(url: &str) -> (u16, String) {
    match ureq::get(url).call() {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.into_body().read_to_string().unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    }
}

/// Reads the server-sent events of `url` into `events` as (event, data)
/// pairs, until the stream ends.
fn listen(url: String, events: Arc<Mutex<Vec<(String, String)>>>) {
    std::thread::spawn(move || {
        let Ok(response) = ureq::get(&url).call() else {
            return;
        };
        let mut event = String::new();
        for line in std::io::BufReader::new(response.into_body().into_reader()).lines() {
            let Ok(line) = line else { return };
            if let Some(name) = line.strip_prefix("event: ") {
                event = name.to_owned();
            } else if let Some(data) = line.strip_prefix("data: ") {
                events
                    .lock()
                    .expect("events")
                    .push((event.clone(), data.to_owned()));
            }
        }
    });
}

#[test]
fn a_stream_serves_the_dashboard_and_a_feed_of_its_committed_alerts() {
    let _one_at_a_time = crate::serial();
    let Some(broker) = Broker::start() else {
        return;
    };
    broker.create_topic("watched", 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let listen_on = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let alert_log = dir.path().join("alerts.jsonl");
    let log = dir.path().join("stream.log");
    let args: Vec<String> = [
        "--brokers",
        &broker.bootstrap,
        "--topic",
        "watched",
        "--group",
        "watched",
        "--pipeline",
        &fraud_pipeline().display().to_string(),
        "--alert-log",
        &alert_log.display().to_string(),
        "--state-dir",
        &dir.path().join("state").display().to_string(),
        "--metrics-listen",
        &listen_on.to_string(),
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let mut stream = Stream::start(&args, &log);
    let base = format!("http://{listen_on}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&format!("{base}/v1/dashboard")).0 != 200 {
        assert!(
            Instant::now() < deadline && stream.running(),
            "the dashboard never answered: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, page) = get(&format!("{base}/"));
    assert_eq!(status, 200);
    assert!(
        page.contains("<title>edgescore dashboard</title>"),
        "{page}"
    );
    let (status, _) = get(&format!("{base}/dashboard/uPlot.iife.min.js"));
    assert_eq!(status, 200);

    let events = Arc::new(Mutex::new(Vec::new()));
    listen(format!("{base}/v1/events"), events.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    while events.lock().expect("events").is_empty() {
        assert!(Instant::now() < deadline, "the feed never said hello");
        std::thread::sleep(Duration::from_millis(20));
    }

    let messages = transactions(2000, 11);
    broker.produce(
        "watched",
        messages.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
    );
    wait_until_done(&broker, "watched", "watched", &mut [&mut stream], &log);

    // Every alert in the log is on the feed, after its commit.
    let logged: Vec<serde_json::Value> = std::fs::read_to_string(&alert_log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .filter(|a: &serde_json::Value| a["kind"] != "drift")
        .collect();
    assert!(!logged.is_empty(), "no alert in 2000 transactions");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let fed: Vec<serde_json::Value> = events
            .lock()
            .expect("events")
            .iter()
            .filter(|(event, _)| event == "alert")
            .map(|(_, data)| serde_json::from_str(data).expect("JSON data"))
            .collect();
        if fed.len() >= logged.len() {
            assert_eq!(fed, logged, "the feed's alerts are the log's");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} alerts on the feed, {} in the log",
            fed.len(),
            logged.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let (status, summary) = get(&format!("{base}/v1/dashboard"));
    assert_eq!(status, 200);
    let summary: serde_json::Value = serde_json::from_str(&summary).expect("JSON");
    assert_eq!(summary["source"], "stream");
    assert_eq!(summary["stream"]["topic"], "watched");
    assert_eq!(summary["stream"]["group"], "watched");
    let partitions: Vec<i64> = summary["stream"]["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| p["partition"].as_i64().expect("a partition"))
        .collect();
    assert_eq!(partitions, [0, 1], "{summary}");
    assert_eq!(summary["stream"]["dead_letters"], 0);
    let pipeline = &summary["pipelines"][0];
    assert_eq!(pipeline["name"], "fraud", "{summary}");
    let decided: u64 = ["allow", "review", "block"]
        .iter()
        .map(|d| pipeline["decisions"][d].as_u64().expect("a count"))
        .sum();
    assert_eq!(decided, 2000, "{summary}");
    assert_eq!(pipeline["latency_of"], "broker to commit");
    assert!(pipeline["latency"]["p99_ms"].is_number(), "{summary}");
    assert_eq!(summary["models"][0]["kind"], "pipeline");
    // The example's profile came with the pipeline: the stream watched the
    // drift of all 2000 committed transactions, and /metrics says so.
    assert_eq!(pipeline["drift"]["window_events"], 2000, "{summary}");
    let (status, metrics) = get(&format!("{base}/metrics"));
    assert_eq!(status, 200);
    let window = metrics
        .lines()
        .find(|l| l.starts_with("edgescore_drift_window_events{pipeline=\"fraud\""))
        .unwrap_or_else(|| panic!("no drift window gauge in:\n{metrics}"));
    // Set at each check (every 100 events or more, as batches fall).
    let gauge: u64 = window
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("a count");
    assert!((1900..=2000).contains(&gauge), "{window}");
    stream.stop();
}
