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
//! Entities are spread over 64 shards ([`SHARDS`]) by a hash of their name, each
//! behind its own lock, so calls for two entities of different shards never
//! wait on each other. A shard keeps its entities in a linked hash map in
//! the order they were last observed, so finding and evicting its least
//! recently observed entity is O(1).
//!
//! Memory is accounted in bytes: every entity's name (its namespace and
//! key), its events (each with its distinct key) and its distinct-key index,
//! each container counted by the room it holds, which follows its length
//! both ways ([`EntityEvents`]), so the count is the memory held and stays
//! flat while the events held do.
//! The store keeps one count of bytes and one of entities for all shards.
//! Beyond [`EmbeddedLimits::max_bytes`] (or `max_entities`), the call that
//! went past evicts the least recently observed entities, oldest first,
//! until the store is within its limits again: the oldest of all is the
//! oldest of the shard whose oldest is oldest, and each shard publishes its
//! oldest entity's tick without a lock, so choosing costs a look at each
//! shard and evicting O(1). The call evicts after releasing its own shard,
//! never holding two shards' locks. It passes over a shard another call is
//! using for the next oldest (and waits for one only when every shard with
//! entities is in use), so under contention the entity evicted may be a
//! little younger than the oldest.
//!
//! The byte bound: when no call is running, the store is within its limits,
//! unless the one entity observed last is alone larger than `max_bytes`
//! (it is kept, as an entity is never evicted by its own observation).
//! While calls run, each may have added its event (and its entity's name)
//! before evicting, so the store may be over by what the running calls add,
//! one entity each at most. One budget for all shards, rather than a share
//! each: with a share each, an entity larger than the share would be kept
//! in every shard, 64 times over budget.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use hashlink::LinkedHashMap;
use parking_lot::Mutex;

use super::{FeatureStore, Observation, Observed, Receipt, StoreError, Window};
use super::{check_observation, check_request, check_retention, now_ms};

mod snapshot;
#[cfg(test)]
mod tests;

use edgescore_models::transform::entity_events::{
    DEFAULT_MAX_EVENTS_PER_ENTITY, EntityEvents, StoredEvent,
};

/// How many shards a store has: enough that two busy cards rarely share
/// one, few enough that looking at every shard's oldest entity is cheap.
const SHARDS: usize = 64;

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
    /// the room of each entity's containers included, allocator overhead
    /// aside: [`EntityEvents`]); beyond it the least recently observed
    /// entities are evicted. Point features (`put`) are not counted.
    pub max_bytes: usize,
}

impl Default for EmbeddedLimits {
    fn default() -> Self {
        Self {
            retention_seconds: 7 * 24 * 3600,
            max_events_per_entity: DEFAULT_MAX_EVENTS_PER_ENTITY,
            max_entities: 1_000_000,
            max_bytes: 256 << 20,
        }
    }
}

/// An entity's name: its namespace and key.
type EntityKey = (String, String);

/// What one entity costs besides its events and its name's bytes: the
/// record, its name, and its share of the linked map (the node's links,
/// its allocation and its slot in the table).
const ENTITY_BYTES: usize =
    std::mem::size_of::<EntityEvents>() + std::mem::size_of::<EntityKey>() + 64;

/// The tick [`Slot::oldest`] holds for a shard with no entity.
const EMPTY: u64 = u64::MAX;

#[derive(Debug)]
struct Shard {
    /// Least recently observed first: observing an entity moves it to the
    /// back.
    entities: LinkedHashMap<EntityKey, EntityEvents, RandomState>,
    points: HashMap<(String, String, String), f64>,
}

impl Shard {
    /// The tick its least recently observed entity was observed at.
    fn oldest(&self) -> u64 {
        self.entities.front().map_or(EMPTY, |(_, e)| e.last_used)
    }

    /// Removes its least recently observed entity other than `keep`.
    fn evict_oldest(&mut self, keep: &EntityKey) -> Option<EntityEvents> {
        let mut cursor = self.entities.cursor_front_mut();
        if cursor.current().is_some_and(|(key, _)| key == keep) {
            cursor.move_next();
        }
        cursor.current_entry().ok().map(|entry| entry.remove())
    }
}

/// One shard, and what eviction reads of it without taking its lock.
#[derive(Debug)]
struct Slot {
    shard: Mutex<Shard>,
    /// [`Shard::oldest`], stored under the lock after every change.
    oldest: AtomicU64,
}

/// Online features in process memory, in 64 shards by entity: every call
/// on one entity is atomic; calls on entities of different shards run at
/// once.
pub struct EmbeddedStore {
    limits: EmbeddedLimits,
    slots: Box<[Slot]>,
    /// Which shard an entity is in.
    hasher: RandomState,
    /// Ticks once per observation: the order entities were last observed
    /// in, and the sequence number of each event.
    clock: AtomicU64,
    /// The sum of every entity's `bytes`.
    bytes: AtomicUsize,
    entities: AtomicUsize,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("limits", &self.limits)
            .field("entities", &self.entities())
            .field("bytes", &self.bytes())
            .finish_non_exhaustive()
    }
}

impl Default for EmbeddedStore {
    fn default() -> Self {
        Self::new(EmbeddedLimits::default())
    }
}

impl EmbeddedStore {
    pub fn new(limits: EmbeddedLimits) -> Self {
        let slot = || Slot {
            shard: Mutex::new(Shard {
                entities: LinkedHashMap::with_hasher(RandomState::new()),
                points: HashMap::new(),
            }),
            oldest: AtomicU64::new(EMPTY),
        };
        Self {
            limits,
            slots: (0..SHARDS).map(|_| slot()).collect(),
            hasher: RandomState::new(),
            clock: AtomicU64::new(0),
            bytes: AtomicUsize::new(0),
            entities: AtomicUsize::new(0),
        }
    }

    /// How many entities are held.
    pub fn entities(&self) -> usize {
        self.entities.load(Ordering::Relaxed)
    }

    /// How many bytes the windows' state takes, as
    /// [`EmbeddedLimits::max_bytes`] counts them.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The index of the shard that holds `namespace`'s `entity`.
    fn shard_of(&self, namespace: &str, entity: &str) -> usize {
        (self.hasher.hash_one((namespace, entity)) % SHARDS as u64) as usize
    }

    fn slot(&self, namespace: &str, entity: &str) -> &Slot {
        &self.slots[self.shard_of(namespace, entity)]
    }

    /// Moves the byte count from an entity's `before` to its `after`.
    fn resize(&self, before: usize, after: usize) {
        if after >= before {
            self.bytes.fetch_add(after - before, Ordering::Relaxed);
        } else {
            self.bytes.fetch_sub(before - after, Ordering::Relaxed);
        }
    }

    /// Takes a removed entity out of the counts.
    fn removed(&self, entity: &EntityEvents) {
        self.bytes.fetch_sub(entity.bytes, Ordering::Relaxed);
        self.entities.fetch_sub(1, Ordering::Relaxed);
    }

    fn over_limits(&self) -> bool {
        self.bytes() > self.limits.max_bytes || self.entities() > self.limits.max_entities
    }

    /// Evicts the least recently observed entity other than `keep` (see
    /// the module's doc for how it is found); whether there was one. The
    /// caller holds no shard's lock.
    fn evict_one(&self, keep: &EntityKey) -> bool {
        let mut order: [(u64, usize); SHARDS] =
            std::array::from_fn(|i| (self.slots[i].oldest.load(Ordering::Relaxed), i));
        order.sort_unstable();
        let candidates = || order.iter().take_while(|(tick, _)| *tick != EMPTY);
        let evict = |slot: &Slot, shard: &mut Shard| {
            let Some(entity) = shard.evict_oldest(keep) else {
                return false;
            };
            self.removed(&entity);
            slot.oldest.store(shard.oldest(), Ordering::Relaxed);
            true
        };
        // First without waiting on a shard another call holds.
        for &(_, i) in candidates() {
            let slot = &self.slots[i];
            if let Some(mut shard) = slot.shard.try_lock()
                && evict(slot, &mut shard)
            {
                return true;
            }
        }
        candidates().any(|&(_, i)| {
            let slot = &self.slots[i];
            evict(slot, &mut slot.shard.lock())
        })
    }
}

impl FeatureStore for EmbeddedStore {
    fn usage(&self) -> Option<super::StoreUsage> {
        Some(super::StoreUsage {
            entities: self.entities(),
            bytes: self.bytes(),
        })
    }

    fn put(&self, namespace: &str, entity: &str, name: &str, value: f64) -> Result<(), StoreError> {
        check_request(namespace, entity, &[])?;
        self.slot(namespace, entity)
            .shard
            .lock()
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
        let shard = self.slot(namespace, entity).shard.lock();
        Ok(names
            .iter()
            .map(|name| {
                shard
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
        check_retention(windows, self.limits.retention_seconds)?;
        check_observation(event)?;
        let key: EntityKey = (namespace.to_owned(), entity.to_owned());
        let slot = self.slot(namespace, entity);
        let observed = {
            let mut shard = slot.shard.lock();
            // Ticked under the shard's lock, so each shard's order of use
            // is in tick order too.
            let tick = self.clock.fetch_add(1, Ordering::Relaxed) + 1;
            if shard.entities.to_back(&key).is_none() {
                let record = EntityEvents::new(ENTITY_BYTES + namespace.len() + entity.len());
                self.bytes.fetch_add(record.bytes, Ordering::Relaxed);
                self.entities.fetch_add(1, Ordering::Relaxed);
                shard.entities.insert(key.clone(), record);
            }
            let Some(record) = shard.entities.get_mut(&key) else {
                return Err(StoreError::Unavailable(
                    "the embedded store lost an entity it had just inserted".into(),
                ));
            };
            let before = record.bytes;
            record.last_used = tick;
            let stored = StoredEvent {
                timestamp_ms: event.timestamp_ms,
                sequence: tick,
                value: event.value,
                distinct_key: event.distinct_key.clone(),
            };
            let values = record.observe(
                stored,
                self.limits.retention_seconds,
                self.limits.max_events_per_entity,
                now_ms(),
                windows,
            );
            self.resize(before, record.bytes);
            slot.oldest.store(shard.oldest(), Ordering::Relaxed);
            Observed {
                values,
                receipt: Receipt {
                    namespace: namespace.to_owned(),
                    entity: entity.to_owned(),
                    timestamp_ms: event.timestamp_ms,
                    sequence: tick,
                },
            }
        };
        while self.over_limits() && self.evict_one(&key) {}
        Ok(observed)
    }

    fn forget(&self, receipts: &[Receipt]) -> Result<(), StoreError> {
        for receipt in receipts {
            let key: EntityKey = (receipt.namespace.clone(), receipt.entity.clone());
            let slot = self.slot(&receipt.namespace, &receipt.entity);
            let mut shard = slot.shard.lock();
            let Some(record) = shard.entities.get_mut(&key) else {
                continue;
            };
            let before = record.bytes;
            if !record.remove(receipt.timestamp_ms, receipt.sequence) {
                continue;
            }
            self.resize(before, record.bytes);
            // An entity that holds no event any more is removed.
            if record.events.is_empty()
                && let Some(record) = shard.entities.remove(&key)
            {
                self.removed(&record);
                slot.oldest.store(shard.oldest(), Ordering::Relaxed);
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
        check_retention(windows, self.limits.retention_seconds)?;
        let shard = self.slot(namespace, entity).shard.lock();
        let empty = EntityEvents::default();
        let record = shard
            .entities
            .get(&(namespace.to_owned(), entity.to_owned()))
            .unwrap_or(&empty);
        Ok(windows
            .iter()
            .map(|w| record.aggregate(timestamp_ms, w, false))
            .collect())
    }
}
