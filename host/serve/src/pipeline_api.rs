//! `POST /v1/pipelines/{pipeline}/score`: raw transactions in; for each, the
//! score, the decision and the top reasons out.
//!
//! ```json
//! {"transactions": [{"timestamp": "2026-03-01T03:12:00Z", "card_id": "c42",
//!                    "amount": 1450.0, ...}],
//!  "key": "c42", "features": false}
//! ```
//!
//! Fields are the transform's inputs by name; `key` makes the canary split
//! deterministic; `"features": true` adds the feature row the transform
//! computed; `"explain": true` gives reasons for allowed transactions too
//! (by default only review and block carry them). The transform observes
//! each transaction into the feature store (it happened), then the model
//! scores the rows; the decision applies the pipeline's thresholds, and the
//! reasons are the features that pushed the score up most (their
//! contributions to the raw margin, from TreeSHAP or the linear terms).
//! Review and block decisions are sent to the alert log and webhook. A
//! pipeline's shadow, if any, scores the primary's feature rows with its
//! model only, so the feature store never counts a transaction twice.
//!
//! A request is all or nothing. Before anything is transformed, it is
//! refused whole when it carries more than `max_rows_per_request`
//! transactions (413) or when any transaction breaks the event rules
//! ([`edgescore_events`]: types, required fields, text lengths, fields
//! per event, unknown or repeated fields, a time too far ahead of the
//! server's clock), with a 400 naming the transaction, the field and the
//! fix. A request that fails later (a deadline, the feature store) takes
//! back what it observed, and sends no alert, so a retry counts each
//! transaction once.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use edgescore_protocol::PipelineRequest;
use serde_json::{Map, Value, json};

use super::api_error::ApiError;
use super::app::AppState;
use super::loaded_version::{LoadedVersion, events_from_json};
use super::scoring::{Target, score_rows_with};
use edgescore_events::Event;
use edgescore_runtime::feature_store::Uncommitted;
use edgescore_runtime::pipeline::{Decision, Outcome, Pipeline};

/// Transactions transformed on the async worker; more go to the blocking pool.
const INLINE_EVENTS: usize = 16;

pub async fn score(
    State(state): State<Arc<AppState>>,
    Path(pipeline): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let started = std::time::Instant::now();
    run_score(&state, &pipeline, body)
        .await
        .inspect(|_| state.latency.record(&pipeline, started.elapsed()))
        .inspect_err(|e| state.metrics.error(e.kind()))
}

async fn run_score(state: &Arc<AppState>, name: &str, body: Body) -> Result<Json<Value>, ApiError> {
    let serving = state.find_version(name, None)?;
    if serving.pipeline().is_none() {
        return Err(ApiError::NotFound(format!(
            "'{name}' is a model, not a pipeline: score feature rows with POST /v1/models/{name}/score"
        )));
    }
    let body = state.read_body(body).await?;
    let request = PipelineRequest::parse(&body, state.request_limits.max_rows)?;
    let transactions = &request.transactions;
    let target = state.target(name, None, request.key.as_deref())?;
    let version = target.version.clone();
    let pipeline = pipeline_of(&version)?;
    let events = events_from_json(pipeline, transactions, &state.request_limits)
        .map_err(|(i, e)| ApiError::BadRequest(format!("transaction {i}: {e}")))?;

    let (rows, observed) = transform(state, &version, events).await?;
    let outcomes = match decide(state, target, &request, rows.clone()).await {
        Ok(outcomes) => {
            observed.commit();
            outcomes
        }
        Err(e) => {
            undo(observed).await;
            return Err(e);
        }
    };
    if let Some(drift) = &version.drift {
        crate::drift::observe(state, name, drift, &rows, &outcomes);
    }
    let features = pipeline.features();
    let width = features.len();
    let mut results = Vec::with_capacity(outcomes.len());
    let mut to_alert = Vec::new();
    for (i, outcome) in outcomes.iter().enumerate() {
        let mut result = json!({
            "score": outcome.score,
            "decision": outcome.decision,
            "reasons": outcome.reasons,
        });
        if request.features {
            let row = &rows[i * width..(i + 1) * width];
            result["features"] = features
                .iter()
                .zip(row)
                .map(|(f, v)| (f.name.clone(), number(*v)))
                .collect::<Map<_, _>>()
                .into();
        }
        if outcome.decision != Decision::Allow && state.alerts.is_some() {
            to_alert.push(json!({
                "pipeline": name,
                "version": version.version,
                "decision": outcome.decision,
                "score": outcome.score,
                "reasons": result["reasons"],
                "transaction": transactions[i],
            }));
        }
        state.metrics.decision(name, outcome.decision.name());
        results.push(result);
    }
    // Answered only once its alerts are in the alert log.
    if let Some(alerts) = &state.alerts {
        alerts
            .record(&to_alert)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    }
    Ok(Json(json!({
        "pipeline": name,
        "version": version.version,
        "results": results,
    })))
}

/// The pipeline a routed version deploys (a routing that mixes a model
/// into a pipeline's slot is refused here).
fn pipeline_of(version: &LoadedVersion) -> Result<&Pipeline, ApiError> {
    version.pipeline().ok_or_else(|| {
        ApiError::Model(format!(
            "version {} of '{}' is a model, not a pipeline (a routing mixes the two)",
            version.version, version.model
        ))
    })
}

/// Scores the feature rows through the routing (canary accounting, shadow
/// comparison), then decides and explains each with the target version's
/// pipeline.
async fn decide(
    state: &Arc<AppState>,
    target: Target,
    request: &PipelineRequest,
    rows: Vec<f64>,
) -> Result<Vec<Outcome>, ApiError> {
    let version = target.version.clone();
    let scored = score_rows_with(state, target, rows.clone(), "pipeline", false).await?;
    let explain_all = request.explain;
    state
        .run_heavy(move || {
            pipeline_of(&version)?
                .outcomes(&rows, &scored.scores, explain_all)
                .map_err(ApiError::from)
        })
        .await
}

/// Takes back what a failed request observed (off the async workers for a
/// remote store); a failure to is logged, as the request's own error is
/// what the client hears.
async fn undo(observed: Uncommitted) {
    let result = if observed.is_remote() {
        tokio::task::spawn_blocking(move || observed.undo())
            .await
            .unwrap_or_else(|e| {
                Err(edgescore_runtime::feature_store::StoreError::Unavailable(
                    format!("the task failed: {e}"),
                ))
            })
    } else {
        observed.undo()
    };
    if let Err(e) = result {
        tracing::warn!("could not take back the observations of a failed request: {e}");
    }
}

/// Runs the version's transform, off the async workers for a large batch
/// (a CPU turn) or a remote feature store (waiting on the network, no turn).
async fn transform(
    state: &AppState,
    version: &Arc<LoadedVersion>,
    events: Vec<Event>,
) -> Result<(Vec<f64>, Uncommitted), ApiError> {
    let pipeline = pipeline_of(version)?;
    let remote = pipeline.store_is_remote();
    if events.len() <= INLINE_EVENTS && !remote {
        return pipeline.transform(&events, |_| {}).map_err(ApiError::from);
    }
    let version = version.clone();
    let work = move || {
        pipeline_of(&version)?
            .transform(&events, |_| {})
            .map_err(ApiError::from)
    };
    if remote {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| ApiError::Model(format!("the transform task failed: {e}")))?
    } else {
        state.run_heavy(work).await
    }
}

/// A feature value as JSON: `null` for a missing one.
fn number(v: f64) -> Value {
    if v.is_nan() { Value::Null } else { json!(v) }
}
