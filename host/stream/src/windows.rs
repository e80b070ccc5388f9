//! The feature store of a stream, and how its windows survive a crash
//! without counting a transaction twice or missing one.
//!
//! - **Redis** (`--feature-store redis://...`), shared by every process of
//!   the group: each batch of one partition journals its observations in
//!   Redis, by the same script that makes them
//!   ([`RedisStore::begin_journal`]); the journal is cleared once the
//!   batch's offsets are committed. When a partition is assigned, a
//!   journal left behind by a process that died mid-batch is settled: if
//!   that batch was not committed, its observations are forgotten, and the
//!   batch, read again from the committed offset, observes them once.
//! - **Embedded**: the store is written to `<state-dir>/windows.snapshot`
//!   every `snapshot_interval_seconds` (and on a clean stop), with the next
//!   offset of each partition it covers. A restarted process reads it back
//!   and, for each partition assigned, reads the messages between the
//!   snapshot's offset and the committed one again and scores them, to
//!   rebuild the windows (the sinks already hold them: nothing is written),
//!   so the features after a restart equal those of a run that never
//!   stopped.
//!   Without a state folder the windows start empty after a restart (said
//!   loudly at start).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edgescore_runtime::atomic_file::AtomicFile;
use edgescore_runtime::feature_store::{EmbeddedLimits, EmbeddedStore, FeatureStore};
use edgescore_serve::redis_store::{RedisOptions, RedisStore};

use crate::StreamError;
use crate::config::StreamConfig;

const SNAPSHOT_FORMAT: &str = "edgescore-stream-windows";

#[derive(serde::Serialize, serde::Deserialize)]
struct SnapshotHeader {
    format: String,
    version: u32,
    topic: String,
    /// The next offset of each partition whose events the store holds.
    offsets: BTreeMap<i32, i64>,
}

#[derive(Debug)]
pub enum Windows {
    Embedded {
        store: Arc<EmbeddedStore>,
        snapshot: Option<PathBuf>,
        every: Duration,
        last: Instant,
        /// The next offset of each partition the store has observed.
        covered: BTreeMap<i32, i64>,
        topic: String,
    },
    Redis {
        store: Arc<RedisStore>,
        /// `es-stream:<group>:<topic>:`; a partition's journal is this
        /// and its number.
        prefix: String,
    },
}

impl Windows {
    /// The store `config` names, with the embedded store read back from
    /// its snapshot when there is one.
    pub fn open(config: &StreamConfig, call_deadline: Duration) -> Result<Self, StreamError> {
        match config.feature_store.as_str() {
            "embedded" | "" => {
                let snapshot = config
                    .state_dir
                    .as_ref()
                    .map(|d| d.join("windows.snapshot"));
                let (store, covered) = match &snapshot {
                    Some(path) if path.exists() => read_snapshot(path, &config.topic)?,
                    _ => (EmbeddedStore::default(), BTreeMap::new()),
                };
                if snapshot.is_none() {
                    tracing::warn!(
                        "the embedded feature store has no --state-dir: its windows start empty after a restart (give --state-dir to keep them, or use a Redis store)"
                    );
                }
                Ok(Self::Embedded {
                    store: Arc::new(store),
                    snapshot,
                    every: Duration::from_secs(config.snapshot_interval_seconds.max(1)),
                    last: Instant::now(),
                    covered,
                    topic: config.topic.clone(),
                })
            }
            url if url.starts_with("redis://") || url.starts_with("rediss://") => {
                let options = RedisOptions {
                    timeout: call_deadline / 2,
                    ..RedisOptions::default()
                };
                let store = RedisStore::connect_with(url, options)?;
                Ok(Self::Redis {
                    store: Arc::new(store),
                    prefix: format!("es-stream:{}:{}:", config.group, config.topic),
                })
            }
            other => Err(StreamError::Invalid(format!(
                "--feature-store '{other}': give 'embedded' or a redis:// URL"
            ))),
        }
    }

    pub fn store(&self) -> Arc<dyn FeatureStore> {
        match self {
            Self::Embedded { store, .. } => store.clone(),
            Self::Redis { store, .. } => store.clone(),
        }
    }

    pub fn is_embedded(&self) -> bool {
        matches!(self, Self::Embedded { .. })
    }

    /// Settles partition `partition`, just assigned, whose committed
    /// offset (the next to read) is `committed`. Returns where the windows
    /// must be rebuilt from, when they lack the partition's messages
    /// before `committed` (the embedded store, behind its snapshot).
    pub fn recover(&mut self, partition: i32, committed: i64) -> Result<Option<i64>, StreamError> {
        match self {
            Self::Redis { store, prefix } => {
                let undone = store.recover_journal(&format!("{prefix}{partition}"), committed)?;
                if undone > 0 {
                    tracing::info!(
                        "partition {partition}: took back {undone} observations of a batch that was not committed"
                    );
                }
                Ok(None)
            }
            Self::Embedded {
                covered, snapshot, ..
            } => {
                // A partition the store holds nothing of is rebuilt from
                // its first message, unless windows are not kept at all.
                let from = match covered.get(&partition) {
                    Some(&from) => from,
                    None if snapshot.is_some() => 0,
                    None => committed,
                };
                if from < committed {
                    tracing::info!(
                        "partition {partition}: rebuilding windows from offset {from} (committed: {committed})"
                    );
                    Ok(Some(from))
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// Starts a batch of `partition`, offsets `first..=last`.
    pub fn begin(&self, partition: i32, first: i64, last: i64) -> Result<(), StreamError> {
        if let Self::Redis { store, prefix } = self {
            store.begin_journal(&format!("{prefix}{partition}"), first, last)?;
        }
        Ok(())
    }

    /// The batch of `partition` is committed; the next offset is `next`.
    pub fn end(&mut self, partition: i32, next: i64) -> Result<(), StreamError> {
        match self {
            Self::Redis { store, prefix } => {
                store.end_journal(&format!("{prefix}{partition}"))?;
            }
            Self::Embedded { covered, .. } => {
                covered.insert(partition, next);
            }
        }
        Ok(())
    }

    /// A batch of `partition` will not be committed: with Redis, its
    /// journal is rolled back (what its receipts did not take back, and
    /// what retention dropped for it, put back).
    pub fn rollback(&self, partition: i32) -> Result<(), StreamError> {
        if let Self::Redis { store, prefix } = self {
            store.rollback_journal(&format!("{prefix}{partition}"))?;
        }
        Ok(())
    }

    /// Writes the embedded store's snapshot when it is due (or `now`).
    pub fn snapshot(&mut self, now: bool) -> Result<(), StreamError> {
        let Self::Embedded {
            store,
            snapshot: Some(path),
            every,
            last,
            covered,
            topic,
        } = self
        else {
            return Ok(());
        };
        if !now && last.elapsed() < *every {
            return Ok(());
        }
        let started = Instant::now();
        let header = SnapshotHeader {
            format: SNAPSHOT_FORMAT.into(),
            version: 1,
            topic: topic.clone(),
            offsets: covered.clone(),
        };
        let failed = |source: std::io::Error| StreamError::File {
            what: "the windows snapshot",
            path: path.clone(),
            source,
        };
        let mut file = AtomicFile::create(path).map_err(|e| failed(std::io::Error::other(e)))?;
        {
            let mut out = std::io::BufWriter::new(file.writer());
            let line = serde_json::to_string(&header)
                .map_err(std::io::Error::other)
                .map_err(failed)?;
            writeln!(out, "{line}").map_err(failed)?;
            store.write_snapshot(&mut out).map_err(failed)?;
            out.flush().map_err(failed)?;
        }
        file.commit()
            .map_err(|e| failed(std::io::Error::other(e)))?;
        *last = Instant::now();
        tracing::debug!(
            "windows snapshot written ({} entities) in {:?}",
            store.entities(),
            started.elapsed()
        );
        Ok(())
    }
}

fn read_snapshot(
    path: &std::path::Path,
    topic: &str,
) -> Result<(EmbeddedStore, BTreeMap<i32, i64>), StreamError> {
    let bad = |reason: String| StreamError::File {
        what: "the windows snapshot",
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, reason),
    };
    let file = std::fs::File::open(path).map_err(|source| StreamError::File {
        what: "the windows snapshot",
        path: path.to_owned(),
        source,
    })?;
    let mut input = std::io::BufReader::new(file);
    let mut first = String::new();
    std::io::BufRead::read_line(&mut input, &mut first).map_err(|e| bad(e.to_string()))?;
    let header: SnapshotHeader = serde_json::from_str(&first)
        .map_err(|e| bad(format!("not a stream's windows snapshot: {e}")))?;
    if header.format != SNAPSHOT_FORMAT || header.version != 1 {
        return Err(bad(format!(
            "format '{}' version {}, not '{SNAPSHOT_FORMAT}' version 1",
            header.format, header.version
        )));
    }
    if header.topic != topic {
        return Err(bad(format!(
            "it holds the windows of topic '{}', not '{topic}': give this stream its own --state-dir",
            header.topic
        )));
    }
    let store = EmbeddedStore::read_snapshot(EmbeddedLimits::default(), &mut input).map_err(bad)?;
    tracing::info!(
        "windows read back from {} ({} entities; offsets {:?})",
        path.display(),
        store.entities(),
        header.offsets
    );
    Ok((store, header.offsets))
}
