//! One entity's events in time order, the index of its distinct keys, and
//! the windows' aggregates over them.

use std::collections::{HashMap, HashSet, VecDeque};

use super::super::{Aggregate, Window};

/// What one entry of the distinct-key index costs besides the key's bytes.
pub(super) const KEY_STAT_BYTES: usize =
    std::mem::size_of::<String>() + std::mem::size_of::<KeyStat>() + 16;

#[derive(Debug, Clone)]
pub(super) struct Event {
    pub(super) timestamp_ms: i64,
    /// Unique within the store: what a [`super::super::Receipt`] names.
    pub(super) sequence: u64,
    pub(super) value: f64,
    pub(super) distinct_key: Option<String>,
}

impl Event {
    pub(super) fn bytes(&self) -> usize {
        std::mem::size_of::<Event>() + self.distinct_key.as_ref().map_or(0, String::len)
    }
}

#[derive(Debug, Default)]
pub(super) struct Entity {
    /// In timestamp order.
    pub(super) events: VecDeque<Event>,
    /// Each distinct key among `events`: how many carry it, and the newest
    /// timestamp. Distinct counts read this when it is shorter than the
    /// window (a card hammered at one merchant).
    pub(super) keys: HashMap<String, KeyStat>,
    /// When it was last observed, in store ticks: what eviction compares
    /// across shards.
    pub(super) last_used: u64,
    /// What it takes in memory, its name and events included.
    pub(super) bytes: usize,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct KeyStat {
    pub(super) events: usize,
    pub(super) newest_ms: i64,
}

impl Entity {
    pub(super) fn insert(&mut self, event: Event) {
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
    pub(super) fn pop_oldest(&mut self) {
        if let Some(event) = self.events.pop_front() {
            self.unindex(&event, false);
        }
    }

    /// Removes the event `sequence` at `timestamp_ms`; whether it was there.
    pub(super) fn remove(&mut self, timestamp_ms: i64, sequence: u64) -> bool {
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

    /// Window `w` over the events in `(at - w, at]`. For seconds-since-last,
    /// `at_event` says the newest event at `at` is the one being observed,
    /// so the gap is to the one before it.
    pub(super) fn aggregate(&self, at: i64, w: &Window, at_event: bool) -> Option<f64> {
        let events = &self.events;
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
            Aggregate::DistinctCount if end == events.len() && self.keys.len() < end - begin => {
                Some(self.keys.values().filter(|k| k.newest_ms > start).count() as f64)
            }
            Aggregate::DistinctCount => Some(
                in_window
                    .filter_map(|e| e.distinct_key.as_deref())
                    .collect::<HashSet<_>>()
                    .len() as f64,
            ),
            Aggregate::SecondsSinceLast => {
                // The event before the newest one at or before `at` (when
                // observing) or the newest one (when reading), inside the
                // window.
                let previous = if at_event {
                    end.checked_sub(2)?
                } else {
                    end.checked_sub(1)?
                };
                (previous >= begin).then(|| (at - events[previous].timestamp_ms) as f64 / 1000.0)
            }
        }
    }
}
