//! Windows in memory for a plan run under the fuzzer: the rules of every
//! in-memory store ([`EntityEvents`]), as the browser's page store keeps them.

use std::collections::HashMap;

use edgescore_models::transform::entity_events::{
    DEFAULT_MAX_EVENTS_PER_ENTITY, EntityEvents, StoredEvent,
};
use edgescore_models::transform::{StoreFailure, WindowPlan, WindowStore};

/// Seven days, the longest window a spec may ask for.
const RETENTION_SECONDS: u32 = 7 * 24 * 3600;

/// Each entity's events, by namespace and entity.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entities: HashMap<(String, String), EntityEvents>,
    sequence: u64,
    /// The clock retention counts back from, for an event dated ahead of it.
    now_ms: i64,
}

impl MemoryStore {
    /// An empty store whose clock is `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        Self {
            now_ms,
            ..Self::default()
        }
    }
}

impl WindowStore for MemoryStore {
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
        Ok(self
            .entities
            .entry((namespace.to_owned(), entity.to_owned()))
            .or_default()
            .observe(
                event,
                RETENTION_SECONDS,
                DEFAULT_MAX_EVENTS_PER_ENTITY,
                self.now_ms,
                windows,
            ))
    }
}
