//! The consumer loop: poll a batch, settle rebalances, score each
//! partition's part of it, then make every sink durable and commit the
//! offsets of all of them together.
//!
//! The order is what makes delivery effectively once: (1) per partition,
//! the feature store's journal is opened (Redis) and the pipeline observes
//! and scores; (2) dead letters, the table, the alerts topic and the alert
//! log are written and acknowledged, each skipping what it already holds;
//! (3) the offset after each partition's part is committed; (4) the
//! journals are closed and the observations kept. A crash anywhere leaves
//! the batch uncommitted, and the next owner of a partition settles its
//! journal and reads it again; the sinks write only what they lack. A
//! failure in (2)-(3) is tried again after a pause (100 ms doubling to
//! 30 s) without scoring again: a slow or failing sink slows consumption
//! and drops nothing. A partition revoked meanwhile has its observations
//! taken back.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::message::{Message, Timestamp};
use rdkafka::{Offset, TopicPartitionList};

use crate::StreamError;
use crate::config::StreamConfig;
use crate::kafka::{BROKER_TIMEOUT, GroupConsumer, GroupState};
use crate::message::{self, DeadLetter, Position, Received};
use crate::metrics::{DecisionLabels, PartitionLabels, StreamMetrics};
use crate::pipelines::Pipelines;
use crate::scored::{PartitionScored, ScoredBy};
use crate::scoring::{self, BatchResult};
use crate::sinks::Sinks;
use crate::windows::Windows;
use edgescore_serve::drift::VersionDrift;

/// The longest pause between tries of a failing batch.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// One partition's part of a batch, scored, not yet committed.
struct Pending {
    partition: i32,
    first: i64,
    last: i64,
    by: ScoredBy,
    result: BatchResult,
    /// The scoring version's drift, watched once the batch commits.
    drift: Option<VersionDrift>,
}

pub struct StreamLoop {
    pub config: StreamConfig,
    pub consumer: GroupConsumer,
    pub group: Arc<Mutex<GroupState>>,
    pub windows: Windows,
    pub pipelines: Arc<Pipelines>,
    pub sinks: Sinks,
    pub metrics: Arc<StreamMetrics>,
    pub runtime: tokio::runtime::Runtime,
    pub stop: Arc<AtomicBool>,
    /// Per assigned partition, the next offset to score.
    next: HashMap<i32, i64>,
    /// Broker timestamps of messages, for the end-to-end latency.
    timestamps: HashMap<Position, i64>,
}

impl StreamLoop {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: StreamConfig,
        consumer: GroupConsumer,
        group: Arc<Mutex<GroupState>>,
        windows: Windows,
        pipelines: Arc<Pipelines>,
        sinks: Sinks,
        metrics: Arc<StreamMetrics>,
        runtime: tokio::runtime::Runtime,
        stop: Arc<AtomicBool>,
    ) -> Self {
        Self {
            config,
            consumer,
            group,
            windows,
            pipelines,
            sinks,
            metrics,
            runtime,
            stop,
            next: HashMap::new(),
            timestamps: HashMap::new(),
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Runs until asked to stop; then writes the windows' snapshot.
    pub fn run(mut self) -> Result<(), StreamError> {
        while !self.stopping() {
            let batch = self.poll_batch()?;
            let mut by_partition: BTreeMap<i32, Vec<Received>> = BTreeMap::new();
            for m in batch {
                by_partition
                    .entry(m.position.partition)
                    .or_default()
                    .push(m);
            }
            let mut scored = Vec::new();
            for (partition, messages) in by_partition {
                scored.extend(self.score_partition(partition, &messages));
            }
            self.finish(scored);
            self.update_lag();
            if let Err(e) = self.windows.snapshot(false) {
                tracing::warn!("{e}");
            }
        }
        tracing::info!("stopping: writing the windows snapshot and leaving the group");
        self.windows.snapshot(true)?;
        self.consumer.unsubscribe();
        Ok(())
    }

    /// Polls up to `max_batch` messages: the first waits up to 100 ms, the
    /// rest up to `max_batch_wait_ms` after it. Rebalances are settled as
    /// they happen; only messages of partitions this process holds, at the
    /// offsets it expects, are kept.
    fn poll_batch(&mut self) -> Result<Vec<Received>, StreamError> {
        let mut batch = Vec::new();
        let mut deadline: Option<Instant> = None;
        while batch.len() < self.config.max_batch && !self.stopping() {
            let timeout = match deadline {
                None => Duration::from_millis(100),
                Some(d) => d.saturating_duration_since(Instant::now()),
            };
            let polled = self.consumer.poll(timeout).map(|result| {
                result.map(|m| {
                    let received = Received {
                        position: Position {
                            partition: m.partition(),
                            offset: m.offset(),
                        },
                        key: m.key().map(<[u8]>::to_vec),
                        payload: m.payload().map(<[u8]>::to_vec),
                    };
                    let sent = match m.timestamp() {
                        Timestamp::CreateTime(ms) | Timestamp::LogAppendTime(ms) => Some(ms),
                        Timestamp::NotAvailable => None,
                    };
                    (received, sent)
                })
            });
            self.settle_rebalance(&mut batch)?;
            match polled {
                Some(Ok((received, sent))) => {
                    if self.accept(received.position) {
                        if let Some(ms) = sent {
                            self.timestamps.insert(received.position, ms);
                        }
                        batch.push(received);
                    }
                    deadline.get_or_insert_with(|| Instant::now() + self.config.batch_wait());
                }
                Some(Err(e)) => tracing::warn!("consumer: {e}"),
                None if deadline.is_none() => break,
                None => {}
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
        }
        Ok(batch)
    }

    /// Whether a message at `position` is the next one expected of a
    /// partition this process holds (a message fetched before a seek or a
    /// rebalance is not).
    fn accept(&mut self, position: Position) -> bool {
        match self.next.get_mut(&position.partition) {
            Some(next) if position.offset >= *next => {
                *next = position.offset + 1;
                true
            }
            _ => false,
        }
    }

    /// Drops messages of revoked partitions and recovers those assigned.
    fn settle_rebalance(&mut self, batch: &mut Vec<Received>) -> Result<(), StreamError> {
        let (revoked, fresh) = {
            let mut group = self.group.lock();
            (
                std::mem::take(&mut group.revoked),
                std::mem::take(&mut group.fresh),
            )
        };
        self.timestamps
            .retain(|position, _| !revoked.contains(&position.partition));
        for p in &revoked {
            self.next.remove(p);
            self.metrics.lag.remove(&PartitionLabels { partition: *p });
        }
        batch.retain(|m| !revoked.contains(&m.position.partition));
        for p in fresh {
            let start = self.recover_until_done(p)?;
            batch.retain(|m| m.position.partition != p || m.position.offset >= start);
            self.next.insert(p, start);
        }
        Ok(())
    }

    /// [`StreamLoop::recover`], tried again after a pause while the broker,
    /// Redis or the table cannot be read.
    fn recover_until_done(&mut self, partition: i32) -> Result<i64, StreamError> {
        let mut pause = Duration::from_millis(100);
        loop {
            match self.recover(partition) {
                Ok(start) => return Ok(start),
                Err(e) if !self.stopping() => {
                    tracing::warn!(
                        "partition {partition}: cannot recover yet: {e}; trying again in {pause:?}"
                    );
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(MAX_BACKOFF);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Settles a partition just assigned: the feature store's journal, or
    /// the embedded store's windows rebuilt by scoring again what the
    /// snapshot lacks (read by a reader of its own, so the consumer's
    /// position never moves back); each sink's watermark. Returns the
    /// offset to score from: the committed one.
    fn recover(&mut self, partition: i32) -> Result<i64, StreamError> {
        let committed = self.committed(partition)?;
        self.sinks.recover(&self.config, partition, &self.runtime)?;
        if let Some(from) = self.windows.recover(partition, committed)? {
            let replayed = crate::replay::replay(self, partition, from, committed)?;
            self.metrics.replayed.inc_by(replayed as u64);
            self.windows.end(partition, committed)?;
        }
        tracing::info!("partition {partition}: scoring from offset {committed}");
        Ok(committed)
    }

    /// The group's committed offset of `partition` (the next to read), or
    /// the partition's first offset when nothing is committed.
    fn committed(&self, partition: i32) -> Result<i64, StreamError> {
        let topic = &self.config.topic;
        let mut list = TopicPartitionList::new();
        list.add_partition(topic, partition);
        let what = || format!("reading the committed offset of partition {partition}");
        let committed = self
            .consumer
            .committed_offsets(list, BROKER_TIMEOUT)
            .map_err(StreamError::kafka(what()))?;
        let offset = committed
            .find_partition(topic, partition)
            .map(|e| e.offset());
        match offset {
            Some(Offset::Offset(o)) if o >= 0 => Ok(o),
            _ => {
                let (low, _) = self
                    .consumer
                    .fetch_watermarks(topic, partition, BROKER_TIMEOUT)
                    .map_err(StreamError::kafka(what()))?;
                Ok(low)
            }
        }
    }

    /// Scores one partition's part of a batch, tried again after a pause
    /// until it succeeds; `None` when the partition is revoked or the
    /// stream stops first (nothing observed stays).
    fn score_partition(&mut self, partition: i32, messages: &[Received]) -> Option<Pending> {
        let first = messages.first()?.position.offset;
        let last = messages.last()?.position.offset;
        let mut pause = Duration::from_millis(100);
        loop {
            if !self.group.lock().assigned.contains(&partition) {
                return None;
            }
            match self.score_batch(partition, messages, first, last) {
                Ok((by, result, drift)) => {
                    return Some(Pending {
                        partition,
                        first,
                        last,
                        by,
                        result,
                        drift,
                    });
                }
                Err(reason) => {
                    let what = format!("partition {partition}: offsets {first} to {last}");
                    if !self.pause_after(&what, &reason, &mut pause) {
                        return None;
                    }
                }
            }
        }
    }

    /// Makes a scored batch durable in every sink and commits the offsets
    /// after it, all partitions together (one wait for the brokers, one
    /// commit), tried again after a pause until it succeeds. A batch scored
    /// once is not scored again for a sink that failed: its observations
    /// stand until it commits; a partition revoked meanwhile, or a stop,
    /// undoes them (the next owner reads the batch again).
    fn finish(&mut self, mut pending: Vec<Pending>) {
        let mut dead: Vec<DeadLetter> = pending
            .iter()
            .flat_map(|p| p.result.dead.iter().cloned())
            .collect();
        let mut pause = Duration::from_millis(100);
        loop {
            let assigned = self.group.lock().assigned.clone();
            let (kept, gone): (Vec<Pending>, Vec<Pending>) = pending
                .into_iter()
                .partition(|p| assigned.contains(&p.partition));
            for p in gone {
                self.undo(p.partition, p.result);
            }
            pending = kept;
            dead.retain(|d| assigned.contains(&d.message.position.partition));
            if pending.is_empty() {
                return;
            }
            match self.write_and_commit(&pending, &mut dead) {
                Ok(()) => break,
                Err(reason) => {
                    let what = pending
                        .iter()
                        .map(|p| {
                            format!(
                                "partition {}: offsets {} to {}",
                                p.partition, p.first, p.last
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    if !self.pause_after(&what, &reason, &mut pause) {
                        for p in pending {
                            self.undo(p.partition, p.result);
                        }
                        return;
                    }
                }
            }
        }
        for mut p in pending {
            for observed in std::mem::take(&mut p.result.observed) {
                observed.commit();
            }
            if let Err(e) = self.windows.end(p.partition, p.last + 1) {
                // Committed: a journal left open is settled as committed later.
                tracing::warn!("partition {}: {e}", p.partition);
            }
            self.account(&p);
            for alert in p.result.scored.iter().filter(|s| s.is_alert()) {
                self.metrics.feed.publish_value(&alert.alert(&p.by));
            }
            self.watch_drift(&p);
        }
    }

    /// A committed batch into its version's drift window; on a check, the
    /// gauges set and each crossing written to the alert log (which the
    /// webhook reads).
    fn watch_drift(&mut self, p: &Pending) {
        let Some(drift) = &p.drift else {
            return;
        };
        let scored = &p.result.scored;
        let rows: Vec<f64> = scored
            .iter()
            .flat_map(|s| s.features.iter().copied())
            .collect();
        let scores: Vec<f64> = scored.iter().map(|s| s.outcome.score).collect();
        let decisions: Vec<&str> = scored.iter().map(|s| s.outcome.decision.name()).collect();
        let now = edgescore_runtime::feature_store::now_ms();
        let Some(check) = drift.monitor.observe(now, &rows, &scores, &decisions) else {
            return;
        };
        self.metrics
            .serve
            .drift()
            .record(&p.by.pipeline, &p.by.version, &check);
        for alert in &check.alerts {
            tracing::warn!(
                "drift: pipeline '{}' feature '{}' is {} (PSI {:.4}, was {})",
                alert.pipeline,
                alert.feature,
                alert.state.name(),
                alert.psi,
                alert.previous.name()
            );
            let json = edgescore_serve::drift::alert_json(alert);
            if let Some(log) = &mut self.sinks.alert_log
                && let Err(e) = log.append_line(&json)
            {
                tracing::warn!("the drift alert could not be written to the alert log: {e}");
            }
            self.metrics.feed.publish_value(&json);
        }
    }

    /// Logs why a batch did not go through and waits `pause` (doubled for
    /// next time); false when the stream is stopping.
    fn pause_after(&self, what: &str, reason: &str, pause: &mut Duration) -> bool {
        self.metrics.batch_retries.inc();
        tracing::warn!("{what} not committed: {reason}; trying again in {pause:?}");
        let until = Instant::now() + *pause;
        while Instant::now() < until {
            if self.stopping() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        *pause = (*pause * 2).min(MAX_BACKOFF);
        true
    }

    /// Takes back what a batch observed: by its receipts, and with Redis
    /// by its journal (which also puts back what retention dropped for it).
    fn undo(&self, partition: i32, result: BatchResult) {
        let undone = result.undo();
        let rolled_back = self.windows.rollback(partition);
        for e in [
            undone.err().map(|e| e.to_string()),
            rolled_back.err().map(|e| e.to_string()),
        ]
        .into_iter()
        .flatten()
        {
            tracing::warn!("partition {partition}: taking back a batch's observations: {e}");
        }
    }

    /// Reads and scores a batch through the pipeline serving now.
    fn score_batch(
        &mut self,
        partition: i32,
        messages: &[Received],
        first: i64,
        last: i64,
    ) -> Result<(ScoredBy, BatchResult, Option<VersionDrift>), String> {
        let serving = self.pipelines.current().map_err(|e| e.to_string())?;
        let pipeline = serving.pipeline();
        let by = ScoredBy {
            topic: self.config.topic.clone(),
            pipeline: serving.name().to_owned(),
            version: serving.version(),
            features: pipeline.features().iter().map(|f| f.name.clone()).collect(),
        };
        let mut result = BatchResult::default();
        let mut readable = Vec::with_capacity(messages.len());
        for m in messages {
            match message::read(m.clone(), &self.config.topic, &self.config.id_field) {
                Ok(t) => readable.push((m.clone(), t)),
                Err(dead) => result.dead.push(dead),
            }
        }
        let items = scoring::read_events(pipeline, readable, &mut result.dead);
        self.windows
            .begin(partition, first, last)
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        if let Err(e) = scoring::score(pipeline, items, &mut result) {
            self.undo(partition, result);
            return Err(e.to_string());
        }
        self.metrics
            .scoring
            .observe(started.elapsed().as_secs_f64());
        Ok((by, result, serving.drift().cloned()))
    }

    /// Writes the scored batch to every sink (each skipping what it
    /// holds) and, once all are durable, commits the offset after each
    /// partition's last.
    fn write_and_commit(
        &mut self,
        pending: &[Pending],
        dead: &mut Vec<DeadLetter>,
    ) -> Result<(), String> {
        let views: Vec<PartitionScored<'_>> = pending
            .iter()
            .map(|p| PartitionScored {
                partition: p.partition,
                by: &p.by,
                scored: &p.result.scored,
            })
            .collect();
        self.sinks
            .write(&views, dead, &self.metrics, &self.runtime)?;
        let mut list = TopicPartitionList::new();
        for p in pending {
            list.add_partition_offset(&self.config.topic, p.partition, Offset::Offset(p.last + 1))
                .map_err(|e| format!("cannot name the offset to commit: {e}"))?;
        }
        self.consumer.commit(&list, CommitMode::Sync).map_err(|e| {
            self.metrics.commit_failures.inc();
            format!("committing: {e}")
        })
    }

    /// Metrics of a committed batch.
    fn account(&mut self, p: &Pending) {
        let (partition, result, first, last) = (p.partition, &p.result, p.first, p.last);
        let m = &self.metrics;
        m.batches.inc();
        m.events("scored", result.scored.len());
        m.events("dead_letter", result.dead.len());
        for s in &result.scored {
            m.decisions
                .get_or_create(&DecisionLabels {
                    decision: s.outcome.decision.name(),
                })
                .inc();
        }
        let now = edgescore_runtime::feature_store::now_ms();
        for offset in first..=last {
            if let Some(sent) = self.timestamps.remove(&Position { partition, offset }) {
                let took_ms = (now - sent).max(0);
                m.end_to_end.observe(took_ms as f64 / 1000.0);
                m.recent.record(
                    &p.by.pipeline,
                    Duration::from_millis(u64::try_from(took_ms).unwrap_or(0)),
                );
            }
        }
        m.last_batch_unix_ms
            .store(u64::try_from(now).unwrap_or(0), Ordering::Relaxed);
    }

    fn update_lag(&self) {
        let group = self.group.lock();
        for (partition, lag) in &group.lag {
            self.metrics
                .lag
                .get_or_create(&PartitionLabels {
                    partition: *partition,
                })
                .set(*lag);
        }
    }
}

impl std::fmt::Debug for StreamLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamLoop")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}
