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
//! ([`edgescore_runtime::event_fields`]: types, required fields, text lengths, fields
//! per event, unknown or repeated fields, a time too far ahead of the
//! server's clock), with a 400 naming the transaction, the field and the
//! fix. A request that fails later (a deadline, the feature store) takes
//! back what it observed, and sends no alert, so a retry counts each
//! transaction once.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::api_error::ApiError;
use super::app::{AppState, Target, score_rows_with};
use super::bounded_json::{self, BoundedJsonError};
use super::loaded_version::LoadedVersion;
use edgescore_runtime::bindings::transformer::exports::edgescore::scoring::transform::Event;
use edgescore_runtime::event_fields::JsonEvent;
use edgescore_runtime::feature_store::Uncommitted;
use edgescore_runtime::pipeline::Decision;

/// Transactions transformed on the async worker; more go to the blocking pool.
const INLINE_EVENTS: usize = 16;

/// A request's fields besides `transactions` (read with a bound on their
/// number, see [`bounded_json`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineOptions {
    #[serde(default)]
    key: Option<String>,
    /// Include each transaction's feature row.
    #[serde(default)]
    features: bool,
    /// Give reasons for allowed transactions too (by default only review
    /// and block decisions carry reasons: computing them costs more than
    /// the score).
    #[serde(default)]
    explain: bool,
}

pub async fn score(
    State(state): State<Arc<AppState>>,
    Path(pipeline): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    run_score(&state, &pipeline, body)
        .await
        .inspect_err(|e| state.metrics.error(e.kind()))
}

async fn run_score(state: &Arc<AppState>, name: &str, body: Body) -> Result<Json<Value>, ApiError> {
    let serving = state.find_version(name, None)?;
    if serving.pipeline.is_none() {
        return Err(ApiError::NotFound(format!(
            "'{name}' is a model, not a pipeline: score feature rows with POST /v1/models/{name}/score"
        )));
    }
    let body = state.read_body(body).await?;
    let (transactions, request): (Vec<JsonEvent>, PipelineOptions) =
        bounded_json::parse(&body, "transactions", state.request_limits.max_rows).map_err(|e| {
            match e {
                BoundedJsonError::TooMany { limit } => ApiError::TooManyRows {
                    limit,
                    what: "transactions",
                },
                BoundedJsonError::Json(e) => ApiError::BadRequest(format!(
                    "expected {{\"transactions\": [{{\"<field>\": <value>, ...}}, ...]}}: {e}"
                )),
            }
        })?;
    if transactions.is_empty() {
        return Err(ApiError::BadRequest("\"transactions\" is empty".into()));
    }
    let target = state.target(name, None, request.key.as_deref())?;
    let version = target.version.clone();
    let Some(pipeline) = &version.pipeline else {
        return Err(ApiError::Model(format!(
            "version {} of '{name}' is a model, not a pipeline (a routing mixes the two)",
            version.version
        )));
    };
    let events = pipeline
        .events_from_json(&transactions, &state.request_limits)
        .map_err(|(i, e)| ApiError::BadRequest(format!("transaction {i}: {e}")))?;

    let (rows, observed) = transform(state, &version, events).await?;
    let results = match decide(state, target, &request, rows).await {
        Ok(results) => {
            observed.commit();
            results
        }
        Err(e) => {
            undo(observed).await;
            return Err(e);
        }
    };
    for (i, (result, decision)) in results.iter().enumerate() {
        if *decision != Decision::Allow
            && let Some(alerts) = &state.alerts
        {
            alerts.send(&json!({
                "pipeline": name,
                "version": version.version,
                "decision": decision,
                "score": result["score"],
                "reasons": result["reasons"],
                "transaction": transactions[i],
            }));
        }
        state.metrics.decision(name, decision.name());
    }
    Ok(Json(json!({
        "pipeline": name,
        "version": version.version,
        "results": results.into_iter().map(|(r, _)| r).collect::<Vec<_>>(),
    })))
}

/// Scores the feature rows, decides and explains: each transaction's
/// result and decision.
async fn decide(
    state: &Arc<AppState>,
    target: Target,
    request: &PipelineOptions,
    rows: Vec<f64>,
) -> Result<Vec<(Value, Decision)>, ApiError> {
    let version = target.version.clone();
    let Some(pipeline) = &version.pipeline else {
        return Err(ApiError::Model("not a pipeline".into()));
    };
    let scored = score_rows_with(state, target, rows.clone(), "pipeline", false).await?;
    let spec = &pipeline.spec;
    let features = &pipeline.transform.info().outputs;
    let width = features.len();
    let decisions: Vec<Decision> = scored
        .scores
        .iter()
        .map(|&s| spec.decision.decide(s))
        .collect();
    let explained: Vec<usize> = (0..decisions.len())
        .filter(|&i| request.explain || decisions[i] != Decision::Allow)
        .collect();
    let contributions = explain(state, &version, &rows, width, &explained).await?;
    let mut results = Vec::with_capacity(scored.scores.len());
    for (i, &score) in scored.scores.iter().enumerate() {
        let decision = decisions[i];
        let row = &rows[i * width..(i + 1) * width];
        let reasons = explained
            .iter()
            .position(|&e| e == i)
            .and_then(|k| contributions.get(k))
            .map(|c| top_reasons(features, row, c, spec.reasons.top))
            .unwrap_or_default();
        let mut result = json!({
            "score": score,
            "decision": decision,
            "reasons": reasons,
        });
        if request.features {
            result["features"] = features
                .iter()
                .zip(row)
                .map(|(f, v)| (f.name.clone(), number(*v)))
                .collect::<Map<_, _>>()
                .into();
        }
        results.push((result, decision));
    }
    Ok(results)
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
        eprintln!("edgescore: could not take back the observations of a failed request: {e}");
    }
}

/// Runs the version's transform, off the async workers for a large batch
/// (a CPU turn) or a remote feature store (waiting on the network, no turn).
async fn transform(
    state: &AppState,
    version: &Arc<LoadedVersion>,
    events: Vec<Event>,
) -> Result<(Vec<f64>, Uncommitted), ApiError> {
    let Some(pipeline) = &version.pipeline else {
        return Err(ApiError::Model("not a pipeline".into()));
    };
    let remote = pipeline.store_is_remote();
    if events.len() <= INLINE_EVENTS && !remote {
        return pipeline.transform(&events).map_err(ApiError::from);
    }
    let version = version.clone();
    let work = move || match &version.pipeline {
        Some(p) => p.transform(&events).map_err(ApiError::from),
        None => Err(ApiError::Model("not a pipeline".into())),
    };
    if remote {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| ApiError::Model(format!("the transform task failed: {e}")))?
    } else {
        state.run_heavy(work).await
    }
}

/// Contributions of the rows `which` (TreeSHAP for trees: about a
/// millisecond a row for the demo model, hence only when needed).
async fn explain(
    state: &AppState,
    version: &Arc<LoadedVersion>,
    rows: &[f64],
    width: usize,
    which: &[usize],
) -> Result<Vec<Vec<f64>>, ApiError> {
    if which.is_empty() {
        return Ok(Vec::new());
    }
    let subset: Vec<f64> = which
        .iter()
        .flat_map(|&i| rows[i * width..(i + 1) * width].iter().copied())
        .collect();
    let version = version.clone();
    state
        .run_heavy(move || {
            version
                .score_with_contributions(&subset)
                .map(|(_, contributions)| contributions)
                .map_err(ApiError::from)
        })
        .await
}

/// The `top` features with the largest positive contributions, largest first.
fn top_reasons(
    features: &[edgescore_runtime::bindings::edgescore::scoring::types::Feature],
    row: &[f64],
    contributions: &[f64],
    top: usize,
) -> Vec<Value> {
    let mut order: Vec<usize> = (0..features.len())
        .filter(|&f| contributions.get(f).is_some_and(|c| *c > 0.0))
        .collect();
    order.sort_by(|&a, &b| contributions[b].total_cmp(&contributions[a]));
    order
        .into_iter()
        .take(top)
        .map(|f| {
            json!({
                "feature": features[f].name,
                "value": number(row[f]),
                "contribution": contributions[f],
            })
        })
        .collect()
}

/// A feature value as JSON: `null` for a missing one.
fn number(v: f64) -> Value {
    if v.is_nan() { Value::Null } else { json!(v) }
}
