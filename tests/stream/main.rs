//! `edgescore stream` against a real Kafka-protocol broker (tansu), as a
//! fraud team runs it: generated card transactions on a 4-partition topic,
//! keyed by card; the binary as a subprocess; everything it wrote read back
//! (the Parquet table, the alerts topic, the alert log, the dead letters).
//!
//! - `crash`: kill -9 at points spread over the run, restarted each time:
//!   every transaction once in the table, every alert once on the topic
//!   and in the log, and features equal to a run that never stopped
//!   (embedded store from snapshots plus the stream; Redis journalled).
//! - `scale_out`: two processes in one group with a shared Redis, one
//!   leaving half-way: the same features and decisions as one process.
//! - `resilience`: malformed messages, a pipeline swapped in the registry
//!   and a webhook that is down, while the stream runs.
//! - `dashboard`: the dashboard on `--metrics-listen`: the page, the
//!   stream's `/v1/dashboard`, and `/v1/events` carrying the alert log's
//!   alerts as batches commit.

mod broker;
mod crash;
mod dashboard;
mod process;
mod resilience;
mod scale_out;
mod tables;

#[path = "../../examples/fraud/generate.rs"]
mod generate;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use broker::Broker;
use tables::{Format, TableRow};

/// The stream tests run one at a time: each runs a broker and streams
/// whose timing (kill points, session timeouts) two cores shared three
/// ways would stretch.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The fraud example's pipeline folder.
fn fraud_pipeline() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/fraud")
}

/// `n` generated transactions as messages: key = card, value = the JSON
/// the pipeline reads plus `transaction_id`.
fn transactions(n: usize, seed: u64) -> Vec<(String, Vec<u8>)> {
    let generated = generate::generate(&generate::Config {
        seed,
        cards: 3000,
        days: 40,
        ..generate::Config::default()
    });
    assert!(generated.len() >= n, "only {} generated", generated.len());
    generated
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, t)| {
            let mut fields = t.to_json();
            fields["transaction_id"] = format!("t{i:08}").into();
            (format!("c{:05}", t.card), fields.to_string().into_bytes())
        })
        .collect()
}

/// The flags of one run: its group, its own table, alerts topic, alert log
/// and state folder under `dir`.
fn run_args(
    broker: &broker::Broker,
    topic: &str,
    group: &str,
    dir: &Path,
    store: &str,
) -> Vec<String> {
    [
        "--brokers",
        &broker.bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        // The broker of the tests drops a member that stops heartbeating
        // after this; a process restarted sooner could find itself
        // assigned nothing (see crash.rs).
        "--kafka",
        "session.timeout.ms=6000",
        "--pipeline",
        &fraud_pipeline().display().to_string(),
        "--feature-store",
        store,
        "--alerts-topic",
        &format!("{group}-alerts"),
        "--alert-log",
        &dir.join("alerts.jsonl").display().to_string(),
        "--table",
        &dir.join("table").display().to_string(),
        "--state-dir",
        &dir.join("state").display().to_string(),
        "--snapshot-interval-seconds",
        "1",
        "--max-batch",
        "500",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// The table's rows by transaction id; each id once (panics naming a
/// repeated one).
fn rows_by_id(rows: Vec<TableRow>) -> BTreeMap<String, TableRow> {
    let mut by_id = BTreeMap::new();
    for row in rows {
        let id = row.transaction_id.clone();
        if let Some(first) = by_id.insert(id.clone(), row) {
            panic!(
                "transaction {id} is in the table twice (first at offset {})",
                first.offset
            );
        }
    }
    by_id
}

/// The transaction ids of alert JSON lines; each once. Drift alerts (the
/// example's profile comes with the pipeline) name no transaction and are
/// passed over.
fn alert_ids<'a>(alerts: impl IntoIterator<Item = &'a str>, what: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for line in alerts {
        let alert: serde_json::Value = serde_json::from_str(line).expect("an alert is JSON");
        if alert["kind"] == "drift" {
            continue;
        }
        let id = alert["transaction_id"].as_str().expect("an id").to_owned();
        assert!(ids.insert(id.clone()), "alert {id} is in {what} twice");
    }
    ids
}

/// Whether two tables hold the same transactions with the same features,
/// scores and decisions, to the bit; the first difference otherwise.
fn same_scores(expected: &BTreeMap<String, TableRow>, got: &BTreeMap<String, TableRow>) {
    assert_eq!(
        expected.len(),
        got.len(),
        "{} transactions expected, {} in the table",
        expected.len(),
        got.len()
    );
    let bits = |f: &BTreeMap<String, Option<f64>>| -> BTreeMap<String, Option<u64>> {
        f.iter()
            .map(|(k, v)| (k.clone(), v.map(f64::to_bits)))
            .collect()
    };
    let mut differ = Vec::new();
    for (id, want) in expected {
        let row = got
            .get(id)
            .unwrap_or_else(|| panic!("transaction {id} is missing"));
        if bits(&row.features) != bits(&want.features)
            || row.score.to_bits() != want.score.to_bits()
            || row.decision != want.decision
        {
            let features: Vec<String> = row
                .features
                .iter()
                .filter(|(k, v)| want.features.get(*k) != Some(*v))
                .map(|(k, v)| format!("{k}: {v:?} (expected {:?})", want.features[k]))
                .collect();
            differ.push(format!(
                "{id} (partition {} offset {}): score {} (expected {}), {}",
                row.partition,
                row.offset,
                row.score,
                want.score,
                features.join(", ")
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} transactions differ from the uninterrupted run; the first:\n{}",
        differ.len(),
        differ
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// What a run wrote (its table in `format`), checked against the
/// uninterrupted `reference` (Parquet) of topic `tx`, 4 partitions: each
/// transaction once in the table with the same features, score and
/// decision; each alert once on the topic and in the log.
pub(crate) fn check_against(
    broker: &Broker,
    reference: &Path,
    group: &str,
    (dir, format): (&Path, Format),
    all_ids: &BTreeSet<String>,
) {
    let expected = rows_by_id(Format::Parquet.read(&reference.join("table"), "tx", 4));
    let got = rows_by_id(format.read(&dir.join("table"), "tx", 4));
    assert_eq!(
        got.keys().cloned().collect::<BTreeSet<_>>(),
        *all_ids,
        "{group}: the table does not hold every transaction"
    );
    same_scores(&expected, &got);
    let flagged: BTreeSet<String> = got
        .values()
        .filter(|r| r.decision != "allow")
        .map(|r| r.transaction_id.clone())
        .collect();
    assert!(
        flagged.len() * 1000 > all_ids.len(),
        "only {} alerts in {}",
        flagged.len(),
        all_ids.len()
    );
    let on_topic = broker.read_all(&format!("{group}-alerts"));
    for record in &on_topic {
        let alert: serde_json::Value = serde_json::from_str(&record.value).expect("JSON");
        assert_eq!(
            alert["partition"], record.partition,
            "alerts of input partition p are on partition p"
        );
        assert_eq!(
            record.key.as_deref(),
            alert["transaction"]["card_id"].as_str(),
            "an alert is keyed by its card"
        );
    }
    let topic_ids = alert_ids(
        on_topic.iter().map(|r| r.value.as_str()),
        "the alerts topic",
    );
    assert_eq!(topic_ids, flagged, "{group}: the alerts topic");
    let log = std::fs::read_to_string(dir.join("alerts.jsonl")).expect("alert log");
    let log_ids = alert_ids(log.lines().filter(|l| l.starts_with('{')), "the alert log");
    assert_eq!(log_ids, flagged, "{group}: the alert log");
}
