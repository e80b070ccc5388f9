//! Online features behind the WIT `feature-store` interface: windowed
//! aggregates per entity, and point lookups.
//!
//! [`FeatureStore`] is what the host calls when a transform component calls
//! its `feature-store` import. [`EmbeddedStore`] keeps everything in process
//! with bounded memory; [`RedisStore`] keeps it in Redis, shared by a fleet
//! of edge nodes, with the same semantics (one Lua script per call, so
//! updates are atomic across hosts). `tests/feature_store.rs` runs one suite
//! against both.

mod embedded;
mod import;
mod redis_store;

pub use embedded::{EmbeddedLimits, EmbeddedStore};
pub use redis_store::RedisStore;

/// One windowed aggregate (the WIT `window`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Unique within the namespace, e.g. `txn-count-1h`.
    pub name: String,
    pub aggregate: Aggregate,
    /// At least 1.
    pub seconds: u32,
}

/// What a window computes over the events of its span (the WIT `aggregate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Count,
    Sum,
    DistinctCount,
    /// Seconds from the previous event within the window to this one;
    /// `None` when there is none.
    SecondsSinceLast,
}

/// One event of an entity, as the aggregates see it (the WIT `observation`).
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Milliseconds since the Unix epoch, UTC.
    pub timestamp_ms: i64,
    pub value: f64,
    pub distinct_key: Option<String>,
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
    /// atomically with respect to other calls for the same entity.
    fn observe(
        &self,
        namespace: &str,
        entity: &str,
        event: &Observation,
        windows: &[Window],
    ) -> Result<Vec<Option<f64>>, StoreError>;

    /// Whether calls cross the network (and may block for milliseconds).
    fn is_remote(&self) -> bool {
        false
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

/// Checks what every store refuses alike: empty names, zero windows.
pub(crate) fn check_request(
    namespace: &str,
    entity: &str,
    windows: &[Window],
) -> Result<(), StoreError> {
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
pub(crate) fn check_observation(event: &Observation) -> Result<(), StoreError> {
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
pub(crate) fn check_retention(
    windows: &[Window],
    retention_seconds: u32,
) -> Result<(), StoreError> {
    match windows.iter().find(|w| w.seconds > retention_seconds) {
        Some(w) => Err(StoreError::Invalid(format!(
            "window '{}' is {} s long, past the store's retention of {} s",
            w.name, w.seconds, retention_seconds
        ))),
        None => Ok(()),
    }
}
