//! The metric families of the server, their label sets, and the handles
//! to one model's (or one pipeline's) series, kept so that a request finds
//! them by `&str` without building a label set.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds (seconds) of the latency histogram buckets.
pub(super) const LATENCY_BUCKETS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0,
];
/// Upper bounds of the score histogram buckets (scores are mostly probabilities).
pub(super) const SCORE_BUCKETS: [f64; 10] = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// Upper bounds of the batch size histograms (rows; requests), powers of two.
pub(super) const BATCH_ROWS_BUCKETS: [f64; 13] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0, 65536.0,
];
pub(super) const BATCH_REQUESTS_BUCKETS: [f64; 10] =
    [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0];

/// A gauge holding an `f64`.
pub(super) type FloatGauge = Gauge<f64, AtomicU64>;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct ModelLabels {
    model: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct VersionLabels {
    model: String,
    version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct RequestLabels {
    model: String,
    version: u64,
    endpoint: &'static str,
}

/// Only `'static` strings: finding the series allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct ErrorLabels {
    pub(super) kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct DecisionLabels {
    pipeline: String,
    decision: &'static str,
}

/// Every family the server exports. Each is also registered (a clone
/// sharing the same series) in the registry that renders them.
#[derive(Debug)]
pub(super) struct Families {
    requests: Family<RequestLabels, Counter>,
    pub(super) errors: Family<ErrorLabels, Counter>,
    latency: Family<VersionLabels, Histogram>,
    scores: Family<ModelLabels, Histogram>,
    swaps: Family<ModelLabels, Counter>,
    canary_rollbacks: Family<ModelLabels, Counter>,
    shadow_rows: Family<ModelLabels, Counter>,
    shadow_disagreements: Family<ModelLabels, Counter>,
    shadow_failures: Family<ModelLabels, Counter>,
    shadow_skipped: Family<ModelLabels, Counter>,
    shadow_max_diff: Family<ModelLabels, FloatGauge>,
    rejected_loads: Family<ModelLabels, Counter>,
    pool_idle: Family<VersionLabels, Gauge>,
    decisions: Family<DecisionLabels, Counter>,
    batch_rows: Family<ModelLabels, Histogram>,
    batch_requests: Family<ModelLabels, Histogram>,
    batch_oldest: Family<ModelLabels, Histogram>,
}

impl Families {
    /// Makes every family and registers it in `registry`, in the order of
    /// the exposition. Names are given without the `_total` that the
    /// encoder adds to a counter, and help without its final period, which
    /// the registry adds.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let families = Self {
            requests: Family::default(),
            errors: Family::default(),
            latency: Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS)),
            scores: Family::new_with_constructor(|| Histogram::new(SCORE_BUCKETS)),
            swaps: Family::default(),
            canary_rollbacks: Family::default(),
            shadow_rows: Family::default(),
            shadow_disagreements: Family::default(),
            shadow_failures: Family::default(),
            shadow_skipped: Family::default(),
            shadow_max_diff: Family::default(),
            rejected_loads: Family::default(),
            pool_idle: Family::default(),
            decisions: Family::default(),
            batch_rows: Family::new_with_constructor(|| Histogram::new(BATCH_ROWS_BUCKETS)),
            batch_requests: Family::new_with_constructor(|| Histogram::new(BATCH_REQUESTS_BUCKETS)),
            batch_oldest: Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS)),
        };
        let f = &families;
        registry.register(
            "edgescore_requests",
            "Scoring requests answered, by model, version and endpoint",
            f.requests.clone(),
        );
        registry.register(
            "edgescore_errors",
            "Requests answered with an error, by kind",
            f.errors.clone(),
        );
        registry.register(
            "edgescore_request_duration_seconds",
            "Time to score a request, by model and version",
            f.latency.clone(),
        );
        registry.register(
            "edgescore_score",
            "Scores returned, by model",
            f.scores.clone(),
        );
        registry.register(
            "edgescore_swaps",
            "Changes of the serving version, by model",
            f.swaps.clone(),
        );
        registry.register(
            "edgescore_canary_rollbacks",
            "Canaries rolled back automatically for failing too often, by model",
            f.canary_rollbacks.clone(),
        );
        registry.register(
            "edgescore_shadow_rows",
            "Rows scored by a shadow version and compared with the primary, by model",
            f.shadow_rows.clone(),
        );
        registry.register(
            "edgescore_shadow_disagreements",
            "Shadow rows whose score differed from the primary's by more than 1e-6, by model",
            f.shadow_disagreements.clone(),
        );
        registry.register(
            "edgescore_shadow_failures",
            "Shadow calls that failed, by model",
            f.shadow_failures.clone(),
        );
        registry.register(
            "edgescore_shadow_skipped",
            "Shadow calls not made because too many were in flight, by model",
            f.shadow_skipped.clone(),
        );
        registry.register(
            "edgescore_shadow_max_abs_difference",
            "Largest |shadow - primary| score seen, by model",
            f.shadow_max_diff.clone(),
        );
        registry.register(
            "edgescore_rejected_loads",
            "Versions that failed validation, by model",
            f.rejected_loads.clone(),
        );
        registry.register(
            "edgescore_instance_pool_idle",
            "Warm instances waiting, by model and version",
            f.pool_idle.clone(),
        );
        registry.register(
            "edgescore_decisions",
            "Pipeline decisions, by pipeline and decision",
            f.decisions.clone(),
        );
        registry.register(
            "edgescore_batch_rows",
            "Rows per batch scored by the dynamic batcher, by model",
            f.batch_rows.clone(),
        );
        registry.register(
            "edgescore_batch_requests",
            "Requests per batch scored by the dynamic batcher, by model",
            f.batch_requests.clone(),
        );
        registry.register(
            "edgescore_batch_oldest_request_seconds",
            "Per batch, its oldest request's time in the batcher (the wait for the batch to fill, then its scoring), by model",
            f.batch_oldest.clone(),
        );
        families
    }
}

/// The value under `key` in `map`, made by `make` the first time.
///
/// A key seen before costs a shared read lock and a clone of the value
/// (an `Arc` count); only a new key is copied into the map, under the
/// write lock.
pub(super) fn get_or_insert<Q, V>(
    map: &RwLock<HashMap<Q::Owned, V>>,
    key: &Q,
    make: impl FnOnce() -> V,
) -> V
where
    Q: ToOwned + Hash + Eq + ?Sized,
    Q::Owned: Hash + Eq + Borrow<Q>,
    V: Clone,
{
    if let Some(value) = map.read().get(key) {
        return value.clone();
    }
    map.write()
        .entry(key.to_owned())
        .or_insert_with(make)
        .clone()
}

/// The series of one model. Each is made in its family the first time it
/// is observed, so a model exports only what happened to it (no shadow
/// series for a model that never had a shadow).
#[derive(Debug)]
pub(super) struct ModelSeries {
    labels: ModelLabels,
    scores: OnceLock<Histogram>,
    swaps: OnceLock<Counter>,
    canary_rollbacks: OnceLock<Counter>,
    shadow: OnceLock<ShadowSeries>,
    shadow_max_diff: OnceLock<FloatGauge>,
    rejected_loads: OnceLock<Counter>,
    batches: OnceLock<BatchSeries>,
    versions: RwLock<HashMap<u64, Arc<VersionSeries>>>,
}

/// The batch sizes of a model that batches, made by its first batch.
#[derive(Debug)]
pub(super) struct BatchSeries {
    pub(super) rows: Histogram,
    pub(super) requests: Histogram,
    pub(super) oldest: Histogram,
}

/// How a model's shadow has compared with its primary: the four counters
/// appear together on the first shadow call, whatever its outcome.
#[derive(Debug)]
pub(super) struct ShadowSeries {
    pub(super) rows: Counter,
    pub(super) disagreements: Counter,
    pub(super) failures: Counter,
    pub(super) skipped: Counter,
}

impl ModelSeries {
    pub(super) fn new(model: &str) -> Self {
        Self {
            labels: ModelLabels {
                model: model.to_owned(),
            },
            scores: OnceLock::new(),
            swaps: OnceLock::new(),
            canary_rollbacks: OnceLock::new(),
            shadow: OnceLock::new(),
            shadow_max_diff: OnceLock::new(),
            rejected_loads: OnceLock::new(),
            batches: OnceLock::new(),
            versions: RwLock::default(),
        }
    }

    pub(super) fn scores(&self, f: &Families) -> &Histogram {
        self.scores
            .get_or_init(|| f.scores.get_or_create_owned(&self.labels))
    }

    pub(super) fn swaps(&self, f: &Families) -> &Counter {
        self.swaps
            .get_or_init(|| f.swaps.get_or_create_owned(&self.labels))
    }

    pub(super) fn canary_rollbacks(&self, f: &Families) -> &Counter {
        self.canary_rollbacks
            .get_or_init(|| f.canary_rollbacks.get_or_create_owned(&self.labels))
    }

    pub(super) fn shadow(&self, f: &Families) -> &ShadowSeries {
        self.shadow.get_or_init(|| ShadowSeries {
            rows: f.shadow_rows.get_or_create_owned(&self.labels),
            disagreements: f.shadow_disagreements.get_or_create_owned(&self.labels),
            failures: f.shadow_failures.get_or_create_owned(&self.labels),
            skipped: f.shadow_skipped.get_or_create_owned(&self.labels),
        })
    }

    pub(super) fn shadow_max_diff(&self, f: &Families) -> &FloatGauge {
        self.shadow_max_diff
            .get_or_init(|| f.shadow_max_diff.get_or_create_owned(&self.labels))
    }

    pub(super) fn rejected_loads(&self, f: &Families) -> &Counter {
        self.rejected_loads
            .get_or_init(|| f.rejected_loads.get_or_create_owned(&self.labels))
    }

    pub(super) fn batches(&self, f: &Families) -> &BatchSeries {
        self.batches.get_or_init(|| BatchSeries {
            rows: f.batch_rows.get_or_create_owned(&self.labels),
            requests: f.batch_requests.get_or_create_owned(&self.labels),
            oldest: f.batch_oldest.get_or_create_owned(&self.labels),
        })
    }

    /// The series of one version of this model, made on its first request.
    pub(super) fn version(&self, f: &Families, version: u64) -> Arc<VersionSeries> {
        get_or_insert(&self.versions, &version, || {
            let labels = VersionLabels {
                model: self.labels.model.clone(),
                version,
            };
            Arc::new(VersionSeries {
                latency: f.latency.get_or_create_owned(&labels),
                pool_idle: f.pool_idle.get_or_create_owned(&labels),
                requests: RwLock::default(),
                labels,
            })
        })
    }

    /// Removes the series of `version` from every family, so that a
    /// registry that publishes version after version exports only the
    /// versions it still has. A request still in flight on the version
    /// counts into detached series; one answered after this makes them again.
    pub(super) fn forget_version(&self, f: &Families, version: u64) {
        let Some(series) = self.versions.write().remove(&version) else {
            return;
        };
        f.latency.remove(&series.labels);
        f.pool_idle.remove(&series.labels);
        for &endpoint in series.requests.read().keys() {
            f.requests.remove(&RequestLabels {
                model: series.labels.model.clone(),
                version,
                endpoint,
            });
        }
    }
}

/// The series of one version of a model, all made by its first request.
#[derive(Debug)]
pub(super) struct VersionSeries {
    labels: VersionLabels,
    pub(super) latency: Histogram,
    pub(super) pool_idle: Gauge,
    /// Requests answered, by endpoint.
    requests: RwLock<HashMap<&'static str, Counter>>,
}

impl VersionSeries {
    pub(super) fn requests(&self, f: &Families, endpoint: &'static str) -> Counter {
        get_or_insert(&self.requests, &endpoint, || {
            f.requests.get_or_create_owned(&RequestLabels {
                model: self.labels.model.clone(),
                version: self.labels.version,
                endpoint,
            })
        })
    }
}

/// The decision counters of one pipeline, each made on its first decision.
#[derive(Debug)]
pub(super) struct PipelineSeries {
    pipeline: String,
    decisions: RwLock<HashMap<&'static str, Counter>>,
}

impl PipelineSeries {
    pub(super) fn new(pipeline: &str) -> Self {
        Self {
            pipeline: pipeline.to_owned(),
            decisions: RwLock::default(),
        }
    }

    /// Each decision's count so far.
    pub(super) fn counts(&self) -> Vec<(&'static str, u64)> {
        self.decisions
            .read()
            .iter()
            .map(|(decision, counter)| (*decision, counter.get()))
            .collect()
    }

    pub(super) fn decision(&self, f: &Families, decision: &'static str) -> Counter {
        get_or_insert(&self.decisions, &decision, || {
            f.decisions.get_or_create_owned(&DecisionLabels {
                pipeline: self.pipeline.clone(),
                decision,
            })
        })
    }
}

/// Raises `gauge` to `value` if `value` is larger (a NaN never is).
pub(super) fn raise_to(gauge: &FloatGauge, value: f64) {
    // The closure answers `None` (keep) unless `value` is larger, so the
    // `Err` of `fetch_update` only means "already at least `value`".
    let _ = gauge
        .inner()
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
            (value > f64::from_bits(bits)).then_some(value.to_bits())
        });
}
