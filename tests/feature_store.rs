//! One suite for every feature store: the embedded store (needs nothing) and
//! the Redis store against a real `redis-server` (started per test on a free
//! port; CI installs it and sets EDGESCORE_REQUIRE_REDIS=1 so these cannot
//! skip). The Redis suite also runs two host processes observing the same
//! card at once: both count.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edgescore_runtime::feature_store::{
    Aggregate, EmbeddedLimits, EmbeddedStore, FeatureStore, Observation, Receipt, StoreError,
    Window,
};
use edgescore_serve::redis_store::RedisStore;

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

fn windows_count_sum_distinct_and_gap(make: MakeStore<'_>) {
    let store = make(EmbeddedLimits::default());
    let w = windows();
    let first = store
        .observe("card", "c1", &event(0, 10.0, "m1"), &w)
        .expect("observe")
        .values;
    assert_eq!(first, vec![Some(1.0), Some(10.0), Some(1.0), None]);
    let second = store
        .observe("card", "c1", &event(600, 5.0, "m2"), &w)
        .expect("observe")
        .values;
    assert_eq!(second, vec![Some(2.0), Some(15.0), Some(2.0), Some(600.0)]);
    let third = store
        .observe("card", "c1", &event(600 + 3600, 1.0, "m1"), &w)
        .expect("observe")
        .values;
    // (t - 3600 s, t] excludes the first event.
    assert_eq!(third, vec![Some(1.0), Some(1.0), Some(1.0), Some(3600.0)]);
    let read = store
        .read("card", "c1", (600 + 3600) * 1000, &w)
        .expect("read");
    assert_eq!(read, vec![Some(1.0), Some(1.0), Some(1.0), Some(0.0)]);
    let other = store.read("card", "c2", 0, &w).expect("read");
    assert_eq!(other, vec![Some(0.0), Some(0.0), Some(0.0), None]);
    let other = store.read("device", "c1", 4200 * 1000, &w).expect("read");
    assert_eq!(other[0], Some(0.0));
}

fn a_late_event_lands_in_its_place(make: MakeStore<'_>) {
    let (in_order, late) = (
        make(EmbeddedLimits::default()),
        make(EmbeddedLimits::default()),
    );
    let w = windows();
    for s in [0, 100, 200] {
        in_order
            .observe("n", "e", &event(s, 1.5, "k"), &w)
            .expect("observe");
    }
    for s in [0, 200, 100] {
        late.observe("n", "e", &event(s, 1.5, "k"), &w)
            .expect("observe");
    }
    assert_eq!(
        in_order.read("n", "e", 300_000, &w),
        late.read("n", "e", 300_000, &w)
    );
}

fn retention_and_the_per_entity_cap_bound_memory(make: MakeStore<'_>) {
    let store = make(EmbeddedLimits {
        retention_seconds: 3600,
        max_events_per_entity: 3,
        max_entities: 1000,
        ..EmbeddedLimits::default()
    });
    let w = vec![window("count", Aggregate::Count, 3600)];
    for s in 0..10 {
        store
            .observe("n", "a", &event(s, 1.0, "k"), &w)
            .expect("observe");
    }
    assert_eq!(
        store.read("n", "a", 9000, &w).expect("read"),
        vec![Some(3.0)]
    );
    // Past retention, old events go.
    store
        .observe("n", "a", &event(10_000, 1.0, "k"), &w)
        .expect("observe");
    assert_eq!(
        store.read("n", "a", 10_000_000, &w).expect("read"),
        vec![Some(1.0)]
    );
    // A window past retention is refused rather than silently short.
    let long = vec![window("day", Aggregate::Count, 86_400)];
    assert!(matches!(
        store.read("n", "a", 0, &long),
        Err(StoreError::Invalid(_))
    ));
}

fn malformed_requests_are_refused(make: MakeStore<'_>) {
    let store = make(EmbeddedLimits::default());
    let w = windows();
    assert!(matches!(
        store.observe("", "e", &event(0, 1.0, "k"), &w),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.observe("n", "", &event(0, 1.0, "k"), &w),
        Err(StoreError::Invalid(_))
    ));
    let zero = vec![window("zero", Aggregate::Count, 0)];
    assert!(matches!(
        store.read("n", "e", 0, &zero),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.observe("n", "e", &event(0, f64::NAN, "k"), &w),
        Err(StoreError::Invalid(_))
    ));
}

fn concurrent_observers_all_count(make: MakeStore<'_>) {
    let store = make(EmbeddedLimits::default());
    let w = vec![
        window("count", Aggregate::Count, 3600),
        window("sum", Aggregate::Sum, 3600),
    ];
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (store, w) = (store.clone(), w.clone());
            std::thread::spawn(move || {
                for i in 0..250 {
                    store
                        .observe(
                            "card",
                            "same",
                            &event(i64::from(t * 250 + i) / 1000, 0.25, "k"),
                            &w,
                        )
                        .expect("observe");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(
        store.read("card", "same", 10_000, &w).expect("read"),
        vec![Some(1000.0), Some(250.0)]
    );
}

fn lookups_return_what_was_put(make: MakeStore<'_>) {
    let store = make(EmbeddedLimits::default());
    store
        .put("card", "c1", "chargebacks-90d", 2.0)
        .expect("put");
    let got = store
        .lookup("card", "c1", &["chargebacks-90d".into(), "unknown".into()])
        .expect("lookup");
    assert_eq!(got, vec![Some(2.0), None]);
}

/// A pseudo-random stream (values with many digits, repeated keys, late
/// events) gives bit-identical aggregates in `a` and `b`.
fn same_stream_same_bits(a: &dyn FeatureStore, b: &dyn FeatureStore) {
    let w = windows();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..600 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let entity = format!("c{}", x % 7);
        let late = if x.is_multiple_of(10) { 300 } else { 0 };
        let e = Observation {
            timestamp_ms: i * 20_000 - late * 1000,
            value: (x % 100_000) as f64 / 7.0,
            distinct_key: (!x.is_multiple_of(3)).then(|| format!("m{}", x % 11)),
        };
        let (ra, rb) = (
            a.observe("n", &entity, &e, &w),
            b.observe("n", &entity, &e, &w),
        );
        let bits = |r: &Result<edgescore_runtime::feature_store::Observed, StoreError>| {
            r.as_ref()
                .expect("observe")
                .values
                .iter()
                .map(|v| v.map(f64::to_bits))
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&ra), bits(&rb), "event {i}: {ra:?} vs {rb:?}");
    }
}

/// A card's normal history, then one event dated 9999-12-31 (and one a
/// week ahead): every later event still counts, itself included, and the
/// gap to the last event is to the last one before it in time.
fn a_future_event_does_not_blind_later_ones(make: MakeStore<'_>) {
    let store = make(EmbeddedLimits::default());
    let w = vec![
        window("count-10m", Aggregate::Count, 600),
        window("count-24h", Aggregate::Count, 86_400),
        window("sum-1h", Aggregate::Sum, 3600),
        window("merchants-1h", Aggregate::DistinctCount, 3600),
        window("since-last", Aggregate::SecondsSinceLast, 86_400),
    ];
    // Dated now: "ahead" is ahead of the store's clock.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    for s in [0, 60, 120] {
        store
            .observe("card", "c", &event(now + s, 10.0, "m1"), &w)
            .expect("observe");
    }
    // 9999-12-31T23:59:59Z, and 8 days ahead.
    for far in [253_402_300_799, now + 8 * 86_400] {
        store
            .observe("card", "c", &event(far, 1.0, "m9"), &w)
            .expect("observe");
    }
    // A burst after it: each event counts all of the card's recent ones.
    for (k, s) in [180, 190, 200, 210].into_iter().enumerate() {
        let got = store
            .observe("card", "c", &event(now + s, 900.0, "m2"), &w)
            .expect("observe")
            .values;
        let count = (4 + k) as f64;
        assert_eq!(
            got,
            vec![
                Some(count),
                Some(count),
                Some(30.0 + 900.0 * (k + 1) as f64),
                Some(2.0),
                Some(if k == 0 { 60.0 } else { 10.0 }),
            ],
            "burst event {k}"
        );
    }
}

/// Forgetting a receipt removes that event and no other, not even one of
/// the same time, value and key; forgetting again, or an unknown entity's
/// event, changes nothing.
fn forget_takes_back_exactly_the_observed_events(make: MakeStore<'_>) {
    let store = make(EmbeddedLimits::default());
    let w = windows();
    let mut receipts = Vec::new();
    for s in [0, 60, 60, 120] {
        let observed = store
            .observe("card", "c1", &event(s, 2.5, "m1"), &w)
            .expect("observe");
        assert_eq!(observed.receipt.timestamp_ms, s * 1000);
        receipts.push(observed.receipt);
    }
    let other = store
        .observe("card", "c2", &event(60, 1.0, "m1"), &w)
        .expect("observe")
        .receipt;
    assert_eq!(
        store.read("card", "c1", 120_000, &w).expect("read"),
        vec![Some(4.0), Some(10.0), Some(1.0), Some(0.0)]
    );
    // The second of the two identical events at 60 s, and the last one.
    store
        .forget(&[receipts[2].clone(), receipts[3].clone()])
        .expect("forget");
    assert_eq!(
        store.read("card", "c1", 120_000, &w).expect("read"),
        vec![Some(2.0), Some(5.0), Some(1.0), Some(60.0)]
    );
    store
        .forget(&[
            receipts[2].clone(),
            Receipt {
                entity: "nobody".into(),
                ..receipts[0].clone()
            },
        ])
        .expect("forgetting again changes nothing");
    assert_eq!(
        store.read("card", "c1", 120_000, &w).expect("read")[0],
        Some(2.0)
    );
    assert_eq!(
        store.read("card", "c2", 120_000, &w).expect("read")[0],
        Some(1.0)
    );
    // Everything forgotten: the entity is as if never seen.
    store
        .forget(&[receipts[0].clone(), receipts[1].clone(), other])
        .expect("forget");
    for entity in ["c1", "c2"] {
        assert_eq!(
            store.read("card", entity, 120_000, &w).expect("read"),
            vec![Some(0.0), Some(0.0), Some(0.0), None]
        );
    }
    let again = store
        .observe("card", "c1", &event(180, 1.0, "m3"), &w)
        .expect("observe")
        .values;
    assert_eq!(again, vec![Some(1.0), Some(1.0), Some(1.0), None]);
}

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
    assert!(
        before - store.bytes() > 200_000,
        "{before} -> {}",
        store.bytes()
    );
}

/// A `redis-server` of our own on a free port, no persistence; killed on drop.
struct Redis {
    child: Child,
    url: String,
}

impl Redis {
    /// `None` when redis-server is not installed (and not required).
    fn start() -> Option<Self> {
        let required = std::env::var_os("EDGESCORE_REQUIRE_REDIS").is_some_and(|v| v == "1");
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = match Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if !required => {
                eprintln!(
                    "skipping the Redis suite: cannot start redis-server ({e}); set EDGESCORE_REQUIRE_REDIS=1 to fail instead"
                );
                return None;
            }
            Err(e) => panic!("EDGESCORE_REQUIRE_REDIS=1 but redis-server does not start: {e}"),
        };
        let redis = Self {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while RedisStore::connect(&redis.url).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(redis)
    }

    /// A store on a fresh, empty database.
    fn store(&self, limits: EmbeddedLimits) -> Arc<dyn FeatureStore> {
        let client = redis::Client::open(self.url.as_str()).expect("client");
        let mut c = client.get_connection().expect("connection");
        redis::cmd("FLUSHALL").query::<()>(&mut c).expect("flush");
        Arc::new(RedisStore::with_limits(&self.url, limits).expect("connect"))
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    let late_a = Arc::new(RedisStore::connect(&format!("{}1", redis.url)).expect("db 1"));
    let late_b = Arc::new(RedisStore::connect(&format!("{}2", redis.url)).expect("db 2"));
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
    let store = RedisStore::connect(&redis.url).expect("connect");
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
    let store = RedisStore::connect(&url).expect("connect");
    let w = vec![window("count", Aggregate::Count, 3600)];
    for i in 0..PER_PROCESS {
        store
            .observe("card", "shared", &event(i, 1.0, "k"), &w)
            .expect("observe");
    }
}

/// A store in front of another that can be told to fail the n-th
/// observation from now, or to take a while over each (the call deadline
/// interrupts the guest once the host call returns).
struct Unreliable {
    inner: Arc<dyn FeatureStore>,
    fail_in: std::sync::atomic::AtomicUsize,
    sleep_ms: std::sync::atomic::AtomicU64,
}

impl Unreliable {
    fn new(inner: Arc<dyn FeatureStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            fail_in: 0.into(),
            sleep_ms: 0.into(),
        })
    }
}

impl FeatureStore for Unreliable {
    fn lookup(&self, n: &str, e: &str, names: &[String]) -> Result<Vec<Option<f64>>, StoreError> {
        self.inner.lookup(n, e, names)
    }

    fn observe(
        &self,
        namespace: &str,
        entity: &str,
        event: &Observation,
        windows: &[Window],
    ) -> Result<edgescore_runtime::feature_store::Observed, StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        std::thread::sleep(Duration::from_millis(self.sleep_ms.load(SeqCst)));
        if self.fail_in.load(SeqCst) == 1 {
            self.fail_in.store(0, SeqCst);
            return Err(StoreError::Unavailable("the test made it fail".into()));
        }
        let _ = self
            .fail_in
            .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1).filter(|_| n > 1));
        self.inner.observe(namespace, entity, event, windows)
    }

    fn forget(&self, receipts: &[Receipt]) -> Result<(), StoreError> {
        self.inner.forget(receipts)
    }

    fn is_remote(&self) -> bool {
        self.inner.is_remote()
    }

    fn put(&self, n: &str, e: &str, name: &str, value: f64) -> Result<(), StoreError> {
        self.inner.put(n, e, name, value)
    }

    fn read(
        &self,
        n: &str,
        e: &str,
        timestamp_ms: i64,
        windows: &[Window],
    ) -> Result<Vec<Option<f64>>, StoreError> {
        self.inner.read(n, e, timestamp_ms, windows)
    }
}

/// `count` transactions of `card`, a second apart, ending a minute ago.
fn transactions(card: &str, count: usize) -> Vec<edgescore_runtime::event_fields::JsonEvent> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    (0..count)
        .map(|i| {
            let at = now - 60_000 - (count - i) as i64 * 1000;
            serde_json::from_value(serde_json::json!({
                "timestamp": edgescore_models::transform::format_rfc3339_ms(at),
                "card_id": card,
                "amount": 25.0,
                "merchant_id": format!("m{i}"),
                "country": "US",
                "home_country": "US",
            }))
            .expect("event")
        })
        .collect()
}

/// The fraud pipeline's transform (`examples/fraud`) on `store`, through
/// the server's own path (`LoadedPipeline`): a request that fails half way
/// leaves nothing in the store, an uncommitted one is taken back when
/// dropped, a committed one stays; a request whose calls run past the
/// deadline is retried in smaller calls and counts every transaction once.
fn pipeline_requests_are_all_or_nothing(store: Arc<dyn FeatureStore>) {
    use std::sync::atomic::Ordering::SeqCst;
    let engine =
        edgescore_runtime::engine::ScoringEngine::new(edgescore_runtime::limits::Limits::default())
            .expect("engine");
    let unreliable = Unreliable::new(store.clone());
    let shared: Arc<dyn FeatureStore> = unreliable.clone();
    let version = edgescore_serve::loaded_version::LoadedVersion::load(
        &engine,
        None,
        Some(&shared),
        "fraud",
        1,
        &edgescore_test_support::repo_root().join("examples/fraud"),
    )
    .expect("the fraud pipeline loads");
    let pipeline = version.pipeline.as_ref().expect("a pipeline");
    let limits = edgescore_serve::config::RequestLimits::default();
    let events = |card: &str, n: usize| {
        pipeline
            .events_from_json(&transactions(card, n), &limits)
            .expect("valid transactions")
    };
    let count = |card: &str| {
        let w = vec![window("day", Aggregate::Count, 86_400)];
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as i64;
        store.read("card", card, now, &w).expect("read")[0]
    };
    let txn_24h = pipeline
        .transform
        .info()
        .outputs
        .iter()
        .position(|f| f.name == "card_txn_24h")
        .expect("card_txn_24h");
    let width = pipeline.transform.info().outputs.len();

    // The 10th observation fails (3 per transaction: card, card-country,
    // card-device): the request fails and the first three transactions'
    // observations are taken back.
    unreliable.fail_in.store(10, SeqCst);
    let failed = pipeline.transform(&events("c-failed", 6));
    assert!(failed.is_err(), "the store failed: {failed:?}");
    assert_eq!(
        count("c-failed"),
        Some(0.0),
        "nothing stays of a failed request"
    );

    // Dropped uncommitted: taken back. Committed: kept, each once.
    let (_, observed) = pipeline
        .transform(&events("c-dropped", 4))
        .expect("transform");
    assert_eq!(count("c-dropped"), Some(4.0));
    drop(observed);
    assert_eq!(
        count("c-dropped"),
        Some(0.0),
        "an uncommitted request is taken back"
    );
    let (rows, observed) = pipeline.transform(&events("c-kept", 4)).expect("transform");
    observed.commit();
    assert_eq!(count("c-kept"), Some(4.0));
    assert_eq!(rows[3 * width + txn_24h], 4.0);

    // 1 ms per observation: a call of 4 transactions takes 12 ms, past the
    // 10 ms deadline; it is taken back and retried one transaction a call.
    unreliable.sleep_ms.store(1, SeqCst);
    let (rows, observed) = pipeline
        .transform(&events("c-slow", 12))
        .expect("retried in smaller calls");
    unreliable.sleep_ms.store(0, SeqCst);
    observed.commit();
    let counted: Vec<f64> = rows.chunks(width).map(|row| row[txn_24h]).collect();
    assert_eq!(
        counted,
        (1..=12).map(f64::from).collect::<Vec<_>>(),
        "each transaction counted once"
    );
    assert_eq!(count("c-slow"), Some(12.0));
}

#[test]
fn embedded_pipeline_requests_are_all_or_nothing() {
    pipeline_requests_are_all_or_nothing(embedded(EmbeddedLimits::default()));
}

#[test]
fn redis_pipeline_requests_are_all_or_nothing() {
    let Some(redis) = Redis::start() else { return };
    pipeline_requests_are_all_or_nothing(redis.store(EmbeddedLimits::default()));
}
