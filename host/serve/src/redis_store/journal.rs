//! A journal of the observations of one batch, for a caller that must undo
//! a batch whose process died before finishing it (`edgescore stream`: a
//! batch of one input partition, between its first observation and its
//! offset commit). The journal list `key` holds one entry per observation,
//! appended by the same script that records it, so no observation escapes
//! the journal; `<key>:batch` holds the batch's first and last offsets.

use edgescore_runtime::feature_store::{FeatureStore, Receipt, StoreError};

use super::RedisStore;

impl RedisStore {
    /// Starts the journal of the batch of offsets `first..=last` at `key`
    /// (emptied first); every observation from now on is journalled there.
    pub fn begin_journal(&self, key: &str, first: i64, last: i64) -> Result<(), StoreError> {
        self.with_connection(self.options.host_timeout, |c| {
            redis::pipe()
                .atomic()
                .del(key)
                .hset_multiple(format!("{key}:batch"), &[("first", first), ("last", last)])
                .query::<()>(c)
        })?;
        *self.journal.lock() = Some(key.to_owned());
        Ok(())
    }

    /// Ends the journal at `key`: its batch is committed.
    pub fn end_journal(&self, key: &str) -> Result<(), StoreError> {
        *self.journal.lock() = None;
        self.with_connection(self.options.host_timeout, |c| {
            redis::pipe()
                .atomic()
                .del(key)
                .del(format!("{key}:batch"))
                .query::<()>(c)
        })
    }

    /// Stops journalling without touching the journal (the batch failed
    /// and its observations were taken back).
    pub fn pause_journal(&self) {
        *self.journal.lock() = None;
    }

    /// Settles the journal a dead process left at `key`: when its batch
    /// was not committed (`committed`, the next offset to read, is not
    /// past the batch's last), the batch is undone ([`RedisStore::rollback_journal`]).
    /// Returns how many observations were taken back.
    pub fn recover_journal(&self, key: &str, committed: i64) -> Result<usize, StoreError> {
        let batch: std::collections::HashMap<String, i64> = self
            .with_connection(self.options.host_timeout, |c| {
                redis::cmd("HGETALL").arg(format!("{key}:batch")).query(c)
            })?;
        let undone = match batch.get("last") {
            Some(&last) if committed <= last => self.rollback_journal(key)?,
            _ => 0,
        };
        self.end_journal(key)?;
        Ok(undone)
    }

    /// Undoes everything the journal at `key` lists, newest first: each
    /// observation forgotten, each event that retention or the cap dropped
    /// put back; then empties it. Returns how many observations were
    /// taken back (some may have been already, by their receipts).
    pub fn rollback_journal(&self, key: &str) -> Result<usize, StoreError> {
        *self.journal.lock() = None;
        let entries: Vec<String> = self.with_connection(self.options.host_timeout, |c| {
            redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(c)
        })?;
        let mut observed = 0;
        let mut forget = Vec::new();
        let mut restore: Vec<(String, String, String)> = Vec::new();
        // Runs of one kind, newest first, each applied in one call.
        let flush = |forget: &mut Vec<Receipt>, restore: &mut Vec<(String, String, String)>| {
            if !forget.is_empty() {
                self.forget(forget)?;
                forget.clear();
            }
            if !restore.is_empty() {
                self.with_connection(self.options.host_timeout, |c| {
                    let mut pipe = redis::pipe();
                    for (events, score, member) in restore.iter() {
                        pipe.cmd("ZADD").arg(events).arg(score).arg(member).ignore();
                    }
                    pipe.query::<()>(c)
                })?;
                restore.clear();
            }
            Ok::<(), StoreError>(())
        };
        for entry in entries.iter().rev() {
            match journal_entry(entry)? {
                JournalEntry::Observed(receipt) => {
                    if !restore.is_empty() {
                        flush(&mut forget, &mut restore)?;
                    }
                    observed += 1;
                    forget.push(receipt);
                }
                JournalEntry::Dropped {
                    events,
                    score,
                    member,
                } => {
                    if !forget.is_empty() {
                        flush(&mut forget, &mut restore)?;
                    }
                    restore.push((events, score, member));
                }
            }
        }
        flush(&mut forget, &mut restore)?;
        self.with_connection(self.options.host_timeout, |c| {
            redis::cmd("DEL").arg(key).query::<()>(c)
        })?;
        Ok(observed)
    }
}

/// One entry of a journal.
enum JournalEntry {
    Observed(Receipt),
    /// An event retention or the cap dropped: its set, score and member.
    Dropped {
        events: String,
        score: String,
        member: String,
    },
}

fn journal_entry(entry: &str) -> Result<JournalEntry, StoreError> {
    let bad = || StoreError::Unavailable(format!("a journal entry in Redis is not one: {entry:?}"));
    let value: serde_json::Value = serde_json::from_str(entry).map_err(|_| bad())?;
    match value[0].as_str() {
        Some("o") => {
            let (_, namespace, entity, timestamp_ms, sequence): (String, String, String, i64, u64) =
                serde_json::from_value(value).map_err(|_| bad())?;
            Ok(JournalEntry::Observed(Receipt {
                namespace,
                entity,
                timestamp_ms,
                sequence,
            }))
        }
        Some("p") => {
            let (_, events, score, member): (String, String, String, String) =
                serde_json::from_value(value).map_err(|_| bad())?;
            Ok(JournalEntry::Dropped {
                events,
                score,
                member,
            })
        }
        _ => Err(bad()),
    }
}
