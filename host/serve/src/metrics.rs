//! Prometheus metrics of the server, kept in a `prometheus-client`
//! [`Registry`] and written by `GET /metrics` in the Prometheus text format
//! (version 0.0.4, the content type the handler declares).
//!
//! # A request allocates nothing for a series it has seen
//!
//! A `prometheus-client` [`Family`](prometheus_client::metrics::family::Family)
//! finds a series by its label set, and building a label set that holds a
//! model's name means a `String` per call. So:
//!
//! - Label sets made only of `&'static str` (an error's kind) are looked up
//!   in their family directly: the key is built on the stack.
//! - Everything labelled by a model is reached through one `ModelSeries`
//!   per model, kept in a map read under a shared lock and found by `&str`.
//!   It holds handles (clones sharing the family's atomics) to the model's
//!   series, made in their family the first time each is observed, and per
//!   version and endpoint the same again. Pipelines' decisions likewise.
//!   After a model's first request, scoring it costs read locks, `Arc`
//!   counts and atomic adds; only the first request of a new model,
//!   version, endpoint or decision copies names into a label set.
//!
//! Series are made when first observed, not registered at zero in advance:
//! the set of error kinds belongs to `ApiError`, and a series that exists
//! only once something happened is what the tests (and dashboards) read
//! (`kind="model_failure"` absent means no model failed).
//!
//! # No lock poisoning
//!
//! Every lock here and in `prometheus-client` is a `parking_lot` lock, and
//! the handles live in [`OnceLock`](std::sync::OnceLock)s: a panic elsewhere
//! poisons nothing, so `/metrics` keeps answering.
//!
//! # The exposition
//!
//! Names, types, labels and bucket bounds are those of the hand-written
//! exposition this replaced. The encoder differs from it in form only:
//! a family with no series yet is left out (HELP and TYPE included), series
//! of a family come in no fixed order, floats are written the way Go's
//! client writes them (`le="5e-05"`, a sum of `1.0`) and label values are
//! escaped.

mod series;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use series::{ErrorLabels, Families, ModelSeries, PipelineSeries, get_or_insert, raise_to};

/// Every metric the server exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    families: Families,
    models: RwLock<HashMap<String, Arc<ModelSeries>>>,
    pipelines: RwLock<HashMap<String, Arc<PipelineSeries>>>,
    drift: edgescore_drift::DriftMetrics,
    /// Versions refused for their signature, by model and reason.
    signature_refusals: Family<Vec<(String, String)>, Counter>,
    /// Whether versions must be signed: 0 not said yet (no series), 1
    /// not checked, 2 checked.
    signatures_checked: std::sync::atomic::AtomicU8,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let families = Families::register(&mut registry);
        let drift = edgescore_drift::DriftMetrics::register(&mut registry);
        let signature_refusals = Family::default();
        registry.register(
            "edgescore_signature_refusals",
            "Versions refused for their signature (unsigned, untrusted_key, revoked_key, expired_key, bad_signature, digest_mismatch, malformed), by model",
            signature_refusals.clone(),
        );
        Self {
            registry,
            families,
            models: RwLock::default(),
            pipelines: RwLock::default(),
            drift,
            signature_refusals,
            signatures_checked: std::sync::atomic::AtomicU8::new(0),
        }
    }
}

impl Metrics {
    /// The drift series (`edgescore_drift`), set at each check.
    pub fn drift(&self) -> &edgescore_drift::DriftMetrics {
        &self.drift
    }

    fn model(&self, model: &str) -> Arc<ModelSeries> {
        get_or_insert(&self.models, model, || Arc::new(ModelSeries::new(model)))
    }

    /// A request scored by `version` of `model` in `elapsed`, with its
    /// scores and its pool's idle instances (`None`: the native backend).
    pub fn scored(
        &self,
        model: &str,
        version: u64,
        endpoint: &'static str,
        elapsed: Duration,
        scores: &[f64],
        idle_instances: Option<usize>,
    ) {
        let f = &self.families;
        let series = self.model(model);
        let version = series.version(f, version);
        version.requests(f, endpoint).inc();
        version.latency.observe(elapsed.as_secs_f64());
        let histogram = series.scores(f);
        for &score in scores {
            histogram.observe(score);
        }
        if let Some(idle) = idle_instances {
            version
                .pool_idle
                .set(i64::try_from(idle).unwrap_or(i64::MAX));
        }
    }

    /// `version` of `model` is gone from the registry: its series (latency,
    /// idle instances, requests, a pipeline's drift) leave `/metrics`. The
    /// model's own series (scores, swaps, rejections) stay.
    pub fn forget_version(&self, model: &str, version: u64) {
        let series = self.models.read().get(model).cloned();
        if let Some(series) = series {
            series.forget_version(&self.families, version);
        }
        self.drift.forget_version(model, &version.to_string());
    }

    /// The dynamic batcher of `model` scored one batch of `size`.
    pub fn batch(&self, model: &str, size: crate::batching::BatchSize) {
        let series = self.model(model);
        let batches = series.batches(&self.families);
        batches.rows.observe(size.rows as f64);
        batches.requests.observe(size.requests as f64);
        batches.oldest.observe(size.oldest_in_batcher.as_secs_f64());
    }

    /// A request that failed, by kind (`bad_request`, `not_found`, ...).
    pub fn error(&self, kind: &'static str) {
        self.families
            .errors
            .get_or_create(&ErrorLabels { kind })
            .inc();
    }

    /// The serving version of `model` changed.
    pub fn swap(&self, model: &str) {
        self.model(model).swaps(&self.families).inc();
    }

    /// The canary of `model` was rolled back for failing too often.
    pub fn canary_rollback(&self, model: &str) {
        self.model(model).canary_rollbacks(&self.families).inc();
    }

    /// A shadow version scored the same rows as the primary: `disagreed`
    /// rows differed by more than the tolerance, at most `max_diff`.
    pub fn shadow_compared(&self, model: &str, rows: usize, disagreed: usize, max_diff: f64) {
        let series = self.model(model);
        let shadow = series.shadow(&self.families);
        shadow.rows.inc_by(rows as u64);
        shadow.disagreements.inc_by(disagreed as u64);
        raise_to(series.shadow_max_diff(&self.families), max_diff);
    }

    /// A shadow call failed (`skipped`: not attempted, too many in flight).
    pub fn shadow_failed(&self, model: &str, skipped: bool) {
        let series = self.model(model);
        let shadow = series.shadow(&self.families);
        if skipped {
            shadow.skipped.inc();
        } else {
            shadow.failures.inc();
        }
    }

    /// A pipeline decided `decision` for one transaction.
    pub fn decision(&self, pipeline: &str, decision: &'static str) {
        get_or_insert(&self.pipelines, pipeline, || {
            Arc::new(PipelineSeries::new(pipeline))
        })
        .decision(&self.families, decision)
        .inc();
    }

    /// The decisions `pipeline` made since the server started, by decision
    /// (a decision it never made is absent).
    pub fn decisions(&self, pipeline: &str) -> std::collections::BTreeMap<&'static str, u64> {
        let series = self.pipelines.read().get(pipeline).cloned();
        series
            .map(|s| s.counts().into_iter().collect())
            .unwrap_or_default()
    }

    /// A version of `model` failed validation.
    pub fn rejected_load(&self, model: &str) {
        self.model(model).rejected_loads(&self.families).inc();
    }

    /// A version of `model` was refused for its signature (`reason`: a
    /// [`edgescore_trust::RefusalKind`]'s name).
    pub fn signature_refused(&self, model: &str, reason: &str) {
        self.signature_refusals
            .get_or_create(&vec![
                ("model".to_owned(), model.to_owned()),
                ("reason".to_owned(), reason.to_owned()),
            ])
            .inc();
    }

    /// Whether versions must be signed (trust roots given).
    pub fn set_signatures_checked(&self, checked: bool) {
        self.signatures_checked
            .store(1 + u8::from(checked), std::sync::atomic::Ordering::Relaxed);
    }

    /// The audit log's write failures (written even at zero when the server
    /// keeps an audit log).
    pub fn render_audit(failures: u64) -> String {
        let mut registry = Registry::default();
        registry.register(
            "edgescore_audit_write_failures",
            "Audit entries that could not be appended to the audit log (see the server log)",
            ConstCounter::new(failures),
        );
        encode(&registry)
    }

    /// The in-process feature store's size (the embedded store; a remote
    /// one reports none).
    pub fn render_store(usage: edgescore_runtime::feature_store::StoreUsage) -> String {
        let mut registry = Registry::default();
        let gauge = |n: usize| ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX));
        registry.register(
            "edgescore_feature_store_entities",
            "Entities the embedded feature store holds",
            gauge(usage.entities),
        );
        registry.register(
            "edgescore_feature_store_bytes",
            "Bytes of the embedded feature store's windows, as its byte budget counts them",
            gauge(usage.bytes),
        );
        encode(&registry)
    }

    /// The Prometheus text exposition (0.0.4) of every metric.
    pub fn render(&self) -> String {
        let mut text = encode(&self.registry);
        let checked = self
            .signatures_checked
            .load(std::sync::atomic::Ordering::Relaxed);
        if checked > 0 {
            let mut registry = Registry::default();
            registry.register(
                "edgescore_signatures_checked",
                "1 when versions must be signed by a trusted key before they load, 0 when signatures are not checked",
                ConstGauge::new(i64::from(checked - 1)),
            );
            text.push_str(&encode(&registry));
        }
        text
    }

    /// The alert counters in the Prometheus text format (0.0.4), each
    /// written even at zero.
    pub fn render_alerts(counters: &super::alerts::AlertCounters) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        let mut registry = Registry::default();
        for (name, help, value) in [
            (
                "edgescore_alerts_logged",
                "Alerts appended to the alert log",
                &counters.logged,
            ),
            (
                "edgescore_alert_log_failures",
                "Alerts the log could not take (written to the server log instead)",
                &counters.log_failures,
            ),
            (
                "edgescore_alerts_dropped",
                "Alerts a full queue could not take",
                &counters.queue_full,
            ),
            (
                "edgescore_alert_webhook_delivered",
                "Alerts the webhook accepted",
                &counters.webhook_delivered,
            ),
            (
                "edgescore_alert_webhook_retries",
                "Webhook attempts that failed and were retried",
                &counters.webhook_retries,
            ),
            (
                "edgescore_alert_webhook_failed",
                "Alerts the webhook never took (they are in the alert log)",
                &counters.webhook_failed,
            ),
        ] {
            registry.register(name, help, ConstCounter::new(value.load(Relaxed)));
        }
        encode(&registry)
    }
}

/// `registry` in the Prometheus text format. Writing to a `String` does not
/// fail and none of our label sets or metrics fails to encode; were one to,
/// the error is logged and what was written before it is answered, rather
/// than `/metrics` failing whole.
fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    if let Err(e) = prometheus_text::encode(&mut out, registry) {
        eprintln!("edgescore serve: encoding /metrics failed: {e}");
    }
    out
}

#[cfg(test)]
mod tests;
