//! Prometheus metrics of the server, kept in memory and written in the
//! Prometheus text format by `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0,
];
/// Upper bounds of the score histogram buckets (scores are mostly probabilities).
const SCORE_BUCKETS: [f64; 10] = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Count per bucket (not cumulative), then the overflow bucket.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len() + 1];
        }
        let bucket = bounds
            .iter()
            .position(|&b| value <= b)
            .unwrap_or(bounds.len());
        self.counts[bucket] += 1;
        self.sum += value;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let mut cumulative = 0;
        for (i, bound) in bounds.iter().enumerate() {
            cumulative += self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{}le=\"{bound}\"}} {cumulative}",
                comma(labels)
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{}le=\"+Inf\"}} {}",
            comma(labels),
            self.count
        );
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

fn comma(labels: &str) -> &'static str {
    if labels.is_empty() { "" } else { "," }
}

/// How a model's shadow has compared with its primary.
#[derive(Debug, Default, Clone, Copy)]
struct ShadowCounts {
    rows: u64,
    disagreements: u64,
    failures: u64,
    skipped: u64,
}

impl ShadowCounts {
    /// Each counter's metric name and help, in the order of [`Self::values`].
    const METRICS: [(&str, &str); 4] = [
        (
            "edgescore_shadow_rows_total",
            "Rows scored by a shadow version and compared with the primary",
        ),
        (
            "edgescore_shadow_disagreements_total",
            "Shadow rows whose score differed from the primary's by more than 1e-6",
        ),
        (
            "edgescore_shadow_failures_total",
            "Shadow calls that failed",
        ),
        (
            "edgescore_shadow_skipped_total",
            "Shadow calls not made because too many were in flight",
        ),
    ];

    fn values(&self) -> [u64; 4] {
        [self.rows, self.disagreements, self.failures, self.skipped]
    }
}

#[derive(Debug, Default)]
struct State {
    /// (model, version, endpoint) -> requests answered.
    requests: BTreeMap<(String, String, &'static str), u64>,
    /// error kind -> count.
    errors: BTreeMap<&'static str, u64>,
    /// (model, version) -> latency.
    latency: BTreeMap<(String, String), Histogram>,
    /// model -> scores.
    scores: BTreeMap<String, Histogram>,
    swaps: BTreeMap<String, u64>,
    canary_rollbacks: BTreeMap<String, u64>,
    shadow: BTreeMap<String, ShadowCounts>,
    /// model -> largest |shadow - primary| seen.
    shadow_max_diff: BTreeMap<String, f64>,
    rejected_loads: BTreeMap<String, u64>,
    /// (model, version) -> idle instances, as last seen.
    pool: BTreeMap<(String, String), u64>,
    /// (pipeline, decision) -> transactions.
    decisions: BTreeMap<(String, &'static str), u64>,
}

/// Every metric the server exports.
#[derive(Debug, Default)]
pub struct Metrics {
    state: Mutex<State>,
}

impl Metrics {
    /// A request scored by `version` of `model` in `elapsed`, with its scores.
    pub fn scored(
        &self,
        model: &str,
        version: u64,
        endpoint: &'static str,
        elapsed: Duration,
        scores: &[f64],
        idle_instances: usize,
    ) {
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        let version = version.to_string();
        *s.requests
            .entry((model.to_owned(), version.clone(), endpoint))
            .or_default() += 1;
        s.latency
            .entry((model.to_owned(), version.clone()))
            .or_default()
            .observe(&LATENCY_BUCKETS, elapsed.as_secs_f64());
        let histogram = s.scores.entry(model.to_owned()).or_default();
        for &score in scores {
            histogram.observe(&SCORE_BUCKETS, score);
        }
        s.pool
            .insert((model.to_owned(), version), idle_instances as u64);
    }

    /// A request that failed, by kind (`bad_request`, `not_found`, ...).
    pub fn error(&self, kind: &'static str) {
        if let Ok(mut s) = self.state.lock() {
            *s.errors.entry(kind).or_default() += 1;
        }
    }

    /// The serving version of `model` changed.
    pub fn swap(&self, model: &str) {
        if let Ok(mut s) = self.state.lock() {
            *s.swaps.entry(model.to_owned()).or_default() += 1;
        }
    }

    /// The canary of `model` was rolled back for failing too often.
    pub fn canary_rollback(&self, model: &str) {
        if let Ok(mut s) = self.state.lock() {
            *s.canary_rollbacks.entry(model.to_owned()).or_default() += 1;
        }
    }

    /// A shadow version scored the same rows as the primary: `disagreed`
    /// rows differed by more than the tolerance, at most `max_diff`.
    pub fn shadow_compared(&self, model: &str, rows: usize, disagreed: usize, max_diff: f64) {
        if let Ok(mut s) = self.state.lock() {
            let counts = s.shadow.entry(model.to_owned()).or_default();
            counts.rows += rows as u64;
            counts.disagreements += disagreed as u64;
            let max = s.shadow_max_diff.entry(model.to_owned()).or_default();
            *max = max.max(max_diff);
        }
    }

    /// A shadow call failed (`skipped`: not attempted, too many in flight).
    pub fn shadow_failed(&self, model: &str, skipped: bool) {
        if let Ok(mut s) = self.state.lock() {
            let counts = s.shadow.entry(model.to_owned()).or_default();
            if skipped {
                counts.skipped += 1;
            } else {
                counts.failures += 1;
            }
        }
    }

    /// A version of `model` failed validation.
    /// A pipeline decided `decision` for one transaction.
    pub fn decision(&self, pipeline: &str, decision: &'static str) {
        if let Ok(mut s) = self.state.lock() {
            *s.decisions
                .entry((pipeline.to_owned(), decision))
                .or_default() += 1;
        }
    }

    pub fn rejected_load(&self, model: &str) {
        if let Ok(mut s) = self.state.lock() {
            *s.rejected_loads.entry(model.to_owned()).or_default() += 1;
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let Ok(s) = self.state.lock() else {
            return String::new();
        };
        let mut out = String::new();
        out.push_str("# HELP edgescore_requests_total Scoring requests answered, by model, version and endpoint.\n# TYPE edgescore_requests_total counter\n");
        for ((model, version, endpoint), n) in &s.requests {
            let _ = writeln!(
                out,
                "edgescore_requests_total{{model=\"{model}\",version=\"{version}\",endpoint=\"{endpoint}\"}} {n}"
            );
        }
        out.push_str("# HELP edgescore_errors_total Requests answered with an error, by kind.\n# TYPE edgescore_errors_total counter\n");
        for (kind, n) in &s.errors {
            let _ = writeln!(out, "edgescore_errors_total{{kind=\"{kind}\"}} {n}");
        }
        out.push_str("# HELP edgescore_request_duration_seconds Time to score a request, by model and version.\n# TYPE edgescore_request_duration_seconds histogram\n");
        for ((model, version), h) in &s.latency {
            h.write(
                &mut out,
                "edgescore_request_duration_seconds",
                &format!("model=\"{model}\",version=\"{version}\""),
                &LATENCY_BUCKETS,
            );
        }
        out.push_str(
            "# HELP edgescore_score Scores returned, by model.\n# TYPE edgescore_score histogram\n",
        );
        for (model, h) in &s.scores {
            h.write(
                &mut out,
                "edgescore_score",
                &format!("model=\"{model}\""),
                &SCORE_BUCKETS,
            );
        }
        out.push_str("# HELP edgescore_swaps_total Changes of the serving version, by model.\n# TYPE edgescore_swaps_total counter\n");
        for (model, n) in &s.swaps {
            let _ = writeln!(out, "edgescore_swaps_total{{model=\"{model}\"}} {n}");
        }
        out.push_str("# HELP edgescore_canary_rollbacks_total Canaries rolled back automatically for failing too often, by model.\n# TYPE edgescore_canary_rollbacks_total counter\n");
        for (model, n) in &s.canary_rollbacks {
            let _ = writeln!(
                out,
                "edgescore_canary_rollbacks_total{{model=\"{model}\"}} {n}"
            );
        }
        for (i, (name, help)) in ShadowCounts::METRICS.iter().enumerate() {
            let _ = writeln!(
                out,
                "# HELP {name} {help}, by model.\n# TYPE {name} counter"
            );
            for (model, counts) in &s.shadow {
                let _ = writeln!(out, "{name}{{model=\"{model}\"}} {}", counts.values()[i]);
            }
        }
        out.push_str("# HELP edgescore_shadow_max_abs_difference Largest |shadow - primary| score seen, by model.\n# TYPE edgescore_shadow_max_abs_difference gauge\n");
        for (model, max) in &s.shadow_max_diff {
            let _ = writeln!(
                out,
                "edgescore_shadow_max_abs_difference{{model=\"{model}\"}} {max}"
            );
        }
        out.push_str("# HELP edgescore_rejected_loads_total Versions that failed validation, by model.\n# TYPE edgescore_rejected_loads_total counter\n");
        for (model, n) in &s.rejected_loads {
            let _ = writeln!(
                out,
                "edgescore_rejected_loads_total{{model=\"{model}\"}} {n}"
            );
        }
        out.push_str("# HELP edgescore_instance_pool_idle Warm instances waiting, by model and version.\n# TYPE edgescore_instance_pool_idle gauge\n");
        for ((model, version), n) in &s.pool {
            let _ = writeln!(
                out,
                "edgescore_instance_pool_idle{{model=\"{model}\",version=\"{version}\"}} {n}"
            );
        }
        out.push_str("# HELP edgescore_decisions_total Pipeline decisions, by pipeline and decision.\n# TYPE edgescore_decisions_total counter\n");
        for ((pipeline, decision), n) in &s.decisions {
            let _ = writeln!(
                out,
                "edgescore_decisions_total{{pipeline=\"{pipeline}\",decision=\"{decision}\"}} {n}"
            );
        }
        out
    }

    /// The alert counters in the Prometheus text format.
    pub fn render_alerts(counters: &super::alerts::AlertCounters) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        let mut out = String::new();
        for (name, help, value) in [
            (
                "edgescore_alerts_logged_total",
                "Alerts appended to the alert log.",
                &counters.logged,
            ),
            (
                "edgescore_alert_log_failures_total",
                "Alerts the log could not take (written to the server log instead).",
                &counters.log_failures,
            ),
            (
                "edgescore_alerts_dropped_total",
                "Alerts a full queue could not take.",
                &counters.queue_full,
            ),
            (
                "edgescore_alert_webhook_delivered_total",
                "Alerts the webhook accepted.",
                &counters.webhook_delivered,
            ),
            (
                "edgescore_alert_webhook_retries_total",
                "Webhook attempts that failed and were retried.",
                &counters.webhook_retries,
            ),
            (
                "edgescore_alert_webhook_failed_total",
                "Alerts the webhook never took (they are in the alert log).",
                &counters.webhook_failed,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Relaxed)
            );
        }
        out
    }
}
