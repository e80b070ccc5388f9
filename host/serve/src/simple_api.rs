//! The simple JSON API: rows as objects of named features, or as arrays.
//!
//! `POST /v1/models/{model}/score` with
//! `{"rows": [{"amount": 950.0, "hour": 3, ...}, ...]}`: a missing key or
//! `null` is a missing value; `true`/`false` are 1 and 0; an unknown key is
//! an error (it is usually a typo). A row may also be an array of one value
//! per feature in the model's order (`[950.0, 3, null, ...]`), which is how
//! a model whose features have no names (an ONNX `[N, F]` input) is scored. An optional `"key"` (a transaction or
//! entity id) makes the canary split deterministic. The answer gives each
//! row's score and the version that scored it, and with
//! `"contributions": true` each feature's contribution to the raw margin
//! (SHAP values) and the `bias`; they add up to the margin. A request of
//! more than `max_rows_per_request` rows is refused (413) as soon as the
//! row past the limit is read.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use edgescore_protocol::ScoreRequest;
use serde_json::{Map, Value, json};

use super::admin::routing_json;
use super::api_error::ApiError;
use super::app::AppState;
use super::registry::VersionStatus;
use super::scoring::score_rows_with;

pub async fn score(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    run_score(&state, &model, body)
        .await
        .inspect_err(|e| state.metrics.error(e.kind()))
}

async fn run_score(
    state: &Arc<AppState>,
    model: &str,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    // Unknown model: answered before the body is read.
    state.find_version(model, None)?;
    let body = state.read_body(body).await?;
    let request = ScoreRequest::parse(&body, state.request_limits.max_rows)?;
    let target = state.target(model, None, request.key.as_deref())?;
    let names: Vec<String> = target
        .version
        .manifest()
        .features
        .iter()
        .map(|f| f.name.clone())
        .collect();
    let features: Vec<&str> = names.iter().map(String::as_str).collect();
    let rows = request.feature_rows(&features)?;
    let version = target.version.version;
    let scored = score_rows_with(state, target, rows, "v1_score", request.contributions).await?;
    let results: Vec<Value> = scored
        .scores
        .iter()
        .enumerate()
        .map(|(r, &score)| {
            let mut result = json!({ "score": score, "version": version });
            if let Some(all) = &scored.contributions {
                let mut by_name = Map::new();
                for (name, &value) in names.iter().zip(&all[r]) {
                    by_name.insert(name.clone(), json!(value));
                }
                by_name.insert("bias".into(), json!(all[r].last().copied().unwrap_or(0.0)));
                result["contributions"] = Value::Object(by_name);
            }
            result
        })
        .collect();
    Ok(Json(json!({ "model": model, "results": results })))
}

/// `GET /v1/models/{model}`: every version with its state, which serves,
/// and the model's folders that are not versions (`ignored`, with why).
pub async fn model_status(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let slot = state
        .slot(&model)
        .inspect_err(|e| state.metrics.error(e.kind()))?;
    let versions: Vec<Value> = slot
        .report()
        .iter()
        .map(|r| {
            let (status, reason) = match &r.status {
                VersionStatus::Pending => ("pending", None),
                VersionStatus::Ready(_) => ("ready", None),
                VersionStatus::Rejected(why) => ("rejected", Some(why.clone())),
            };
            json!({ "version": r.version, "status": status, "reason": reason, "serving": r.serving, "signers": r.signers() })
        })
        .collect();
    let features: Vec<String> = slot
        .serving()
        .map(|v| {
            v.manifest()
                .features
                .iter()
                .map(|f| f.name.clone())
                .collect()
        })
        .unwrap_or_default();
    let mut answer = routing_json(&slot);
    answer["features"] = json!(features);
    answer["backend"] = json!(slot.serving().map(|v| v.backend().name()));
    answer["versions"] = json!(versions);
    answer["ignored"] = slot
        .ignored_folders()
        .into_iter()
        .map(|(folder, reason)| json!({ "folder": folder, "reason": reason }))
        .collect();
    Ok(Json(answer))
}
