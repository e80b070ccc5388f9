//! One suite for every feature store: the embedded store (needs nothing) and
//! the Redis store against a real `redis-server` (started per test on a free
//! port; CI installs it and sets EDGESCORE_REQUIRE_REDIS=1 so these cannot
//! skip). The Redis suite also runs two host processes observing the same
//! card at once: both count.
//!
//! `suite` holds the suite's checks, each taking a way to make a fresh
//! store; `pipeline_requests` runs the fraud pipeline's requests on a store
//! that fails or stalls when told to.

mod pipeline_requests;
mod suite;

use suite::{
    a_future_event_does_not_blind_later_ones, a_late_event_lands_in_its_place,
    concurrent_observers_all_count, forget_takes_back_exactly_the_observed_events,
    lookups_return_what_was_put, malformed_requests_are_refused,
    retention_and_the_per_entity_cap_bound_memory, same_stream_same_bits,
    windows_count_sum_distinct_and_gap,
};

use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use edgescore_runtime::feature_store::{
    Aggregate, EmbeddedLimits, EmbeddedStore, FeatureStore, Observation, StoreError, Window,
};
use edgescore_serve::redis_store::{RedisOptions, RedisStore};

fn window(name: &str, aggregate: Aggregate, seconds: u32) -> Window {
    Window {
        name: name.into(),
        aggregate,
        seconds,
    }
}

fn event(seconds: i64, value: f64, key: &str) -> Observation {
    Observation {
        timestamp_ms: seconds * 1000,
        value,
        distinct_key: Some(key.into()),
    }
}

fn windows() -> Vec<Window> {
    vec![
        window("count-1h", Aggregate::Count, 3600),
        window("sum-1h", Aggregate::Sum, 3600),
        window("merchants-1h", Aggregate::DistinctCount, 3600),
        window("since-last", Aggregate::SecondsSinceLast, 86_400),
    ]
}

/// Makes a fresh, empty store with these limits.
type MakeStore<'a> = &'a dyn Fn(EmbeddedLimits) -> Arc<dyn FeatureStore>;

fn embedded(limits: EmbeddedLimits) -> Arc<dyn FeatureStore> {
    Arc::new(EmbeddedStore::new(limits))
}

#[test]
fn embedded_store_suite() {
    windows_count_sum_distinct_and_gap(&embedded);
    a_late_event_lands_in_its_place(&embedded);
    retention_and_the_per_entity_cap_bound_memory(&embedded);
    malformed_requests_are_refused(&embedded);
    concurrent_observers_all_count(&embedded);
    lookups_return_what_was_put(&embedded);
    a_future_event_does_not_blind_later_ones(&embedded);
    forget_takes_back_exactly_the_observed_events(&embedded);
}

/// 100 entities named by 100 KB ids in a store of 1 MiB: the oldest are
/// evicted, the bytes stay within the budget, and a forgotten entity
/// gives its bytes back.
#[test]
fn embedded_memory_is_bounded_in_bytes() {
    let store = EmbeddedStore::new(EmbeddedLimits {
        max_bytes: 1 << 20,
        ..EmbeddedLimits::default()
    });
    let w = windows();
    let mut last = None;
    for i in 0..100 {
        let id = format!("{i:03}{}", "x".repeat(100_000));
        last = Some(
            store
                .observe("card", &id, &event(i, 1.0, "m"), &w)
                .expect("observe")
                .receipt,
        );
        assert!(store.bytes() <= 1 << 20, "{} bytes", store.bytes());
    }
    assert!(
        (5..=10).contains(&store.entities()),
        "{} entities",
        store.entities()
    );
    let newest = format!("099{}", "x".repeat(100_000));
    assert_eq!(
        store.read("card", &newest, 99_000, &w).expect("read")[0],
        Some(1.0)
    );
    let oldest = format!("000{}", "x".repeat(100_000));
    assert_eq!(
        store.read("card", &oldest, 99_000, &w).expect("read")[0],
        Some(0.0)
    );
    let before = store.bytes();
    store.forget(&[last.expect("observed")]).expect("forget");
    // The entity held its 100 KB id (counted once since the store keeps
    // it once) and its event: all of it comes back.
    assert!(
        before - store.bytes() > 100_000,
        "{before} -> {}",
        store.bytes()
    );
}

/// A Redis store at `url` with `limits`, whose calls may wait 500 ms: the
/// suite checks what the store computes, not its timeouts, and a loaded
/// test machine can take longer than the 5 ms default to schedule a reply.
fn connect(url: &str, limits: EmbeddedLimits) -> Result<RedisStore, StoreError> {
    RedisStore::connect_with(
        url,
        RedisOptions {
            timeout: Duration::from_millis(500),
            limits,
            ..RedisOptions::default()
        },
    )
}

/// The suite's redis-server, with the stores the suite makes on it.
struct Redis {
    _server: edgescore_test_support::redis_server::RedisServer,
    url: String,
}

impl Redis {
    /// `None` when redis-server is not installed (and not required).
    fn start() -> Option<Self> {
        let server = edgescore_test_support::redis_server::RedisServer::start()?;
        let url = server.url.clone();
        Some(Self {
            _server: server,
            url,
        })
    }

    /// A store on a fresh, empty database.
    fn store(&self, limits: EmbeddedLimits) -> Arc<dyn FeatureStore> {
        let client = redis::Client::open(self.url.as_str()).expect("client");
        let mut c = client.get_connection().expect("connection");
        redis::cmd("FLUSHALL").query::<()>(&mut c).expect("flush");
        Arc::new(connect(&self.url, limits).expect("connect"))
    }
}

#[test]
fn redis_store_suite() {
    let Some(redis) = Redis::start() else { return };
    let make = |limits| redis.store(limits);
    windows_count_sum_distinct_and_gap(&make);
    retention_and_the_per_entity_cap_bound_memory(&make);
    malformed_requests_are_refused(&make);
    concurrent_observers_all_count(&make);
    lookups_return_what_was_put(&make);
    a_future_event_does_not_blind_later_ones(&make);
    forget_takes_back_exactly_the_observed_events(&make);
    // Late events need two stores at once: two databases.
    let late_a =
        Arc::new(connect(&format!("{}1", redis.url), EmbeddedLimits::default()).expect("db 1"));
    let late_b =
        Arc::new(connect(&format!("{}2", redis.url), EmbeddedLimits::default()).expect("db 2"));
    let pair = std::sync::Mutex::new(vec![late_a as Arc<dyn FeatureStore>, late_b]);
    a_late_event_lands_in_its_place(&move |_| pair.lock().expect("lock").remove(0));
}

#[test]
fn redis_and_embedded_agree_to_the_bit() {
    let Some(redis) = Redis::start() else { return };
    same_stream_same_bits(
        &EmbeddedStore::default(),
        &*redis.store(EmbeddedLimits::default()),
    );
}

/// Events each host process observes.
const PER_PROCESS: i64 = 400;

/// Two `edgescore` host processes (this test binary, re-run as a child)
/// observe the same card at the same moments: every event of both counts.
#[test]
fn two_host_processes_count_both() {
    let Some(redis) = Redis::start() else { return };
    let _ = redis.store(EmbeddedLimits::default());
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<Child> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "observe_as_a_child_process",
                    "--ignored",
                    "--nocapture",
                ])
                .env("EDGESCORE_TEST_REDIS_URL", &redis.url)
                .spawn()
                .expect("child")
        })
        .collect();
    for mut child in children {
        assert!(
            child.wait().expect("wait").success(),
            "a child process failed"
        );
    }
    let store = connect(&redis.url, EmbeddedLimits::default()).expect("connect");
    let w = vec![
        window("count", Aggregate::Count, 3600),
        window("sum", Aggregate::Sum, 3600),
    ];
    assert_eq!(
        store
            .read("card", "shared", PER_PROCESS * 1000, &w)
            .expect("read"),
        vec![
            Some(2.0 * PER_PROCESS as f64),
            Some(2.0 * PER_PROCESS as f64)
        ]
    );
}

/// The child half of [`two_host_processes_count_both`]; does nothing when
/// run on its own.
#[test]
#[ignore = "run by two_host_processes_count_both as a child process"]
fn observe_as_a_child_process() {
    let Ok(url) = std::env::var("EDGESCORE_TEST_REDIS_URL") else {
        return;
    };
    let store = connect(&url, EmbeddedLimits::default()).expect("connect");
    let w = vec![window("count", Aggregate::Count, 3600)];
    for i in 0..PER_PROCESS {
        store
            .observe("card", "shared", &event(i, 1.0, "k"), &w)
            .expect("observe");
    }
}

/// A stream's batch journal: rolling it back forgets what the batch
/// observed and puts back what retention dropped for it, so the batch
/// observed again reads the windows it read the first time.
#[test]
fn a_rolled_back_journal_puts_back_what_retention_dropped() {
    let Some(redis) = Redis::start() else { return };
    let limits = EmbeddedLimits {
        retention_seconds: 3600,
        ..EmbeddedLimits::default()
    };
    let _ = redis.store(limits);
    let store = connect(&redis.url, limits).expect("connect");
    let w = [window("count-1h", Aggregate::Count, 3600)];
    for minute in 0..3 {
        store
            .observe("card", "c1", &event(minute * 60, 1.0, "m"), &w)
            .expect("observe");
    }
    let before = store.read("card", "c1", 180_000, &w).expect("read");
    assert_eq!(before, vec![Some(3.0)]);
    store.begin_journal("journal", 10, 11).expect("begin");
    // Two hours later: retention drops the three earlier events.
    let late = store
        .observe("card", "c1", &event(7200, 1.0, "m"), &w)
        .expect("observe");
    assert_eq!(late.values, vec![Some(1.0)]);
    assert_eq!(
        store.read("card", "c1", 180_000, &w).expect("read"),
        vec![Some(0.0)]
    );
    assert_eq!(store.rollback_journal("journal").expect("rollback"), 1);
    assert_eq!(store.read("card", "c1", 180_000, &w).expect("read"), before);
    assert_eq!(
        store.read("card", "c1", 7_200_000, &w).expect("read"),
        vec![Some(0.0)]
    );
    // A journal of a batch that committed (the next offset is past its
    // last) is only cleared.
    store.begin_journal("journal", 10, 11).expect("begin");
    store
        .observe("card", "c1", &event(240, 1.0, "m"), &w)
        .expect("observe");
    assert_eq!(store.recover_journal("journal", 12).expect("recover"), 0);
    assert_eq!(
        store.read("card", "c1", 240_000, &w).expect("read"),
        vec![Some(4.0)]
    );
    // One that did not is undone.
    store.begin_journal("journal", 12, 13).expect("begin");
    store
        .observe("card", "c1", &event(300, 1.0, "m"), &w)
        .expect("observe");
    assert_eq!(store.recover_journal("journal", 12).expect("recover"), 1);
    assert_eq!(
        store.read("card", "c1", 300_000, &w).expect("read"),
        vec![Some(4.0)]
    );
}
