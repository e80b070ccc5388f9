//! The in-process feature store: each entity's recent events in time order,
//! aggregated on demand; memory bounded by how long events are kept, how
//! many are kept per entity, and how many entities.
//!
//! An event counts in a window of `s` seconds read at time `t` when its
//! timestamp is in `(t - s, t]`. Events arrive roughly in time order; a late
//! one is inserted in its place, so replaying a history in order and
//! observing it live give the same aggregates. Sums add in time order, so
//! they are reproducible to the bit.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Mutex;

use super::{Aggregate, FeatureStore, Observation, StoreError, Window, check_request};

/// The bounds on an [`EmbeddedStore`]'s memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedLimits {
    /// Events older than this (behind an entity's newest) are dropped; a
    /// window longer than this is refused.
    pub retention_seconds: u32,
    /// The newest events kept per entity.
    pub max_events_per_entity: usize,
    /// Entities kept; beyond it the least recently observed is evicted.
    pub max_entities: usize,
}

impl Default for EmbeddedLimits {
    fn default() -> Self {
        Self {
            retention_seconds: 7 * 24 * 3600,
            max_events_per_entity: 10_000,
            max_entities: 1_000_000,
        }
    }
}

#[derive(Debug, Clone)]
struct Event {
    timestamp_ms: i64,
    value: f64,
    distinct_key: Option<String>,
}

#[derive(Debug, Default)]
struct Entity {
    /// In timestamp order.
    events: VecDeque<Event>,
    /// When it was last observed, in store ticks, for eviction.
    last_used: u64,
}

#[derive(Debug, Default)]
struct State {
    entities: HashMap<(String, String), Entity>,
    points: HashMap<(String, String, String), f64>,
    tick: u64,
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

    fn check_windows(&self, windows: &[Window]) -> Result<(), StoreError> {
        if let Some(w) = windows
            .iter()
            .find(|w| w.seconds > self.limits.retention_seconds)
        {
            return Err(StoreError::Invalid(format!(
                "window '{}' is {} s long, past the store's retention of {} s",
                w.name, w.seconds, self.limits.retention_seconds
            )));
        }
        Ok(())
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
    ) -> Result<Vec<Option<f64>>, StoreError> {
        check_request(namespace, entity, windows)?;
        self.check_windows(windows)?;
        if !event.value.is_finite() {
            return Err(StoreError::Invalid(format!(
                "the event's value {} is not finite",
                event.value
            )));
        }
        let mut guard = self.lock()?;
        let state = &mut *guard;
        state.tick += 1;
        let key = (namespace.to_owned(), entity.to_owned());
        if !state.entities.contains_key(&key) && state.entities.len() >= self.limits.max_entities {
            evict_least_recent(&mut state.entities);
        }
        let tick = state.tick;
        let record = state.entities.entry(key).or_default();
        record.last_used = tick;
        let at = record
            .events
            .partition_point(|e| e.timestamp_ms <= event.timestamp_ms);
        record.events.insert(
            at,
            Event {
                timestamp_ms: event.timestamp_ms,
                value: event.value,
                distinct_key: event.distinct_key.clone(),
            },
        );
        // Keep what retention and the per-entity cap allow.
        let newest = record
            .events
            .back()
            .map_or(event.timestamp_ms, |e| e.timestamp_ms);
        let oldest_kept = newest - i64::from(self.limits.retention_seconds) * 1000;
        while record
            .events
            .front()
            .is_some_and(|e| e.timestamp_ms <= oldest_kept)
            || record.events.len() > self.limits.max_events_per_entity
        {
            record.events.pop_front();
        }
        // The aggregates as of this event, this event included.
        Ok(windows
            .iter()
            .map(|w| aggregate(&record.events, event.timestamp_ms, w, true))
            .collect())
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
        let empty = VecDeque::new();
        let events = state
            .entities
            .get(&(namespace.to_owned(), entity.to_owned()))
            .map_or(&empty, |e| &e.events);
        Ok(windows
            .iter()
            .map(|w| aggregate(events, timestamp_ms, w, false))
            .collect())
    }
}

fn evict_least_recent(entities: &mut HashMap<(String, String), Entity>) {
    if let Some(key) = entities
        .iter()
        .min_by_key(|(_, e)| e.last_used)
        .map(|(k, _)| k.clone())
    {
        entities.remove(&key);
    }
}

/// Window `w` over the events in `(at - w, at]`. For seconds-since-last,
/// `at_event` says the newest event at `at` is the one being observed, so
/// the gap is to the one before it.
fn aggregate(events: &VecDeque<Event>, at: i64, w: &Window, at_event: bool) -> Option<f64> {
    let start = at - i64::from(w.seconds) * 1000;
    let end = events.partition_point(|e| e.timestamp_ms <= at);
    let begin = events.partition_point(|e| e.timestamp_ms <= start);
    let in_window = events.range(begin..end);
    match w.aggregate {
        Aggregate::Count => Some(in_window.count() as f64),
        Aggregate::Sum => Some(in_window.map(|e| e.value).sum()),
        Aggregate::DistinctCount => Some(
            in_window
                .filter_map(|e| e.distinct_key.as_deref())
                .collect::<BTreeSet<_>>()
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

    #[test]
    fn windows_count_sum_distinct_and_gap() {
        let store = EmbeddedStore::default();
        let w = windows();
        let first = store
            .observe("card", "c1", &event(0, 10.0, "m1"), &w)
            .expect("observe");
        assert_eq!(first, vec![Some(1.0), Some(10.0), Some(1.0), None]);
        let second = store
            .observe("card", "c1", &event(600, 5.0, "m2"), &w)
            .expect("observe");
        assert_eq!(second, vec![Some(2.0), Some(15.0), Some(2.0), Some(600.0)]);
        let third = store
            .observe("card", "c1", &event(600 + 3600, 1.0, "m1"), &w)
            .expect("observe");
        // The first event fell out of the hour: (t - 3600 s, t] excludes t - 3600.
        assert_eq!(third, vec![Some(1.0), Some(1.0), Some(1.0), Some(3600.0)]);
        // Reading changes nothing and sees the same as of a time.
        let read = store
            .read("card", "c1", (600 + 3600) * 1000, &w)
            .expect("read");
        assert_eq!(read, vec![Some(1.0), Some(1.0), Some(1.0), Some(0.0)]);
        // Entities and namespaces are separate.
        let other = store.read("card", "c2", 0, &w).expect("read");
        assert_eq!(other, vec![Some(0.0), Some(0.0), Some(0.0), None]);
        let other = store.read("device", "c1", 4200 * 1000, &w).expect("read");
        assert_eq!(other[0], Some(0.0));
    }

    #[test]
    fn a_late_event_lands_in_its_place() {
        let in_order = EmbeddedStore::default();
        let late = EmbeddedStore::default();
        let w = windows();
        for s in [0, 100, 200] {
            in_order
                .observe("n", "e", &event(s, 1.0, "k"), &w)
                .expect("observe");
        }
        for s in [0, 200, 100] {
            late.observe("n", "e", &event(s, 1.0, "k"), &w)
                .expect("observe");
        }
        assert_eq!(
            in_order.read("n", "e", 300_000, &w),
            late.read("n", "e", 300_000, &w)
        );
    }

    #[test]
    fn memory_is_bounded() {
        let store = EmbeddedStore::new(EmbeddedLimits {
            retention_seconds: 3600,
            max_events_per_entity: 3,
            max_entities: 2,
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
        store
            .observe("n", "b", &event(0, 1.0, "k"), &w)
            .expect("observe");
        store
            .observe("n", "c", &event(0, 1.0, "k"), &w)
            .expect("observe");
        assert_eq!(store.entities(), 2);
        // `a` was least recently observed, so it went.
        assert_eq!(
            store.read("n", "a", 9000, &w).expect("read"),
            vec![Some(0.0)]
        );
        // A window past retention is refused rather than silently short.
        let long = vec![window("day", Aggregate::Count, 86_400)];
        assert!(matches!(
            store.read("n", "b", 0, &long),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn malformed_requests_are_refused() {
        let store = EmbeddedStore::default();
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

    #[test]
    fn concurrent_observers_both_count() {
        let store = std::sync::Arc::new(EmbeddedStore::default());
        let w = vec![window("count", Aggregate::Count, 3600)];
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (store, w) = (store.clone(), w.clone());
                std::thread::spawn(move || {
                    for i in 0..250 {
                        store
                            .observe(
                                "card",
                                "same",
                                &event(i64::from(t * 250 + i) / 1000, 1.0, "k"),
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
            vec![Some(1000.0)]
        );
    }

    #[test]
    fn lookups_return_what_was_put() {
        let store = EmbeddedStore::default();
        store
            .put("card", "c1", "chargebacks-90d", 2.0)
            .expect("put");
        let got = store
            .lookup("card", "c1", &["chargebacks-90d".into(), "unknown".into()])
            .expect("lookup");
        assert_eq!(got, vec![Some(2.0), None]);
    }
}
