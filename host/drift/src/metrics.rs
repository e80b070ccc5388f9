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

use std::sync::atomic::AtomicU64;

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

    /// Sets the series of `version` of `pipeline` from a check.
    pub fn record(&self, pipeline: &str, version: &str, check: &Check) {
        let labels = |feature: &str| FeatureLabels {
            pipeline: pipeline.to_owned(),
            version: version.to_owned(),
            feature: feature.to_owned(),
        };
        for (feature, psi, js, state) in &check.drift {
            let l = labels(feature);
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
