//! Pipeline requests are all or nothing on any store: the fraud pipeline's
//! transform, through the server's own path, on a store told to fail or to
//! stall.

use std::sync::Arc;
use std::time::Duration;

use edgescore_runtime::feature_store::{
    Aggregate, EmbeddedLimits, FeatureStore, Observation, Receipt, StoreError, Window,
};

use crate::{Redis, embedded, window};

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
fn transactions(card: &str, count: usize) -> Vec<edgescore_events::JsonEvent> {
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
/// the server's own path (`LoadedVersion`): a request that fails half way
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
        &edgescore_serve::loaded_version::ServingOptions::default(),
        "fraud",
        1,
        &edgescore_test_support::repo_root().join("examples/fraud"),
    )
    .expect("the fraud pipeline loads");
    let pipeline = version.pipeline().expect("a pipeline");
    let limits = edgescore_serve::config::RequestLimits::default();
    let events = |card: &str, n: usize| {
        edgescore_serve::loaded_version::events_from_json(pipeline, &transactions(card, n), &limits)
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
        .features()
        .iter()
        .position(|f| f.name == "card_txn_24h")
        .expect("card_txn_24h");
    let width = pipeline.features().len();

    // The 10th observation fails (3 per transaction: card, card-country,
    // card-device): the request fails and the first three transactions'
    // observations are taken back.
    unreliable.fail_in.store(10, SeqCst);
    let failed = pipeline.transform(&events("c-failed", 6), |_| {});
    assert!(failed.is_err(), "the store failed: {failed:?}");
    assert_eq!(
        count("c-failed"),
        Some(0.0),
        "nothing stays of a failed request"
    );

    // Dropped uncommitted: taken back. Committed: kept, each once.
    let (_, observed) = pipeline
        .transform(&events("c-dropped", 4), |_| {})
        .expect("transform");
    assert_eq!(count("c-dropped"), Some(4.0));
    drop(observed);
    assert_eq!(
        count("c-dropped"),
        Some(0.0),
        "an uncommitted request is taken back"
    );
    let (rows, observed) = pipeline
        .transform(&events("c-kept", 4), |_| {})
        .expect("transform");
    observed.commit();
    assert_eq!(count("c-kept"), Some(4.0));
    assert_eq!(rows[3 * width + txn_24h], 4.0);

    // 1 ms per observation: a call of 4 transactions takes 12 ms, past the
    // 10 ms deadline; it is taken back and retried one transaction a call.
    unreliable.sleep_ms.store(1, SeqCst);
    let (rows, observed) = pipeline
        .transform(&events("c-slow", 12), |_| {})
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
