//! Read-only listings: `GET /v1/models` (every model and pipeline, what
//! serves it and the features it takes) and `GET /v1/pipelines/{pipeline}`
//! (what a pipeline reads, computes and decides). Versions are numbers, as
//! everywhere in `/v1`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::api_error::ApiError;
use super::app::AppState;
use super::loaded_version::LoadedVersion;

/// `GET /v1/models`: every model of the registry, by name: its kind
/// (`model` or `pipeline`, `null` while nothing serves), the version
/// serving (`null` when none) and the features of that version's model in
/// row order (for a pipeline, what its transform computes).
pub async fn models(State(state): State<Arc<AppState>>) -> Json<Value> {
    let models: Vec<Value> = state
        .registry
        .models()
        .iter()
        .map(|slot| {
            let serving = slot.serving();
            json!({
                "name": slot.name,
                "kind": serving.as_deref().map(kind),
                "serving": serving.as_ref().map(|v| v.version),
                "features": serving.as_deref().map(features).unwrap_or_default(),
            })
        })
        .collect();
    Json(json!({ "models": models }))
}

/// `GET /v1/pipelines/{pipeline}`: the serving version of a pipeline, the
/// transform's inputs (name, type, required), the features it computes
/// (the model's row), the decision thresholds, how many reasons a
/// response carries, and the feature-store namespaces it is granted.
pub async fn pipeline(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    describe_pipeline(&state, &name).inspect_err(|e| state.metrics.error(e.kind()))
}

fn describe_pipeline(state: &AppState, name: &str) -> Result<Json<Value>, ApiError> {
    let serving = state.find_version(name, None)?;
    let Some(pipeline) = serving.pipeline() else {
        return Err(ApiError::NotFound(format!(
            "'{name}' is a model, not a pipeline: GET /v1/models/{name} describes it"
        )));
    };
    let info = pipeline.transform_component().info();
    let inputs: Vec<Value> = pipeline
        .transform_component()
        .inputs()
        .iter()
        .map(|input| {
            let kind = input.ty.name();
            json!({ "name": input.name, "type": kind, "required": input.required })
        })
        .collect();
    let spec = &pipeline.spec;
    Ok(Json(json!({
        "pipeline": name,
        "serving": serving.version,
        "transform": { "name": info.name, "version": info.version },
        "inputs": inputs,
        "features": features(&serving),
        "decision": { "review": spec.decision.review, "block": spec.decision.block },
        "reasons": { "top": spec.reasons.top },
        "feature_store": { "namespaces": spec.feature_store.namespaces },
        "model_sha256": serving.sha256,
        "version_sha256": serving.version_sha256(),
        "profile_sha256": serving.drift.as_ref().map(|d| d.profile_sha256.clone()),
    })))
}

fn kind(version: &LoadedVersion) -> &'static str {
    if version.pipeline().is_some() {
        "pipeline"
    } else {
        "model"
    }
}

/// The names of the model's features in row order (as `GET /v1/models/<m>`
/// gives them).
fn features(version: &LoadedVersion) -> Vec<String> {
    version
        .manifest()
        .features
        .iter()
        .map(|f| f.name.clone())
        .collect()
}
