//! One entity's events in time order, the index of its distinct keys, and
//! the windows' aggregates over them: the rules every in-memory feature
//! store applies (the server's embedded store, the browser's page store),
//! so an entity's windows read the same wherever it is kept.
//!
//! An event counts in a window of `s` seconds read at time `t` when its
//! timestamp is in `(t - s, t]`. A late event is inserted in its place, so
//! replaying a history in order and observing it live give the same
//! aggregates; sums add in time order, so they are reproducible to the bit.

use std::collections::{HashMap, HashSet, VecDeque};

use super::plan::{Aggregate, WindowPlan};

/// The newest events an in-memory store keeps per entity by default.
pub const DEFAULT_MAX_EVENTS_PER_ENTITY: usize = 10_000;

/// What one slot of the event buffer costs (the event's distinct key, if
/// any, is counted apart: [`StoredEvent::key_bytes`]).
pub const EVENT_SLOT_BYTES: usize = std::mem::size_of::<StoredEvent>();

/// What one slot of the distinct-key index costs: its entry and the hash
/// table's control byte (the key's own bytes are counted apart). Counted
/// per unit of the map's capacity, which is 7/8 of its buckets (3/4 when
/// small): the index's room is undercounted by up to a seventh.
pub const KEY_SLOT_BYTES: usize = std::mem::size_of::<(String, KeyStat)>() + 1;

/// Containers with less room than this are never shrunk: a few hundred
/// bytes at most, and shrinking them would only churn the allocator.
const SMALLEST_SHRUNK: usize = 8;

#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub timestamp_ms: i64,
    /// Unique within the store: what a feature store's receipt names.
    pub sequence: u64,
    pub value: f64,
    pub distinct_key: Option<String>,
}

impl StoredEvent {
    /// The bytes it holds outside its slot: its distinct key's.
    pub fn key_bytes(&self) -> usize {
        self.distinct_key.as_ref().map_or(0, String::len)
    }
}

/// One entity's events and the index of their distinct keys.
///
/// `bytes` is what the entity holds in memory, allocator overhead aside:
/// what it was created with ([`EntityEvents::new`]: its name, its record),
/// its event buffer's and key index's room (their capacity, not their
/// length: room is memory held), and the keys' bytes. Each container's
/// room follows its length both ways: it doubles when full and halves once
/// it is no more than 3/8 full, so an entity whose event count comes back
/// down gives its room back, and the room an entity holds depends on how
/// many events it holds now, not on the most it ever held. (A buffer that
/// never shrank would keep each entity's high-water mark: over a long run
/// the memory held would creep up while the events held stayed flat.)
/// Between halving at 3/8 and doubling at full, a container's length
/// must move by at least a quarter of the smaller room before its room
/// moves back, so the cost of moving it stays a small constant per event.
#[derive(Debug, Default)]
pub struct EntityEvents {
    /// In timestamp order.
    pub events: VecDeque<StoredEvent>,
    /// Each distinct key among `events`: how many carry it, and the newest
    /// timestamp. Distinct counts read this when it is shorter than the
    /// window (a card hammered at one merchant).
    pub keys: HashMap<String, KeyStat>,
    /// When it was last observed, in its store's ticks (what the embedded
    /// store's eviction compares); this type never reads it.
    pub last_used: u64,
    /// What it takes in memory, its name, events and room included.
    pub bytes: usize,
    /// The part of `bytes` that is the two containers' room.
    room: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct KeyStat {
    pub events: usize,
    pub newest_ms: i64,
}

impl EntityEvents {
    /// An entity with no event, `bytes` its name and record take.
    pub fn new(bytes: usize) -> Self {
        Self {
            bytes,
            ..Self::default()
        }
    }

    /// The room held: (event slots, key slots).
    pub fn room(&self) -> (usize, usize) {
        (self.events.capacity(), self.keys.capacity())
    }

    /// Holds room for at least `events` events and `keys` keys, at most
    /// `most` of each: what a snapshot recorded, so that an entity read
    /// back holds, and counts, the room the one written did (room depends
    /// on the entity's history, not only on what it holds now).
    pub fn reserve_room(&mut self, (events, keys): (usize, usize), most: usize) {
        self.events
            .reserve_exact(events.min(most).saturating_sub(self.events.len()));
        self.keys
            .reserve(keys.min(most).saturating_sub(self.keys.len()));
        self.fit();
    }

    /// Adds `event` in its place in time order.
    pub fn insert(&mut self, event: StoredEvent) {
        self.add(event);
        self.fit();
    }

    fn add(&mut self, event: StoredEvent) {
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
                    self.bytes += key.len();
                    self.keys.insert(key.clone(), stat);
                }
            }
        }
        self.bytes += event.key_bytes();
        let at = self
            .events
            .partition_point(|e| e.timestamp_ms <= event.timestamp_ms);
        self.events.insert(at, event);
    }

    /// Records `event`, drops the events that retention (`retention_seconds`
    /// back from the event, or from `now_ms` for an event dated ahead of
    /// it) and the per-entity cap (`max_events`, newest kept) no longer
    /// allow, and returns each of `windows` as of the event, the event
    /// included.
    pub fn observe(
        &mut self,
        event: StoredEvent,
        retention_seconds: u32,
        max_events: usize,
        now_ms: i64,
        windows: &[WindowPlan],
    ) -> Vec<Option<f64>> {
        let at = event.timestamp_ms;
        self.add(event);
        let oldest_kept = at
            .min(now_ms)
            .saturating_sub(i64::from(retention_seconds) * 1000);
        while self
            .events
            .front()
            .is_some_and(|e| e.timestamp_ms <= oldest_kept)
            || self.events.len() > max_events
        {
            self.drop_oldest();
        }
        self.fit();
        windows
            .iter()
            .map(|w| self.aggregate(at, w, true))
            .collect()
    }

    /// Drops the oldest event (whose key's newest timestamp, if others
    /// remain, is theirs: they are no older); the caller fits the room.
    fn drop_oldest(&mut self) {
        if let Some(event) = self.events.pop_front() {
            self.unindex(&event, false);
        }
    }

    /// Removes the event `sequence` at `timestamp_ms`; whether it was there.
    pub fn remove(&mut self, timestamp_ms: i64, sequence: u64) -> bool {
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
        self.fit();
        true
    }

    /// Halves each container's room while it is no more than 3/8 full, and
    /// brings `bytes` up to date with the room held.
    fn fit(&mut self) {
        let events = halved(self.events.len(), self.events.capacity());
        if events < self.events.capacity() {
            self.events.shrink_to(events);
        }
        let keys = halved(self.keys.len(), self.keys.capacity());
        if keys < self.keys.capacity() {
            self.keys.shrink_to(keys);
        }
        let room =
            self.events.capacity() * EVENT_SLOT_BYTES + self.keys.capacity() * KEY_SLOT_BYTES;
        self.bytes = self.bytes - self.room + room;
        self.room = room;
    }

    /// Takes a removed event out of the byte count and the key index; when
    /// it may have been its key's newest (`anywhere`: not the oldest), the
    /// key's newest time is found again among the events left.
    fn unindex(&mut self, event: &StoredEvent, anywhere: bool) {
        self.bytes -= event.key_bytes();
        let Some(key) = &event.distinct_key else {
            return;
        };
        let Some(stat) = self.keys.get_mut(key) else {
            return;
        };
        stat.events -= 1;
        if stat.events == 0 {
            self.keys.remove(key);
            self.bytes -= key.len();
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
    pub fn aggregate(&self, at: i64, w: &WindowPlan, at_event: bool) -> Option<f64> {
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

/// The room (in slots) to keep for `len` items in `capacity` slots: halved
/// while it is at least [`SMALLEST_SHRUNK`] and no more than 3/8 full.
fn halved(len: usize, capacity: usize) -> usize {
    let mut room = capacity;
    while room >= SMALLEST_SHRUNK && len <= room * 3 / 8 {
        room /= 2;
    }
    room
}
