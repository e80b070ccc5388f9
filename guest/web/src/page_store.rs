//! The page's feature store: each entity's recent events in the page's
//! memory, read by the very rules the server's embedded store applies
//! ([`EntityEvents`]: which events a window holds, retention, the
//! per-entity cap), so the velocity features a page computes are the
//! server's for the same transactions in the same order.
//!
//! It lives as long as the [`crate::Pipeline`] that owns it. Its memory is
//! bounded per entity (retention and the cap), not in entities: a page
//! scores what one person types or one demo stream sends.

use std::collections::HashMap;

use edgescore_models::transform::entity_events::{
    DEFAULT_MAX_EVENTS_PER_ENTITY, EntityEvents, StoredEvent,
};
use edgescore_models::transform::{StoreFailure, WindowPlan, WindowStore};

/// How long events are kept: the server's default retention, the longest
/// window a spec may ask for.
const RETENTION_SECONDS: u32 = (edgescore_spec::MAX_WINDOW_MINUTES * 60) as u32;

/// One event recorded, to take back when its transaction fails later.
#[derive(Debug, Clone)]
struct Receipt {
    namespace: String,
    entity: String,
    timestamp_ms: i64,
    sequence: u64,
}

/// Windows per entity, in page memory.
#[derive(Debug, Default)]
pub(crate) struct PageStore {
    entities: HashMap<(String, String), EntityEvents>,
    /// Numbers each recorded event, as the embedded store's ticks do.
    sequence: u64,
    /// The clock retention is measured back from for an event dated ahead.
    now_ms: i64,
    /// What the transaction being scored has recorded.
    pending: Vec<Receipt>,
}

impl PageStore {
    /// Starts a transaction at the page's clock `now_ms`.
    pub(crate) fn begin(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
        self.pending.clear();
    }

    /// Keeps what the transaction recorded.
    pub(crate) fn commit(&mut self) {
        self.pending.clear();
    }

    /// Takes back what the transaction recorded (it failed: a retry must
    /// count it once).
    pub(crate) fn undo(&mut self) {
        for r in std::mem::take(&mut self.pending) {
            let key = (r.namespace, r.entity);
            if let Some(events) = self.entities.get_mut(&key) {
                events.remove(r.timestamp_ms, r.sequence);
                if events.events.is_empty() {
                    self.entities.remove(&key);
                }
            }
        }
    }
}

impl WindowStore for PageStore {
    fn observe(
        &mut self,
        namespace: &str,
        entity: &str,
        timestamp_ms: i64,
        value: f64,
        distinct_key: Option<&str>,
        windows: &[WindowPlan],
    ) -> Result<Vec<Option<f64>>, StoreFailure> {
        self.sequence += 1;
        let event = StoredEvent {
            timestamp_ms,
            sequence: self.sequence,
            value,
            distinct_key: distinct_key.map(str::to_owned),
        };
        let values = self
            .entities
            .entry((namespace.to_owned(), entity.to_owned()))
            .or_default()
            .observe(
                event,
                RETENTION_SECONDS,
                DEFAULT_MAX_EVENTS_PER_ENTITY,
                self.now_ms,
                windows,
            );
        self.pending.push(Receipt {
            namespace: namespace.to_owned(),
            entity: entity.to_owned(),
            timestamp_ms,
            sequence: self.sequence,
        });
        Ok(values)
    }
}
