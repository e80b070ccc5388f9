//! The in-process feature store: each entity's recent events in time order,
//! aggregated on demand; memory bounded by how long events are kept, how
//! many are kept per entity, how many entities, and how many bytes all of
//! it takes.
//!
//! An event counts in a window of `s` seconds read at time `t` when its
//! timestamp is in `(t - s, t]`. Events arrive roughly in time order; a late
//! one is inserted in its place, so replaying a history in order and
//! observing it live give the same aggregates. Sums add in time order, so
//! they are reproducible to the bit. Retention is measured back from the
//! event being observed, or from the store's clock when the event is dated
//! ahead of it: an event dated far ahead stays after the others without
//! pushing them out, and later events still count.
//!
//! Memory is accounted in bytes: every entity's names (its namespace and
//! key, held twice: in the table and in the eviction order), its events
//! (each with its distinct key) and its distinct-key index. Beyond
//! [`EmbeddedLimits::max_bytes`] (or `max_entities`), the least recently
//! observed entities are evicted, oldest first, in O(log n) each.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use super::{
    Aggregate, FeatureStore, Observation, Observed, Receipt, StoreError, Window, check_request,
};

/// The bounds on an [`EmbeddedStore`]'s memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedLimits {
    /// Events older than this, behind the event being observed (or behind
    /// the clock, for an event dated ahead of it), are dropped; a window
    /// longer than this is refused.
    pub retention_seconds: u32,
    /// The newest events kept per entity.
    pub max_events_per_entity: usize,
    /// Entities kept; beyond it the least recently observed is evicted.
    pub max_entities: usize,
    /// Bytes the windows' state may take (entity names, events, distinct
    /// keys, the indexes over them; counted as what they hold in memory,
    /// not counting allocator slack); beyond it the least recently observed
    /// entities are evicted. Point features (`put`) are not counted.
    pub max_bytes: usize,
}

impl Default for EmbeddedLimits {
    fn default() -> Self {
        Self {
            retention_seconds: 7 * 24 * 3600,
            max_events_per_entity: 10_000,
            max_entities: 1_000_000,
            max_bytes: 256 << 20,
        }
    }
}

/// An entity's name: its namespace and key.
type EntityKey = (String, String);

/// What one entity costs besides its events: the record, and its names in
/// the table and in the eviction order (with each map's per-entry share).
const ENTITY_BYTES: usize =
    std::mem::size_of::<Entity>() + 2 * std::mem::size_of::<EntityKey>() + 64;
/// What one entry of the distinct-key index costs besides the key's bytes.
const KEY_STAT_BYTES: usize = std::mem::size_of::<String>() + std::mem::size_of::<KeyStat>() + 16;

#[derive(Debug, Clone)]
struct Event {
    timestamp_ms: i64,
    /// Unique within the store: what a [`Receipt`] names.
    sequence: u64,
    value: f64,
    distinct_key: Option<String>,
}

impl Event {
    fn bytes(&self) -> usize {
        std::mem::size_of::<Event>() + self.distinct_key.as_ref().map_or(0, String::len)
    }
}

#[derive(Debug, Default)]
struct Entity {
    /// In timestamp order.
    events: VecDeque<Event>,
    /// Each distinct key among `events`: how many carry it, and the newest
    /// timestamp. Distinct counts read this when it is shorter than the
    /// window (a card hammered at one merchant).
    keys: HashMap<String, KeyStat>,
    /// When it was last observed, in store ticks, for eviction.
    last_used: u64,
    /// What it takes in memory, names and events included.
    bytes: usize,
}

#[derive(Debug, Clone, Copy)]
struct KeyStat {
    events: usize,
    newest_ms: i64,
}

impl Entity {
    fn insert(&mut self, event: Event) {
        if let Some(key) = &event.distinct_key {
            // Looked up before inserting: no key copy for a key already held.
            match self.keys.get_mut(key) {
                Some(stat) => {
                    stat.events += 1;
                    stat.newest_ms = stat.newest_ms.max(event.timestamp_ms);
                }
                None => {
                    let stat = KeyStat {
                        events: 1,
                        newest_ms: event.timestamp_ms,
                    };
                    self.bytes += KEY_STAT_BYTES + key.len();
                    self.keys.insert(key.clone(), stat);
                }
            }
        }
        self.bytes += event.bytes();
        let at = self
            .events
            .partition_point(|e| e.timestamp_ms <= event.timestamp_ms);
        self.events.insert(at, event);
    }

    /// Drops the oldest event (whose key's newest timestamp, if others
    /// remain, is theirs: they are no older).
    fn pop_oldest(&mut self) {
        if let Some(event) = self.events.pop_front() {
            self.unindex(&event, false);
        }
    }

    /// Removes the event `sequence` at `timestamp_ms`; whether it was there.
    fn remove(&mut self, timestamp_ms: i64, sequence: u64) -> bool {
        let from = self
            .events
            .partition_point(|e| e.timestamp_ms < timestamp_ms);
        let found = self
            .events
            .range(from..)
            .take_while(|e| e.timestamp_ms == timestamp_ms)
            .position(|e| e.sequence == sequence);
        let Some(event) = found.and_then(|k| self.events.remove(from + k)) else {
            return false;
        };
        self.unindex(&event, true);
        true
    }

    /// Takes a removed event out of the byte count and the key index; when
    /// it may have been its key's newest (`anywhere`: not the oldest), the
    /// key's newest time is found again among the events left.
    fn unindex(&mut self, event: &Event, anywhere: bool) {
        self.bytes -= event.bytes();
        let Some(key) = &event.distinct_key else {
            return;
        };
        let Some(stat) = self.keys.get_mut(key) else {
            return;
        };
        stat.events -= 1;
        if stat.events == 0 {
            self.keys.remove(key);
            self.bytes -= KEY_STAT_BYTES + key.len();
        } else if anywhere && stat.newest_ms == event.timestamp_ms {
            stat.newest_ms = self
                .events
                .iter()
                .filter(|e| e.distinct_key.as_deref() == Some(key.as_str()))
                .map(|e| e.timestamp_ms)
                .max()
                .unwrap_or(i64::MIN);
        }
    }
}

#[derive(Debug, Default)]
struct State {
    entities: HashMap<EntityKey, Entity>,
    /// Entities by when they were last observed, least recent first.
    by_use: BTreeMap<u64, EntityKey>,
    points: HashMap<(String, String, String), f64>,
    tick: u64,
    sequence: u64,
    /// The sum of every entity's `bytes`.
    bytes: usize,
}

impl State {
    /// Evicts the least recently observed entity other than `keep`;
    /// whether there was one.
    fn evict_one(&mut self, keep: &EntityKey) -> bool {
        let Some((&tick, key)) = self.by_use.iter().find(|(_, k)| *k != keep) else {
            return false;
        };
        let key = key.clone();
        self.by_use.remove(&tick);
        if let Some(entity) = self.entities.remove(&key) {
            self.bytes -= entity.bytes;
        }
        true
    }

    /// Removes an entity that holds no event any more.
    fn drop_if_empty(&mut self, key: &EntityKey) {
        if self.entities.get(key).is_some_and(|e| e.events.is_empty())
            && let Some(entity) = self.entities.remove(key)
        {
            self.by_use.remove(&entity.last_used);
            self.bytes -= entity.bytes;
        }
    }
}

/// Online features in process memory. One lock: every call is atomic.
#[derive(Debug, Default)]
pub struct EmbeddedStore {
    limits: EmbeddedLimits,
    state: Mutex<State>,
}

impl EmbeddedStore {
    pub fn new(limits: EmbeddedLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(State::default()),
        }
    }

    /// How many entities are held.
    pub fn entities(&self) -> usize {
        self.state.lock().map(|s| s.entities.len()).unwrap_or(0)
    }

    /// How many bytes the windows' state takes, as
    /// [`EmbeddedLimits::max_bytes`] counts them.
    pub fn bytes(&self) -> usize {
        self.state.lock().map(|s| s.bytes).unwrap_or(0)
    }

    fn check_windows(&self, windows: &[Window]) -> Result<(), StoreError> {
        super::check_retention(windows, self.limits.retention_seconds)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Unavailable("the embedded store's lock is poisoned".into()))
    }
}

impl FeatureStore for EmbeddedStore {
    fn put(&self, namespace: &str, entity: &str, name: &str, value: f64) -> Result<(), StoreError> {
        check_request(namespace, entity, &[])?;
        self.lock()?
            .points
            .insert((namespace.into(), entity.into(), name.into()), value);
        Ok(())
    }

    fn lookup(
        &self,
        namespace: &str,
        entity: &str,
        names: &[String],
    ) -> Result<Vec<Option<f64>>, StoreError> {
        check_request(namespace, entity, &[])?;
        let state = self.lock()?;
        Ok(names
            .iter()
            .map(|name| {
                state
                    .points
                    .get(&(namespace.to_owned(), entity.to_owned(), name.clone()))
                    .copied()
            })
            .collect())
    }

    fn observe(
        &self,
        namespace: &str,
        entity: &str,
        event: &Observation,
        windows: &[Window],
    ) -> Result<Observed, StoreError> {
        check_request(namespace, entity, windows)?;
        self.check_windows(windows)?;
        super::check_observation(event)?;
        let mut guard = self.lock()?;
        let state = &mut *guard;
        state.tick += 1;
        state.sequence += 1;
        let (tick, sequence) = (state.tick, state.sequence);
        let key: EntityKey = (namespace.to_owned(), entity.to_owned());
        if !state.entities.contains_key(&key) {
            if state.entities.len() >= self.limits.max_entities {
                state.evict_one(&key);
            }
            let record = Entity {
                bytes: ENTITY_BYTES + 2 * (namespace.len() + entity.len()),
                ..Entity::default()
            };
            state.bytes += record.bytes;
            state.entities.insert(key.clone(), record);
        } else if let Some(record) = state.entities.get(&key) {
            state.by_use.remove(&record.last_used);
        }
        state.by_use.insert(tick, key.clone());
        let Some(record) = state.entities.get_mut(&key) else {
            return Err(StoreError::Unavailable(
                "the embedded store lost an entity it had just inserted".into(),
            ));
        };
        let before = record.bytes;
        record.last_used = tick;
        record.insert(Event {
            timestamp_ms: event.timestamp_ms,
            sequence,
            value: event.value,
            distinct_key: event.distinct_key.clone(),
        });
        // Keep what retention (back from this event, or from now for an
        // event dated ahead) and the per-entity cap allow.
        let oldest_kept = event
            .timestamp_ms
            .min(super::now_ms())
            .saturating_sub(i64::from(self.limits.retention_seconds) * 1000);
        while record
            .events
            .front()
            .is_some_and(|e| e.timestamp_ms <= oldest_kept)
            || record.events.len() > self.limits.max_events_per_entity
        {
            record.pop_oldest();
        }
        // The aggregates as of this event, this event included.
        let values = windows
            .iter()
            .map(|w| aggregate(record, event.timestamp_ms, w, true))
            .collect();
        state.bytes = state.bytes + record.bytes - before;
        while state.bytes > self.limits.max_bytes && state.evict_one(&key) {}
        Ok(Observed {
            values,
            receipt: Receipt {
                namespace: namespace.to_owned(),
                entity: entity.to_owned(),
                timestamp_ms: event.timestamp_ms,
                sequence,
            },
        })
    }

    fn forget(&self, receipts: &[Receipt]) -> Result<(), StoreError> {
        let mut guard = self.lock()?;
        let state = &mut *guard;
        for receipt in receipts {
            let key: EntityKey = (receipt.namespace.clone(), receipt.entity.clone());
            let Some(record) = state.entities.get_mut(&key) else {
                continue;
            };
            let before = record.bytes;
            if record.remove(receipt.timestamp_ms, receipt.sequence) {
                state.bytes = state.bytes + record.bytes - before;
                state.drop_if_empty(&key);
            }
        }
        Ok(())
    }

    fn read(
        &self,
        namespace: &str,
        entity: &str,
        timestamp_ms: i64,
        windows: &[Window],
    ) -> Result<Vec<Option<f64>>, StoreError> {
        check_request(namespace, entity, windows)?;
        self.check_windows(windows)?;
        let state = self.lock()?;
        let empty = Entity::default();
        let record = state
            .entities
            .get(&(namespace.to_owned(), entity.to_owned()))
            .unwrap_or(&empty);
        Ok(windows
            .iter()
            .map(|w| aggregate(record, timestamp_ms, w, false))
            .collect())
    }
}

/// Window `w` over the events in `(at - w, at]`. For seconds-since-last,
/// `at_event` says the newest event at `at` is the one being observed, so
/// the gap is to the one before it.
fn aggregate(entity: &Entity, at: i64, w: &Window, at_event: bool) -> Option<f64> {
    let events = &entity.events;
    let start = at.saturating_sub(i64::from(w.seconds) * 1000);
    let end = events.partition_point(|e| e.timestamp_ms <= at);
    let begin = events.partition_point(|e| e.timestamp_ms <= start);
    let in_window = events.range(begin..end);
    match w.aggregate {
        Aggregate::Count => Some((end - begin) as f64),
        Aggregate::Sum => Some(in_window.map(|e| e.value).sum()),
        // With no event after `at`, a key is in the window exactly when
        // its newest event is: count keys when there are fewer keys than
        // events in the window.
        Aggregate::DistinctCount if end == events.len() && entity.keys.len() < end - begin => {
            Some(entity.keys.values().filter(|k| k.newest_ms > start).count() as f64)
        }
        Aggregate::DistinctCount => Some(
            in_window
                .filter_map(|e| e.distinct_key.as_deref())
                .collect::<HashSet<_>>()
                .len() as f64,
        ),
        Aggregate::SecondsSinceLast => {
            // The event before the newest one at or before `at` (when
            // observing) or the newest one (when reading), inside the window.
            let previous = if at_event {
                end.checked_sub(2)?
            } else {
                end.checked_sub(1)?
            };
            (previous >= begin).then(|| (at - events[previous].timestamp_ms) as f64 / 1000.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The behaviour shared with the Redis store is tested once for both in
    // tests/feature_store.rs; eviction of whole entities is this store's own.
    #[test]
    fn the_least_recently_observed_entity_is_evicted() {
        let store = EmbeddedStore::new(EmbeddedLimits {
            max_entities: 2,
            ..EmbeddedLimits::default()
        });
        let w = vec![Window {
            name: "count".into(),
            aggregate: Aggregate::Count,
            seconds: 3600,
        }];
        let event = Observation {
            timestamp_ms: 0,
            value: 1.0,
            distinct_key: None,
        };
        for entity in ["a", "b", "c"] {
            store.observe("n", entity, &event, &w).expect("observe");
        }
        assert_eq!(store.entities(), 2);
        assert_eq!(store.read("n", "a", 0, &w).expect("read"), vec![Some(0.0)]);
        assert_eq!(store.read("n", "c", 0, &w).expect("read"), vec![Some(1.0)]);
    }

    /// The key index agrees with counting the window's keys, and the byte
    /// count with what is held, while the cap drops old events, events are
    /// forgotten and the keys repeat far more than the window holds.
    #[test]
    fn distinct_counts_from_the_key_index_equal_a_scan() {
        let store = EmbeddedStore::new(EmbeddedLimits {
            max_events_per_entity: 50,
            ..EmbeddedLimits::default()
        });
        let w = [Window {
            name: "distinct".into(),
            aggregate: Aggregate::DistinctCount,
            seconds: 600,
        }];
        for i in 0..2000i64 {
            let event = Observation {
                timestamp_ms: i * 7_000,
                value: 1.0,
                distinct_key: (i % 4 != 0).then(|| format!("m{}", (i * i) % 5)),
            };
            let observed = store.observe("n", "card", &event, &w).expect("observe");
            let mut got = observed.values;
            // Every third event is taken back, and the window read again.
            if i % 3 == 2 {
                store.forget(&[observed.receipt]).expect("forget");
                got = store
                    .read("n", "card", event.timestamp_ms, &w)
                    .expect("read");
            }
            let state = store.state.lock().expect("lock");
            let entity = &state.entities[&("n".to_owned(), "card".to_owned())];
            let start = event.timestamp_ms - 600_000;
            let scanned: HashSet<&str> = entity
                .events
                .iter()
                .filter(|e| e.timestamp_ms > start)
                .filter_map(|e| e.distinct_key.as_deref())
                .collect();
            assert_eq!(got, vec![Some(scanned.len() as f64)], "event {i}");
            let indexed: usize = entity.keys.values().map(|k| k.events).sum();
            let keyed = entity
                .events
                .iter()
                .filter(|e| e.distinct_key.is_some())
                .count();
            assert_eq!(
                indexed, keyed,
                "event {i}: the index counts every kept event"
            );
            for (key, stat) in &entity.keys {
                let newest = entity
                    .events
                    .iter()
                    .filter(|e| e.distinct_key.as_deref() == Some(key.as_str()))
                    .map(|e| e.timestamp_ms)
                    .max();
                assert_eq!(Some(stat.newest_ms), newest, "event {i}: key {key}");
            }
            let bytes = ENTITY_BYTES
                + 2 * "ncard".len()
                + entity.events.iter().map(Event::bytes).sum::<usize>()
                + entity
                    .keys
                    .keys()
                    .map(|k| KEY_STAT_BYTES + k.len())
                    .sum::<usize>();
            assert_eq!((entity.bytes, state.bytes), (bytes, bytes), "event {i}");
        }
    }
}
