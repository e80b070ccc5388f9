//! Online features behind the WIT `feature-store` interface: windowed
//! aggregates per entity, and point lookups.
//!
//! [`FeatureStore`] is what the host calls when a transform component calls
//! its `feature-store` import. [`EmbeddedStore`] keeps everything in process
//! with bounded memory; `edgescore_serve::redis_store::RedisStore` keeps it in Redis, shared by a fleet
//! of edge nodes, with the same semantics (one Lua script per call, so
//! updates are atomic across hosts). `tests/feature_store/` runs one suite
//! against both.
//!
//! Every observation comes back with a [`Receipt`] naming exactly the event
//! recorded, so a request that fails after observing can take its events
//! back ([`FeatureStore::forget`], through [`Uncommitted`]): a pipeline
//! request is all or nothing.

mod embedded;
pub(crate) mod import;

pub use embedded::{EmbeddedLimits, EmbeddedStore};

/// How much an in-process store holds: what `/metrics` shows, so that a
/// growing working set is told from a leak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreUsage {
    /// Entities held (namespace and key).
    pub entities: usize,
    /// The bytes of their windows, as the store's byte budget counts them.
    pub bytes: usize,
}

/// One windowed aggregate (the WIT `window`): its name (unique within the
/// namespace, e.g. `txn-count-1h`), what it computes and its span in
/// seconds (at least 1). The transform plan's windows, so a store reads
/// exactly what a plan asks.
pub use edgescore_models::transform::WindowPlan as Window;

/// What a window computes over the events of its span (the WIT `aggregate`).
pub use edgescore_models::transform::Aggregate;

/// One event of an entity, as the aggregates see it (the WIT `observation`).
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Milliseconds since the Unix epoch, UTC.
    pub timestamp_ms: i64,
    pub value: f64,
    pub distinct_key: Option<String>,
}

/// Names one recorded event exactly: its entity, its time and the sequence
/// number the store gave it (unique within the entity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub namespace: String,
    pub entity: String,
    pub timestamp_ms: i64,
    pub sequence: u64,
}

/// What [`FeatureStore::observe`] answers: each window's aggregate, the
/// event included, and the receipt that can take the event back.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub values: Vec<Option<f64>>,
    pub receipt: Receipt,
}

/// Why a store call failed (the WIT `store-error`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("the feature store is unavailable: {0}")]
    Unavailable(String),
    #[error("not granted: {0}")]
    Denied(String),
    #[error("invalid feature-store request: {0}")]
    Invalid(String),
}

impl std::fmt::Debug for dyn FeatureStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FeatureStore")
    }
}

/// The operations of the WIT `feature-store` interface.
pub trait FeatureStore: Send + Sync {
    /// Stored point features of `entity`, one per name, `None` when absent.
    fn lookup(
        &self,
        namespace: &str,
        entity: &str,
        names: &[String],
    ) -> Result<Vec<Option<f64>>, StoreError>;

    /// Records `event` and returns each window's aggregate including it,
    /// atomically with respect to other calls for the same entity, with
    /// the receipt that names the recorded event.
    ///
    /// Events older than the retention are dropped, measured back from the
    /// event being observed, or from the clock when the event is dated
    /// ahead of it (never from the entity's newest event: one event dated
    /// far ahead must not push every other one out).
    fn observe(
        &self,
        namespace: &str,
        entity: &str,
        event: &Observation,
        windows: &[Window],
    ) -> Result<Observed, StoreError>;

    /// Removes exactly the events `receipts` name, and nothing else; an
    /// event already gone (evicted, past retention, forgotten) is skipped.
    /// Events that the retention or the per-entity cap dropped to make room
    /// for a forgotten one stay dropped.
    fn forget(&self, receipts: &[Receipt]) -> Result<(), StoreError>;

    /// Whether calls cross the network (and may block for milliseconds).
    fn is_remote(&self) -> bool {
        false
    }

    /// What the store holds in this process, for a store that holds it
    /// here (the embedded one); `None` for a remote store.
    fn usage(&self) -> Option<StoreUsage> {
        None
    }

    /// Sets a point feature that [`FeatureStore::lookup`] returns (what a
    /// batch job loading precomputed features does).
    fn put(&self, namespace: &str, entity: &str, name: &str, value: f64) -> Result<(), StoreError>;

    /// Each window's aggregate at `timestamp_ms`, recording nothing.
    fn read(
        &self,
        namespace: &str,
        entity: &str,
        timestamp_ms: i64,
        windows: &[Window],
    ) -> Result<Vec<Option<f64>>, StoreError>;
}

/// The host's clock, in milliseconds since the Unix epoch: what retention
/// is measured back from for an event dated ahead of it.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Checks what every store refuses alike: empty names, zero windows.
pub fn check_request(namespace: &str, entity: &str, windows: &[Window]) -> Result<(), StoreError> {
    if namespace.is_empty() || entity.is_empty() {
        return Err(StoreError::Invalid(
            "the namespace and the entity must not be empty".into(),
        ));
    }
    if let Some(w) = windows.iter().find(|w| w.seconds == 0) {
        return Err(StoreError::Invalid(format!(
            "window '{}' is 0 seconds long; windows are at least 1 second",
            w.name
        )));
    }
    Ok(())
}

/// Refuses an event whose value is not finite (it would poison every sum).
pub fn check_observation(event: &Observation) -> Result<(), StoreError> {
    if event.value.is_finite() {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "the event's value {} is not finite",
            event.value
        )))
    }
}

/// Refuses a window longer than the store keeps events (it would be
/// silently short).
pub fn check_retention(windows: &[Window], retention_seconds: u32) -> Result<(), StoreError> {
    match windows.iter().find(|w| w.seconds > retention_seconds) {
        Some(w) => Err(StoreError::Invalid(format!(
            "window '{}' is {} s long, past the store's retention of {} s",
            w.name, w.seconds, retention_seconds
        ))),
        None => Ok(()),
    }
}

/// Observations a request made and has not yet committed: dropped or
/// [`Uncommitted::undo`]ne, they are forgotten; [`Uncommitted::commit`]ted,
/// they stay.
#[must_use = "observations are forgotten unless committed"]
pub struct Uncommitted {
    store: Option<std::sync::Arc<dyn FeatureStore>>,
    receipts: Vec<Receipt>,
}

impl std::fmt::Debug for Uncommitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uncommitted")
            .field("receipts", &self.receipts.len())
            .finish_non_exhaustive()
    }
}

impl Uncommitted {
    /// `receipts` of events recorded in `store`.
    pub fn new(store: Option<std::sync::Arc<dyn FeatureStore>>, receipts: Vec<Receipt>) -> Self {
        Self { store, receipts }
    }

    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.receipts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.receipts.is_empty()
    }

    /// Whether taking them back crosses the network (run it off the async
    /// workers then).
    pub fn is_remote(&self) -> bool {
        self.store.as_ref().is_some_and(|s| s.is_remote())
    }

    /// Keeps the observations.
    pub fn commit(mut self) {
        self.receipts.clear();
    }

    /// Forgets the observations now.
    pub fn undo(mut self) -> Result<(), StoreError> {
        self.forget_now()
    }

    fn forget_now(&mut self) -> Result<(), StoreError> {
        let receipts = std::mem::take(&mut self.receipts);
        match &self.store {
            Some(store) if !receipts.is_empty() => store.forget(&receipts),
            _ => Ok(()),
        }
    }
}

impl Drop for Uncommitted {
    /// A request dropped half way (its client went away) takes its
    /// observations back too; a remote store is called from the blocking
    /// pool when there is one, so no async worker waits on the network.
    fn drop(&mut self) {
        if self.receipts.is_empty() {
            return;
        }
        let mut pending = Self {
            store: self.store.clone(),
            receipts: std::mem::take(&mut self.receipts),
        };
        let report = |e: StoreError| {
            tracing::warn!("could not take back the observations of a failed request: {e}");
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) if pending.is_remote() => {
                runtime.spawn_blocking(move || pending.forget_now().map_err(report));
            }
            _ => {
                let _ = pending.forget_now().map_err(report);
            }
        }
    }
}
