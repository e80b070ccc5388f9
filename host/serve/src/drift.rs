//! Drift of the pipelines served: each pipeline version with a reference
//! profile (`profile.json` beside its `pipeline.toml`, made by `edgescore
//! profile`) watches its features, score and decisions in a sliding
//! window ([`edgescore_drift::DriftMonitor`]).
//!
//! - Every answered request adds its transactions to the window; every
//!   `check_every` events the states are judged and the gauges set.
//! - A distribution crossing into `moderate` or `act` sends one drift alert
//!   to the alert log and webhook (`"kind": "drift"`), once per crossing.
//! - `GET /v1/pipelines/{p}/drift` answers the whole report (the serving
//!   version's): per feature the statistics, the state and the bins of
//!   both sides.
//!
//! The stream uses the same loading and alerting ([`VersionDrift`]).

use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use serde_json::{Value, json};

use edgescore_drift::{
    Check, DriftAlert, DriftConfig, DriftMonitor, DriftReport, Profile, ProfileError,
};
use edgescore_runtime::feature_store::now_ms;
use edgescore_runtime::pipeline::{Outcome, Pipeline};

use crate::api_error::ApiError;
use crate::app::AppState;

/// Why a version's profile cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileLoadError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Invalid { path: String, source: ProfileError },
}

/// One version's drift: its monitor and the profile's hash.
#[derive(Debug, Clone)]
pub struct VersionDrift {
    pub monitor: Arc<DriftMonitor>,
    /// SHA-256 of `profile.json`, hex: the profile is part of what the
    /// version is, as the model is.
    pub profile_sha256: String,
}

impl VersionDrift {
    /// The drift of `pipeline` (loaded from `dir` as `version` of `name`)
    /// when its folder has a profile; a profile that cannot be read or was
    /// made for another transform or model fails the version.
    pub fn load(
        dir: &Path,
        pipeline: &Pipeline,
        name: &str,
        version: impl std::fmt::Display,
        config: &DriftConfig,
    ) -> Result<Option<Self>, ProfileLoadError> {
        let Some(path) = pipeline.spec.profile_path(dir) else {
            return Ok(None);
        };
        let shown = path.display().to_string();
        let bytes = std::fs::read(&path).map_err(|source| ProfileLoadError::Read {
            path: shown.clone(),
            source,
        })?;
        let invalid = |source| ProfileLoadError::Invalid {
            path: shown.clone(),
            source,
        };
        let features: Vec<String> = pipeline.features().iter().map(|f| f.name.clone()).collect();
        let profile = Profile::from_json_fitting(&bytes, &features, pipeline.model_file_sha256())
            .map_err(invalid)?;
        Ok(Some(Self {
            monitor: Arc::new(DriftMonitor::new(
                name,
                &version.to_string(),
                profile,
                *config,
            )),
            profile_sha256: edgescore_runtime::digest::sha256_hex(&bytes),
        }))
    }

    /// Adds a request's scored transactions (`rows` their feature rows);
    /// on a check, the check (its alerts to send).
    pub fn observe(&self, rows: &[f64], outcomes: &[Outcome]) -> Option<Check> {
        let scores: Vec<f64> = outcomes.iter().map(|o| o.score).collect();
        let decisions: Vec<&str> = outcomes.iter().map(|o| o.decision.name()).collect();
        self.monitor.observe(now_ms(), rows, &scores, &decisions)
    }
}

/// The JSON of a drift alert, as the alert log and the webhook carry it.
pub fn alert_json(alert: &DriftAlert) -> Value {
    let at = now_ms();
    json!({
        "kind": "drift",
        // The webhook's Idempotency-Key: one per crossing.
        "id": format!(
            "drift:{}:{}:{}:{}:{at}",
            alert.pipeline,
            alert.version,
            alert.feature,
            alert.state.name()
        ),
        "pipeline": alert.pipeline,
        "version": alert.version,
        "feature": alert.feature,
        "statistic": "psi",
        "value": alert.psi,
        "state": alert.state,
        "previous": alert.previous,
        "window_events": alert.window_events,
        "at": edgescore_models::transform::format_rfc3339_ms(at),
    })
}

/// After a request: its transactions into the window; on a check, the
/// gauges set and the alerts sent.
pub fn observe(
    state: &AppState,
    pipeline: &str,
    drift: &VersionDrift,
    rows: &[f64],
    outcomes: &[Outcome],
) {
    let Some(check) = drift.observe(rows, outcomes) else {
        return;
    };
    state
        .metrics
        .drift()
        .record(pipeline, drift.monitor.version(), &check);
    for alert in &check.alerts {
        tracing::warn!(
            "drift: pipeline '{pipeline}' feature '{}' is {} (PSI {:.4}, was {})",
            alert.feature,
            alert.state.name(),
            alert.psi,
            alert.previous.name()
        );
        if let Some(alerts) = &state.alerts {
            alerts.send(&alert_json(alert));
        }
    }
}

/// `GET /v1/pipelines/{pipeline}/drift`: the serving version's report.
pub async fn report(
    State(state): State<Arc<AppState>>,
    UrlPath(pipeline): UrlPath<String>,
) -> Result<Json<DriftReport>, ApiError> {
    let serving = state.find_version(&pipeline, None)?;
    if serving.pipeline().is_none() {
        return Err(ApiError::NotFound(format!(
            "'{pipeline}' is a model, not a pipeline: drift is watched for pipelines with a reference profile"
        )));
    }
    let Some(drift) = &serving.drift else {
        return Err(ApiError::NotFound(format!(
            "pipeline '{pipeline}' version {} has no reference profile: make one with `edgescore profile --pipeline <dir> --input <training data> --output <dir>/profile.json` and deploy it with the version",
            serving.version
        )));
    };
    Ok(Json(drift.monitor.report(now_ms())))
}
