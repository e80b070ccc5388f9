//! `/metrics` of a stream (Prometheus text 0.0.4): consumer lag per
//! partition, events by outcome, decisions, the scoring and end-to-end
//! latency, each sink's latency and failures, dead letters, replays,
//! commits, the webhook; and the registry's own (swaps, rejected loads).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, prometheus_text};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::webhook::WebhookCounters;

/// Upper bounds (seconds) of the latency buckets.
const LATENCY_BUCKETS: [f64; 14] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct PartitionLabels {
    pub partition: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct DecisionLabels {
    pub decision: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct SinkLabels {
    pub sink: &'static str,
}

fn latency() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Every metric of the stream.
#[derive(Debug)]
pub struct StreamMetrics {
    registry: Registry,
    pub lag: Family<PartitionLabels, Gauge>,
    pub events: Family<OutcomeLabels, Counter>,
    pub decisions: Family<DecisionLabels, Counter>,
    pub scoring: Histogram,
    pub end_to_end: Histogram,
    pub sink_seconds: Family<SinkLabels, Histogram, fn() -> Histogram>,
    pub sink_failures: Family<SinkLabels, Counter>,
    pub batches: Counter,
    pub batch_retries: Counter,
    pub replayed: Counter,
    pub commit_failures: Counter,
    /// The registry's series (swaps, rejected loads), rendered beside.
    pub serve: Arc<edgescore_serve::metrics::Metrics>,
    pub webhook: Arc<WebhookCounters>,
    pub started: std::time::Instant,
    pub last_batch_unix_ms: AtomicU64,
    /// The dashboard's live feed (`/v1/events`): committed batches' alerts.
    pub feed: edgescore_serve::live_feed::LiveFeed,
    /// The dashboard's latency: broker timestamp to commit, per message,
    /// the last ones per pipeline.
    pub recent: edgescore_serve::latency_ring::LatencyRings,
}

impl StreamMetrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let lag = Family::default();
        registry.register(
            "edgescore_stream_consumer_lag",
            "Messages behind the end of each assigned partition (librdkafka's statistics, every second)",
            lag.clone(),
        );
        let events = Family::default();
        registry.register(
            "edgescore_stream_events",
            "Messages handled, by outcome (scored, dead_letter, replayed: scored again after a restart, sinks skipped)",
            events.clone(),
        );
        let decisions = Family::default();
        registry.register(
            "edgescore_stream_decisions",
            "Transactions scored, by decision",
            decisions.clone(),
        );
        let scoring = latency();
        registry.register(
            "edgescore_stream_scoring_seconds",
            "Time to transform, score and explain one batch of one partition",
            scoring.clone(),
        );
        let end_to_end = latency();
        registry.register(
            "edgescore_stream_event_seconds",
            "From a message's broker timestamp to its offset committed, per message",
            end_to_end.clone(),
        );
        let sink_seconds = Family::new_with_constructor(latency as fn() -> Histogram);
        registry.register(
            "edgescore_stream_sink_seconds",
            "Time for one batch's writes to each sink to be durable",
            sink_seconds.clone(),
        );
        let sink_failures = Family::default();
        registry.register(
            "edgescore_stream_sink_failures",
            "Sink writes that failed (the batch was retried)",
            sink_failures.clone(),
        );
        let batches = Counter::default();
        registry.register(
            "edgescore_stream_batches",
            "Batches committed",
            batches.clone(),
        );
        let batch_retries = Counter::default();
        registry.register(
            "edgescore_stream_batch_retries",
            "Batches that failed and were tried again (nothing committed in between)",
            batch_retries.clone(),
        );
        let replayed = Counter::default();
        registry.register(
            "edgescore_stream_replayed",
            "Messages scored again to rebuild the embedded store's windows after a restart",
            replayed.clone(),
        );
        let commit_failures = Counter::default();
        registry.register(
            "edgescore_stream_commit_failures",
            "Offset commits that failed (the partition's next owner replays the batch)",
            commit_failures.clone(),
        );
        Self {
            registry,
            lag,
            events,
            decisions,
            scoring,
            end_to_end,
            sink_seconds,
            sink_failures,
            batches,
            batch_retries,
            replayed,
            commit_failures,
            serve: Arc::new(edgescore_serve::metrics::Metrics::default()),
            webhook: Arc::new(WebhookCounters::default()),
            started: std::time::Instant::now(),
            last_batch_unix_ms: AtomicU64::new(0),
            feed: edgescore_serve::live_feed::LiveFeed::default(),
            recent: edgescore_serve::latency_ring::LatencyRings::default(),
        }
    }

    pub fn sink(&self, sink: &'static str, took: Duration) {
        self.sink_seconds
            .get_or_create(&SinkLabels { sink })
            .observe(took.as_secs_f64());
    }

    pub fn sink_failed(&self, sink: &'static str) {
        self.sink_failures.get_or_create(&SinkLabels { sink }).inc();
    }

    pub fn events(&self, outcome: &'static str, n: usize) {
        self.events
            .get_or_create(&OutcomeLabels { outcome })
            .inc_by(n as u64);
    }

    /// The text of `/metrics`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut extra = Registry::default();
        extra.register(
            "edgescore_stream_webhook_delivered",
            "Alerts the webhook accepted",
            ConstCounter::new(self.webhook.delivered.load(Ordering::Relaxed)),
        );
        extra.register(
            "edgescore_stream_webhook_retries",
            "Webhook posts that failed and were retried (the alert waits in the log)",
            ConstCounter::new(self.webhook.retries.load(Ordering::Relaxed)),
        );
        for registry in [&self.registry, &extra] {
            if let Err(e) = prometheus_text::encode(&mut out, registry) {
                tracing::warn!("encoding /metrics failed: {e}");
            }
        }
        out.push_str(&self.serve.render());
        out
    }
}

impl Default for StreamMetrics {
    fn default() -> Self {
        Self::new()
    }
}
