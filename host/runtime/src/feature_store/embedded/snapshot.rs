//! An embedded store written to a file and read back as it was: every
//! entity's events (times, sequence numbers, values, distinct keys), the
//! order entities were last observed in (what eviction reads), the point
//! features and the store's tick. A store read back answers every call as
//! the store written would have: `edgescore stream` restarts its windows
//! from a snapshot and replays the stream past it.
//!
//! The file is JSON lines: a header `{"format": ..., "version": 1,
//! "clock": tick}`, then one `{"e": [namespace, entity, last used,
//! [[time, sequence, value, distinct key or null], ...]], "r": [event
//! slots, key slots]}` per entity in the order they were last observed,
//! then one `{"p": [namespace, entity, name, value]}` per point feature.
//! Floats are written shortest-exact, so they read back to the same bits.
//! `r` is the room the entity held, which the byte budget counts and which
//! depends on its history (`EntityEvents`); a snapshot without it (written
//! before it was recorded) reads back with the least room that fits.

use std::io::{BufRead, Write};
use std::sync::atomic::Ordering;

use edgescore_models::transform::entity_events::{EntityEvents, StoredEvent};
use serde::{Deserialize, Serialize};

use super::{ENTITY_BYTES, EmbeddedLimits, EmbeddedStore, EntityKey};

const FORMAT: &str = "edgescore-embedded-store";

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    clock: u64,
}

type EventLine = (i64, u64, f64, Option<String>);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<(String, String, u64, Vec<EventLine>)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r: Option<(usize, usize)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<(String, String, String, f64)>,
}

impl EmbeddedStore {
    /// Writes the whole store to `out` (each shard read under its lock, one
    /// at a time: call it when no observation runs, for a consistent
    /// snapshot).
    pub fn write_snapshot(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let header = Header {
            format: FORMAT.into(),
            version: 1,
            clock: self.clock.load(Ordering::Relaxed),
        };
        writeln!(out, "{}", serde_json::to_string(&header)?)?;
        let mut entities: Vec<(u64, Line)> = Vec::new();
        let mut points = Vec::new();
        for slot in &self.slots {
            let shard = slot.shard.lock();
            for ((namespace, entity), record) in shard.entities.iter() {
                let events = record
                    .events
                    .iter()
                    .map(|e| (e.timestamp_ms, e.sequence, e.value, e.distinct_key.clone()))
                    .collect();
                let line = Line {
                    e: Some((namespace.clone(), entity.clone(), record.last_used, events)),
                    r: Some(record.room()),
                    p: None,
                };
                entities.push((record.last_used, line));
            }
            for ((namespace, entity, name), value) in &shard.points {
                points.push(Line {
                    e: None,
                    r: None,
                    p: Some((namespace.clone(), entity.clone(), name.clone(), *value)),
                });
            }
        }
        entities.sort_by_key(|(used, _)| *used);
        for line in entities.iter().map(|(_, l)| l).chain(&points) {
            writeln!(out, "{}", serde_json::to_string(line)?)?;
        }
        out.flush()
    }

    /// Reads a store written by [`EmbeddedStore::write_snapshot`], with
    /// `limits`; why not, when the text is not a snapshot.
    pub fn read_snapshot(limits: EmbeddedLimits, input: &mut dyn BufRead) -> Result<Self, String> {
        let mut lines = input.lines();
        let header = lines
            .next()
            .ok_or("the snapshot is empty")?
            .map_err(|e| e.to_string())?;
        let header: Header = serde_json::from_str(&header)
            .map_err(|e| format!("not a snapshot of an embedded store: {e}"))?;
        if header.format != FORMAT || header.version != 1 {
            return Err(format!(
                "a snapshot of format '{}' version {}, not '{FORMAT}' version 1",
                header.format, header.version
            ));
        }
        let store = Self::new(limits);
        store.clock.store(header.clock, Ordering::Relaxed);
        for (n, line) in lines.enumerate() {
            let line = line.map_err(|e| e.to_string())?;
            let line: Line = serde_json::from_str(&line)
                .map_err(|e| format!("line {} of the snapshot: {e}", n + 2))?;
            if let Some((namespace, entity, last_used, events)) = line.e {
                let mut record = EntityEvents::new(ENTITY_BYTES + namespace.len() + entity.len());
                record.last_used = last_used;
                for (timestamp_ms, sequence, value, distinct_key) in events {
                    record.insert(StoredEvent {
                        timestamp_ms,
                        sequence,
                        value,
                        distinct_key,
                    });
                }
                if let Some(room) = line.r {
                    // No more room than the per-entity cap can need.
                    let most = limits.max_events_per_entity.max(1).next_power_of_two();
                    record.reserve_room(room, most);
                }
                let slot = store.slot(&namespace, &entity);
                let mut shard = slot.shard.lock();
                store.bytes.fetch_add(record.bytes, Ordering::Relaxed);
                store.entities.fetch_add(1, Ordering::Relaxed);
                let key: EntityKey = (namespace, entity);
                if let Some(old) = shard.entities.insert(key, record) {
                    store.removed(&old);
                }
                slot.oldest.store(shard.oldest(), Ordering::Relaxed);
            }
            if let Some((namespace, entity, name, value)) = line.p {
                let slot = store.slot(&namespace, &entity);
                slot.shard
                    .lock()
                    .points
                    .insert((namespace, entity, name), value);
            }
        }
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feature_store::{Aggregate, FeatureStore, Observation, Window};

    fn windows() -> Vec<Window> {
        [
            (Aggregate::Count, 3600),
            (Aggregate::Sum, 3600),
            (Aggregate::DistinctCount, 86_400),
            (Aggregate::SecondsSinceLast, 86_400),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (aggregate, seconds))| Window {
            name: format!("w{i}"),
            aggregate,
            seconds,
        })
        .collect()
    }

    fn observe(store: &EmbeddedStore, card: &str, t: i64, value: f64) -> Vec<Option<f64>> {
        let event = Observation {
            timestamp_ms: t,
            value,
            distinct_key: Some(format!("m{}", t % 3)),
        };
        store
            .observe("card", card, &event, &windows())
            .expect("no error")
            .values
    }

    #[test]
    fn a_store_read_back_answers_as_the_store_written() {
        let limits = EmbeddedLimits {
            max_entities: 5,
            ..EmbeddedLimits::default()
        };
        let original = EmbeddedStore::new(limits);
        let replica = EmbeddedStore::new(limits);
        for i in 0..40 {
            let card = format!("c{}", i % 7);
            observe(
                &original,
                &card,
                1_000_000 + i * 61_000,
                0.1 * i as f64 + 0.07,
            );
            observe(
                &replica,
                &card,
                1_000_000 + i * 61_000,
                0.1 * i as f64 + 0.07,
            );
        }
        original
            .put("card", "c1", "limit", 250.5)
            .expect("no error");
        replica.put("card", "c1", "limit", 250.5).expect("no error");
        let mut bytes = Vec::new();
        original.write_snapshot(&mut bytes).expect("no error");
        let restored =
            EmbeddedStore::read_snapshot(limits, &mut bytes.as_slice()).expect("no error");
        assert_eq!(restored.entities(), replica.entities());
        assert_eq!(restored.bytes(), replica.bytes());
        // Every later call answers alike, evictions included (5 entities
        // kept of 7 cards: the order of use decides who goes).
        for i in 40..80 {
            let card = format!("c{}", (i * 3) % 7);
            let t = 1_000_000 + i * 61_000;
            assert_eq!(
                observe(&restored, &card, t, i as f64 * 0.3)
                    .iter()
                    .map(|v| v.map(f64::to_bits))
                    .collect::<Vec<_>>(),
                observe(&replica, &card, t, i as f64 * 0.3)
                    .iter()
                    .map(|v| v.map(f64::to_bits))
                    .collect::<Vec<_>>(),
                "event {i}"
            );
        }
        assert_eq!(
            restored
                .lookup("card", "c1", &["limit".into()])
                .expect("no error"),
            vec![Some(250.5)]
        );
    }

    /// An entity whose events came back down keeps room it no longer
    /// fills (9 events grew it to 16 slots; 7 do not shrink it): read back,
    /// it holds and counts the same room, so a binding byte budget evicts
    /// alike.
    #[test]
    fn the_room_an_entity_held_is_read_back() {
        let limits = EmbeddedLimits {
            retention_seconds: 86_400,
            ..EmbeddedLimits::default()
        };
        let original = EmbeddedStore::new(limits);
        for t in [0, 1, 2, 3, 4, 5, 6, 7, 8] {
            observe(&original, "c", 1_000_000 + t * 1000, 1.0);
        }
        // A day and 2.5 s on: the first three age out, seven are left.
        observe(&original, "c", 1_000_000 + 86_400_000 + 2_500, 1.0);
        let room = |store: &EmbeddedStore| {
            let shard = store.slot("card", "c").shard.lock();
            let entity = shard
                .entities
                .get(&("card".to_owned(), "c".to_owned()))
                .expect("held");
            (entity.events.len(), entity.room())
        };
        assert_eq!(room(&original).0, 7);
        assert_eq!(room(&original).1.0, 16, "7 of 16 slots is over 3/8 full");
        let mut bytes = Vec::new();
        original.write_snapshot(&mut bytes).expect("no error");
        let restored =
            EmbeddedStore::read_snapshot(limits, &mut bytes.as_slice()).expect("no error");
        assert_eq!(room(&restored), room(&original));
        assert_eq!(restored.bytes(), original.bytes());
    }

    #[test]
    fn what_is_not_a_snapshot_is_refused_with_why() {
        let limits = EmbeddedLimits::default();
        for (text, says) in [
            ("", "empty"),
            (
                "{\"format\":\"x\",\"version\":1,\"clock\":0}\n",
                "not 'edgescore-embedded-store'",
            ),
            ("hello\n", "not a snapshot"),
            (
                "{\"format\":\"edgescore-embedded-store\",\"version\":1,\"clock\":0}\n{\"q\":1}\n",
                "line 2",
            ),
        ] {
            let e =
                EmbeddedStore::read_snapshot(limits, &mut text.as_bytes()).expect_err("refused");
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }
}
