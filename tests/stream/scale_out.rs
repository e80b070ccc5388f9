//! Two `edgescore stream` processes in one group with a shared Redis: they
//! share the partitions, the group rebalances when one leaves, and the
//! features and decisions are those of one process alone.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use edgescore_test_support::redis_server::RedisServer;

use crate::broker::Broker;
use crate::process::{Stream, progress, wait_until_done};
use crate::tables::Format;
use crate::{check_against, run_args, transactions};

const TRANSACTIONS: usize = 20_000;

/// Whether the log says partitions were assigned to its process.
fn was_assigned(log: &std::path::Path) -> bool {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .any(|l| l.contains("partitions assigned: [") && !l.contains("partitions assigned: []"))
}

#[test]
fn two_processes_share_the_partitions_and_decide_as_one() {
    let _one_at_a_time = crate::serial();
    let Some(broker) = Broker::start() else {
        return;
    };
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let messages = transactions(TRANSACTIONS, 21);
    broker.create_topic("tx", 4);
    broker.produce(
        "tx",
        messages.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
    );
    let dir = tempfile::tempdir().expect("temporary folder");

    // One process alone.
    let single = dir.path().join("single");
    std::fs::create_dir_all(&single).expect("no error");
    let log = single.join("stream.log");
    let mut alone = Stream::start(
        &run_args(&broker, "tx", "single", &single, &format!("{}1", redis.url)),
        &log,
    );
    wait_until_done(&broker, "single", "tx", &mut [&mut alone], &log);
    alone.stop();

    // Two in one group, sharing Redis, the table and the alert log; the
    // table a Delta Lake table both commit to.
    let pair = dir.path().join("pair");
    std::fs::create_dir_all(&pair).expect("no error");
    let format = Format::delta_if_readable();
    let mut args = run_args(&broker, "tx", "pair", &pair, &format!("{}2", redis.url));
    args.extend(["--table-format".to_owned(), format.name().to_owned()]);
    let (log_a, log_b) = (pair.join("a.log"), pair.join("b.log"));
    let mut a = Stream::start(&args, &log_a);
    let deadline = Instant::now() + Duration::from_secs(120);
    while progress(&broker, "pair", "tx").0 == 0 {
        assert!(
            Instant::now() < deadline,
            "the first process committed nothing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut b = Stream::start(&args, &log_b);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !was_assigned(&log_b) {
        assert!(a.running() && b.running(), "a process stopped");
        assert!(
            Instant::now() < deadline,
            "the second process was never assigned a partition: {}",
            std::fs::read_to_string(&log_b).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (at_join, total) = progress(&broker, "pair", "tx");
    assert!(
        at_join < total,
        "the first process finished before the second joined"
    );
    // Both score for a while, then the second leaves: the first takes its
    // partitions back.
    let deadline = Instant::now() + Duration::from_secs(120);
    while progress(&broker, "pair", "tx").0 < at_join + (total - at_join) / 3 {
        assert!(Instant::now() < deadline, "no progress with two processes");
        std::thread::sleep(Duration::from_millis(50));
    }
    b.stop();
    wait_until_done(&broker, "pair", "tx", &mut [&mut a], &log_a);
    a.stop();

    let ids: BTreeSet<String> = (0..TRANSACTIONS).map(|i| format!("t{i:08}")).collect();
    check_against(&broker, &single, "pair", (&pair, format), &ids);
}
