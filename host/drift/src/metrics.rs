//! Drift as Prometheus series, registered by the server and by the stream
//! in their own registries and set at each check (not per event):
//!
//! - `edgescore_drift_psi{pipeline, version, feature}`: PSI against the
//!   reference (`feature="score"` for the score);
//! - `edgescore_drift_jensen_shannon{pipeline, version, feature}`:
//!   categorical features only;
//! - `edgescore_drift_state{pipeline, version, feature}`: -1 collecting,
//!   0 stable, 1 moderate, 2 act;
//! - `edgescore_drift_window_events{pipeline, version}`: events in the
//!   window;
//! - `edgescore_drift_alerts_total{pipeline, version, feature, state}`:
//!   crossings.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use parking_lot::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::monitor::Check;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FeatureLabels {
    pipeline: String,
    version: String,
    feature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct VersionLabels {
    pipeline: String,
    version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AlertLabels {
    pipeline: String,
    version: String,
    feature: String,
    state: &'static str,
}

/// The drift families of one registry.
#[derive(Debug, Clone, Default)]
pub struct DriftMetrics {
    psi: Family<FeatureLabels, Gauge<f64, AtomicU64>>,
    jensen_shannon: Family<FeatureLabels, Gauge<f64, AtomicU64>>,
    state: Family<FeatureLabels, Gauge>,
    window: Family<VersionLabels, Gauge>,
    alerts: Family<AlertLabels, Counter>,
    /// The features and alert series each version has, so that
    /// [`DriftMetrics::forget_version`] removes them all.
    recorded: Arc<Mutex<HashMap<VersionLabels, Recorded>>>,
}

/// The series one version has beyond its window gauge.
#[derive(Debug, Default)]
struct Recorded {
    features: HashSet<String>,
    alerts: HashSet<(String, &'static str)>,
}

impl DriftMetrics {
    /// The families, registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "edgescore_drift_psi",
            "Population stability index of the live window against the reference profile, by pipeline and feature (score: the score)",
            metrics.psi.clone(),
        );
        registry.register(
            "edgescore_drift_jensen_shannon",
            "Jensen-Shannon distance of the live window against the reference profile, by pipeline and categorical feature",
            metrics.jensen_shannon.clone(),
        );
        registry.register(
            "edgescore_drift_state",
            "Drift state by pipeline and feature: -1 collecting, 0 stable, 1 moderate, 2 act",
            metrics.state.clone(),
        );
        registry.register(
            "edgescore_drift_window_events",
            "Events in the drift window, by pipeline",
            metrics.window.clone(),
        );
        registry.register(
            "edgescore_drift_alerts",
            "Drift alerts raised (a distribution crossing into moderate or act), by pipeline, feature and state",
            metrics.alerts.clone(),
        );
        metrics
    }

    /// Removes every series of `version` of `pipeline`: the version is gone
    /// (a registry that publishes version after version must not grow
    /// `/metrics` by a set of series per version for ever).
    pub fn forget_version(&self, pipeline: &str, version: &str) {
        let key = VersionLabels {
            pipeline: pipeline.to_owned(),
            version: version.to_owned(),
        };
        let Some(recorded) = self.recorded.lock().remove(&key) else {
            return;
        };
        self.window.remove(&key);
        for feature in recorded.features {
            let labels = FeatureLabels {
                pipeline: pipeline.to_owned(),
                version: version.to_owned(),
                feature,
            };
            self.psi.remove(&labels);
            self.jensen_shannon.remove(&labels);
            self.state.remove(&labels);
        }
        for (feature, state) in recorded.alerts {
            self.alerts.remove(&AlertLabels {
                pipeline: pipeline.to_owned(),
                version: version.to_owned(),
                feature,
                state,
            });
        }
    }

    /// Sets the series of `version` of `pipeline` from a check.
    pub fn record(&self, pipeline: &str, version: &str, check: &Check) {
        let mut recorded = self.recorded.lock();
        let recorded = recorded
            .entry(VersionLabels {
                pipeline: pipeline.to_owned(),
                version: version.to_owned(),
            })
            .or_default();
        let labels = |feature: &str| FeatureLabels {
            pipeline: pipeline.to_owned(),
            version: version.to_owned(),
            feature: feature.to_owned(),
        };
        for (feature, psi, js, state) in &check.drift {
            let l = labels(feature);
            if !recorded.features.contains(feature.as_str()) {
                recorded.features.insert(feature.clone());
            }
            if let Some(v) = psi {
                self.psi.get_or_create(&l).set(*v);
            }
            if let Some(v) = js {
                self.jensen_shannon.get_or_create(&l).set(*v);
            }
            self.state.get_or_create(&l).set(state.level());
        }
        self.window
            .get_or_create(&VersionLabels {
                pipeline: pipeline.to_owned(),
                version: version.to_owned(),
            })
            .set(i64::try_from(check.window_events).unwrap_or(i64::MAX));
        for alert in &check.alerts {
            recorded
                .alerts
                .insert((alert.feature.clone(), alert.state.name()));
            self.alerts
                .get_or_create(&AlertLabels {
                    pipeline: pipeline.to_owned(),
                    version: version.to_owned(),
                    feature: alert.feature.clone(),
                    state: alert.state.name(),
                })
                .inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::{DriftAlert, State};

    fn check(feature: &str) -> Check {
        Check {
            drift: vec![
                (feature.to_owned(), Some(0.3), Some(0.1), State::Act),
                ("score".to_owned(), Some(0.01), None, State::Stable),
            ],
            alerts: vec![DriftAlert {
                pipeline: "fraud".to_owned(),
                version: "1".to_owned(),
                feature: feature.to_owned(),
                psi: 0.3,
                state: State::Act,
                previous: State::Stable,
                window_events: 1000,
            }],
            window_events: 1000,
        }
    }

    fn exposition(registry: &Registry) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).expect("encodes");
        text
    }

    #[test]
    fn a_forgotten_version_takes_every_drift_series_with_it() {
        let mut registry = Registry::default();
        let metrics = DriftMetrics::register(&mut registry);
        metrics.record("fraud", "1", &check("amount"));
        metrics.record("fraud", "2", &check("country"));
        let both = exposition(&registry);
        assert!(both.contains(r#"version="1""#) && both.contains(r#"version="2""#));

        metrics.forget_version("fraud", "1");
        metrics.forget_version("fraud", "9");
        let text = exposition(&registry);
        assert!(!text.contains(r#"version="1""#), "{text}");
        for line in [
            r#"edgescore_drift_psi{pipeline="fraud",version="2",feature="country"} 0.3"#,
            r#"edgescore_drift_jensen_shannon{pipeline="fraud",version="2",feature="country"} 0.1"#,
            r#"edgescore_drift_state{pipeline="fraud",version="2",feature="score"} 0"#,
            r#"edgescore_drift_window_events{pipeline="fraud",version="2"} 1000"#,
            r#"edgescore_drift_alerts_total{pipeline="fraud",version="2",feature="country",state="act"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in:\n{text}");
        }
    }
}
