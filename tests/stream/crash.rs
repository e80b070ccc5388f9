//! kill -9 at points spread over a run of 100,000 transactions, restarted
//! each time: 0 lost, 0 doubled, features equal to an uninterrupted run.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use edgescore_test_support::redis_server::RedisServer;

use crate::broker::Broker;
use crate::process::{Stream, progress, wait_until_done};
use crate::tables::Format;
use crate::{check_against, run_args, transactions};

const TRANSACTIONS: usize = 100_000;
/// The consumers' session timeout (`run_args`).
const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
/// Where the kills fall, as fractions of the messages committed.
const KILL_POINTS: [f64; 6] = [0.08, 0.22, 0.38, 0.54, 0.7, 0.86];

/// Runs a stream over the whole topic and stops it cleanly.
fn run_to_end(broker: &Broker, group: &str, dir: &Path, store: &str) {
    std::fs::create_dir_all(dir).expect("run folder");
    let log = dir.join("stream.log");
    let mut stream = Stream::start(&run_args(broker, "tx", group, dir, store), &log);
    wait_until_done(broker, group, "tx", &mut [&mut stream], &log);
    stream.stop();
}

/// Runs a stream over the whole topic, killing it with SIGKILL once past
/// each of [`KILL_POINTS`] (plus a pseudo-random delay of up to 300 ms)
/// and starting it again; returns how many kills fell before the end.
/// The table is written in `format`.
fn run_with_kills(
    broker: &Broker,
    group: &str,
    (dir, format): (&Path, Format),
    store: &str,
) -> usize {
    std::fs::create_dir_all(dir).expect("run folder");
    let log = dir.join("stream.log");
    let mut args = run_args(broker, "tx", group, dir, store);
    args.extend(["--table-format".to_owned(), format.name().to_owned()]);
    let mut random: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut kills_mid_run = 0;
    for point in KILL_POINTS {
        let mut stream = Stream::start(&args, &log);
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let (done, total) = progress(broker, group, "tx");
            if done as f64 >= point * total as f64 {
                break;
            }
            assert!(
                stream.running(),
                "the stream stopped: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            assert!(
                Instant::now() < deadline,
                "no progress past {done} of {total}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        random = random
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        std::thread::sleep(Duration::from_millis((random >> 33) % 300));
        let (done, total) = progress(broker, group, "tx");
        stream.kill();
        if done < total {
            kills_mid_run += 1;
        }
        eprintln!("{group}: kill -9 at {done} of {total} committed");
        // tansu 0.6 drops a member that stopped heartbeating only when it
        // is past its session timeout as another joins; one that joins
        // sooner is assigned nothing. (Kafka itself rebalances once the
        // old member's session ends.)
        std::thread::sleep(SESSION_TIMEOUT + Duration::from_secs(1));
    }
    let mut stream = Stream::start(&args, &log);
    wait_until_done(broker, group, "tx", &mut [&mut stream], &log);
    stream.stop();
    kills_mid_run
}

#[test]
fn kill_9_five_times_loses_nothing_and_doubles_nothing() {
    let _one_at_a_time = crate::serial();
    let Some(broker) = Broker::start() else {
        return;
    };
    let messages = transactions(TRANSACTIONS, 11);
    let all_ids: BTreeSet<String> = (0..TRANSACTIONS).map(|i| format!("t{i:08}")).collect();
    broker.create_topic("tx", 4);
    broker.produce(
        "tx",
        messages.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
    );
    let dir = tempfile::tempdir().expect("temporary folder");
    let reference = dir.path().join("reference");
    run_to_end(&broker, "reference", &reference, "embedded");

    // The embedded store: windows from the last snapshot plus the stream.
    let embedded = dir.path().join("embedded");
    let run = (embedded.as_path(), Format::Parquet);
    let kills = run_with_kills(&broker, "embedded", run, "embedded");
    assert!(kills >= 5, "only {kills} kills fell before the end");
    check_against(&broker, &reference, "embedded", run, &all_ids);

    // Redis: each batch journalled, an uncommitted one taken back; the
    // table in Delta Lake, one commit per batch, read back by Python's
    // `deltalake`.
    if let Some(redis) = RedisServer::start() {
        let shared = dir.path().join("redis");
        let run = (shared.as_path(), Format::delta_if_readable());
        let kills = run_with_kills(&broker, "redis", run, &format!("{}1", redis.url));
        assert!(kills >= 5, "only {kills} kills fell before the end");
        check_against(&broker, &reference, "redis", run, &all_ids);
    }
}
