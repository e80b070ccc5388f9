//! What is the embedded store's own: eviction of whole entities, shards,
//! the byte count. The behaviour shared with the Redis store is tested once
//! for both in tests/feature_store/.

use std::collections::HashSet;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use super::*;
use crate::feature_store::Aggregate;
use edgescore_models::transform::entity_events::{EVENT_SLOT_BYTES, KEY_SLOT_BYTES, StoredEvent};

fn count() -> Vec<Window> {
    vec![Window {
        name: "count".into(),
        aggregate: Aggregate::Count,
        seconds: 3600,
    }]
}

fn at(timestamp_ms: i64) -> Observation {
    Observation {
        timestamp_ms,
        value: 1.0,
        distinct_key: None,
    }
}

/// The entities of namespace `n` among `names` that the store holds.
fn held<'a>(store: &EmbeddedStore, names: &[&'a str]) -> Vec<&'a str> {
    names
        .iter()
        .copied()
        .filter(|e| store.read("n", e, 0, &count()).expect("read") != vec![Some(0.0)])
        .collect()
}

/// `n` entity names of namespace `n`, each in a shard of its own.
fn in_distinct_shards(store: &EmbeddedStore, n: usize) -> Vec<String> {
    let mut shards = HashSet::new();
    (0..)
        .map(|i| format!("e{i}"))
        .filter(|name| shards.insert(store.shard_of("n", name)))
        .take(n)
        .collect()
}

/// What the shards hold, found by looking at each: (entities, bytes).
fn scanned(store: &EmbeddedStore) -> (usize, usize) {
    store.slots.iter().fold((0, 0), |(entities, bytes), slot| {
        let shard = slot.shard.lock();
        let held: usize = shard.entities.iter().map(|(_, e)| e.bytes).sum();
        (entities + shard.entities.len(), bytes + held)
    })
}

#[test]
fn the_least_recently_observed_entity_is_evicted() {
    let store = EmbeddedStore::new(EmbeddedLimits {
        max_entities: 2,
        ..EmbeddedLimits::default()
    });
    for entity in ["a", "b", "c"] {
        store
            .observe("n", entity, &at(0), &count())
            .expect("observe");
    }
    assert_eq!(store.entities(), 2);
    assert_eq!(held(&store, &["a", "b", "c"]), ["b", "c"]);
}

/// Observing an entity again makes it the most recent; reading it does not.
#[test]
fn eviction_follows_the_order_of_observation_not_of_reads() {
    let store = EmbeddedStore::new(EmbeddedLimits {
        max_entities: 3,
        ..EmbeddedLimits::default()
    });
    let all = ["a", "b", "c", "d", "e"];
    for entity in ["a", "b", "c", "a"] {
        store
            .observe("n", entity, &at(0), &count())
            .expect("observe");
    }
    store.read("n", "b", 0, &count()).expect("read");
    store.observe("n", "d", &at(0), &count()).expect("observe");
    assert_eq!(held(&store, &all), ["a", "c", "d"]);
    store.observe("n", "e", &at(0), &count()).expect("observe");
    assert_eq!(held(&store, &all), ["a", "d", "e"]);
    // Forgetting an entity's every event removes it, wherever it was in
    // the order; the others keep theirs.
    let receipt = store
        .observe("n", "b", &at(0), &count())
        .expect("observe")
        .receipt;
    assert_eq!(held(&store, &all), ["b", "d", "e"]);
    store.forget(&[receipt]).expect("forget");
    assert_eq!(held(&store, &all), ["d", "e"]);
    assert_eq!(scanned(&store), (store.entities(), store.bytes()));
}

/// With every other shard held (as by calls that never end), an
/// observation of an entity of the free shard still finishes; one of a
/// held shard finishes only once it is released.
#[test]
fn an_observation_waits_on_no_other_shard() {
    let store = Arc::new(EmbeddedStore::default());
    let names = in_distinct_shards(&store, 2);
    let (free, busy) = (store.shard_of("n", &names[0]), &names[1]);
    let guards: Vec<_> = (0..SHARDS)
        .filter(|&i| i != free)
        .map(|i| store.slots[i].shard.lock())
        .collect();
    let observe = |entity: String| {
        let (store, (done, finished)) = (store.clone(), mpsc::channel());
        let thread = std::thread::spawn(move || {
            let observed = store.observe("n", &entity, &at(0), &count());
            done.send(observed.map(|o| o.values)).expect("send");
        });
        (thread, finished)
    };
    let (blocked, blocked_result) = observe(busy.clone());
    let (thread, result) = observe(names[0].clone());
    let got = result
        .recv_timeout(Duration::from_secs(60))
        .expect("an observation in a free shard finishes while the others are held");
    assert_eq!(got, Ok(vec![Some(1.0)]));
    assert!(
        blocked_result.try_recv().is_err(),
        "an observation in a held shard cannot have finished"
    );
    drop(guards);
    assert_eq!(
        blocked_result.recv().expect("released"),
        Ok(vec![Some(1.0)])
    );
    thread.join().expect("thread");
    blocked.join().expect("thread");
}

/// A full store evicts from a shard not in use rather than wait for the
/// one that holds the oldest entity.
#[test]
fn eviction_passes_over_a_shard_in_use() {
    let store = Arc::new(EmbeddedStore::new(EmbeddedLimits {
        max_entities: 2,
        ..EmbeddedLimits::default()
    }));
    let names = in_distinct_shards(&store, 3);
    for name in &names[..2] {
        store.observe("n", name, &at(0), &count()).expect("observe");
    }
    let guard = store.slots[store.shard_of("n", &names[0])].shard.lock();
    let (done, finished) = mpsc::channel();
    let thread = {
        let (store, name) = (store.clone(), names[2].clone());
        std::thread::spawn(move || {
            let observed = store.observe("n", &name, &at(0), &count());
            done.send(observed.is_ok()).expect("send");
        })
    };
    let observed = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("a full store evicts without waiting for a held shard");
    assert!(observed);
    drop(guard);
    thread.join().expect("thread");
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(held(&store, &names), [names[0], names[2]]);
}

/// Entities of many sizes, observed from four threads at once: when all
/// calls are done, the store is within its byte budget, and its counts
/// are what the shards hold.
#[test]
fn the_byte_budget_holds_across_shards() {
    let limits = EmbeddedLimits {
        max_bytes: 64 << 10,
        ..EmbeddedLimits::default()
    };
    let store = Arc::new(EmbeddedStore::new(limits));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..300 {
                    let name = format!("{t}-{i}-{}", "x".repeat((i * 37) % 2000));
                    let event = Observation {
                        distinct_key: Some(format!("m{}", i % 7)),
                        ..at(0)
                    };
                    store
                        .observe("n", &name, &event, &count())
                        .expect("observe");
                    // Over by no more than the other three calls may
                    // have added (one entity of under 3 KB each).
                    if t == 0 {
                        let bytes = store.bytes();
                        assert!(bytes <= limits.max_bytes + (12 << 10), "{bytes} bytes");
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread");
    }
    assert!(store.bytes() <= limits.max_bytes, "{} bytes", store.bytes());
    assert!(store.entities() > 10, "{} entities", store.entities());
    assert_eq!(scanned(&store), (store.entities(), store.bytes()));
    // One thread alone: within the budget after every call.
    for i in 0..500 {
        let name = format!("solo-{i}-{}", "y".repeat((i * 53) % 3000));
        store
            .observe("n", &name, &at(0), &count())
            .expect("observe");
        assert!(store.bytes() <= limits.max_bytes, "{} bytes", store.bytes());
    }
    assert_eq!(scanned(&store), (store.entities(), store.bytes()));
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
    let key = ("n".to_owned(), "card".to_owned());
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
        let shard = store.slot("n", "card").shard.lock();
        let entity = shard.entities.get(&key).expect("the card is held");
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
            + "ncard".len()
            + entity.events.capacity() * EVENT_SLOT_BYTES
            + entity
                .events
                .iter()
                .map(StoredEvent::key_bytes)
                .sum::<usize>()
            + entity.keys.capacity() * KEY_SLOT_BYTES
            + entity.keys.keys().map(String::len).sum::<usize>();
        assert_eq!((entity.bytes, store.bytes()), (bytes, bytes), "event {i}");
        assert!(
            tight(entity.events.len(), entity.events.capacity())
                && tight(entity.keys.len(), entity.keys.capacity()),
            "event {i}: room for {} events and {} keys holding {} and {}",
            entity.events.capacity(),
            entity.keys.capacity(),
            entity.events.len(),
            entity.keys.len()
        );
    }
}

/// Whether a container holding `len` items in `capacity` slots holds no
/// more room than [`EntityEvents`] keeps: under 8 slots, or over 3/8 full.
fn tight(len: usize, capacity: usize) -> bool {
    capacity < 8 || len * 8 > capacity * 3
}

/// An entity's room follows its event count down as well as up: once a
/// burst of 2,000 events ages out, the entity holds room for the few it
/// keeps, and the store's byte count says so. (A buffer that kept its
/// high-water mark made a long soak's memory creep while its events held
/// stayed flat.)
#[test]
fn room_follows_the_events_held_both_ways() {
    let store = EmbeddedStore::new(EmbeddedLimits {
        retention_seconds: 60,
        ..EmbeddedLimits::default()
    });
    let keyed = |timestamp_ms: i64, key: i64| Observation {
        timestamp_ms,
        value: 1.0,
        distinct_key: Some(format!("merchant {key}")),
    };
    let minute = [Window {
        seconds: 60,
        ..count().remove(0)
    }];
    for i in 0..2000 {
        store
            .observe("n", "card", &keyed(i, i), &minute)
            .expect("observe");
    }
    let burst = store.bytes();
    // Then one event every 10 s, at one merchant: the burst ages out.
    for i in 1..=100 {
        store
            .observe("n", "card", &keyed(2000 + i * 10_000, 0), &minute)
            .expect("observe");
    }
    {
        let shard = store.slot("n", "card").shard.lock();
        let entity = shard
            .entities
            .get(&("n".to_owned(), "card".to_owned()))
            .expect("the card is held");
        assert_eq!((entity.events.len(), entity.keys.len()), (6, 1));
        assert!(
            entity.events.capacity() <= 16 && entity.keys.capacity() <= 7,
            "room for {} events and {} keys after the burst aged out",
            entity.events.capacity(),
            entity.keys.capacity()
        );
    }
    assert!(
        store.bytes() * 50 < burst,
        "{} bytes after the burst, {burst} during it",
        store.bytes()
    );
    assert_eq!(scanned(&store), (store.entities(), store.bytes()));
}
