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
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::admin::routing_json;
use super::api_error::ApiError;
use super::app::AppState;
use super::bounded_json::{self, BoundedJsonError};
use super::loaded_version::LoadedVersion;
use super::registry::VersionStatus;
use super::scoring::score_rows_with;

/// One row of a request: named features, or every feature in order.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Row {
    Named(Map<String, Value>),
    Positional(Vec<Value>),
}

/// A request's fields besides `rows` (read with a bound on their number,
/// see [`bounded_json`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreOptions {
    #[serde(default)]
    contributions: bool,
    /// The canary split's key (a transaction or entity id); chance without one.
    #[serde(default)]
    key: Option<String>,
}

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
    let limit = state.request_limits.max_rows;
    let (objects, request): (Vec<Row>, ScoreOptions) =
        bounded_json::parse(&body, "rows", limit).map_err(|e| match e {
            BoundedJsonError::TooMany { limit } => ApiError::TooManyRows {
                limit,
                what: "rows",
            },
            BoundedJsonError::Json(e) => ApiError::BadRequest(format!(
                "expected {{\"rows\": [{{\"<feature>\": <number>, ...}}, ...]}} (or rows as arrays of numbers in feature order): {e}"
            )),
        })?;
    let target = state.target(model, None, request.key.as_deref())?;
    let rows = rows_from_objects(&objects, &target.version)?;
    let version = target.version.version;
    let names: Vec<String> = target
        .version
        .manifest()
        .features
        .iter()
        .map(|f| f.name.clone())
        .collect();
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

/// Row-major values in the manifest's feature order, NaN where missing.
fn rows_from_objects(rows: &[Row], loaded: &LoadedVersion) -> Result<Vec<f64>, ApiError> {
    let features = &loaded.manifest().features;
    let mut values = Vec::with_capacity(rows.len() * features.len());
    for (r, row) in rows.iter().enumerate() {
        match row {
            Row::Named(_) if features.iter().all(|f| f.name.is_empty()) => {
                return Err(ApiError::BadRequest(format!(
                    "row {r}: this model's features have no names; send each row as an array of its {} values in order",
                    features.len()
                )));
            }
            Row::Named(object) => {
                if let Some(unknown) = object
                    .keys()
                    .find(|k| !features.iter().any(|f| &f.name == *k))
                {
                    let names: Vec<&str> = features.iter().map(|f| f.name.as_str()).collect();
                    let hint = format!("its features are {}", names.join(", "));
                    return Err(ApiError::BadRequest(format!(
                        "row {r}: '{unknown}' is not a feature of this model; {hint}"
                    )));
                }
                for feature in features {
                    values.push(feature_value(r, &feature.name, object.get(&feature.name))?);
                }
            }
            Row::Positional(cells) => {
                if cells.len() != features.len() {
                    return Err(ApiError::BadRequest(format!(
                        "row {r} has {} values; the model has {} features",
                        cells.len(),
                        features.len()
                    )));
                }
                for (j, (cell, feature)) in cells.iter().zip(features).enumerate() {
                    let name = if feature.name.is_empty() {
                        format!("#{j}")
                    } else {
                        feature.name.clone()
                    };
                    values.push(feature_value(r, &name, Some(cell))?);
                }
            }
        }
    }
    Ok(values)
}

/// One feature's value: a number, `true`/`false` (1 and 0), or missing.
fn feature_value(r: usize, feature: &str, value: Option<&Value>) -> Result<f64, ApiError> {
    Ok(match value {
        None | Some(Value::Null) => f64::NAN,
        Some(Value::Bool(b)) => f64::from(u8::from(*b)),
        // JSON numbers are float64, as the model reads them (each
        // family narrows as its library does).
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| {
            ApiError::BadRequest(format!(
                "row {r}, feature '{feature}': {n} is not a number edgescore can read"
            ))
        })?,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "row {r}, feature '{feature}': expected a number, true/false or null, found {other}"
            )));
        }
    })
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
            json!({ "version": r.version, "status": status, "reason": reason, "serving": r.serving })
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
