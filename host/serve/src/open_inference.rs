//! The Open Inference Protocol (KServe V2) REST routes, with Triton's binary
//! tensor data extension.
//!
//! A model takes one input tensor, FP32 or FP64, shape `[rows, features]`
//! (row-major, features in the manifest's order; any input name): FP64
//! values reach the model as they are, FP32 values widened exactly. It
//! returns one output tensor named `score`, shape `[rows]`, FP32, or FP64
//! when the input was FP64 (the score in full). In JSON,
//! `data` is flat or nested numbers (JSON has no NaN: send missing values in
//! binary). In binary (`Inference-Header-Content-Length` request header), the
//! JSON header is followed by each input's little-endian bytes, sized by its
//! `binary_data_size` parameter; the output comes back binary when the
//! request asks (`binary_data` on the output, or `binary_data_output` on the
//! request). A canary split uses the request's `parameters.key` (a
//! transaction or entity id), else its `id`, else chance.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use edgescore_protocol::{HEADER_LENGTH, InferRequest, OUTPUT, split_body};
use serde_json::{Value, json};

use super::api_error::ApiError;
use super::app::AppState;
use super::scoring::score_rows;

pub async fn live() -> Json<Value> {
    Json(json!({ "live": true }))
}

/// Ready when every model has a version serving; otherwise 503 with the
/// reason (each model without one, and the state of each of its versions).
pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    match state.readiness() {
        Ok(()) => (StatusCode::OK, Json(json!({ "ready": true }))).into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reason": reason })),
        )
            .into_response(),
    }
}

pub async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": "edgescore",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["binary_tensor_data", "model_repository"],
    }))
}

pub async fn model_metadata(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
) -> Result<Json<Value>, ApiError> {
    metadata(&state, &model, None).map_err(|e| count(&state, e))
}

pub async fn version_metadata(
    State(state): State<Arc<AppState>>,
    Path((model, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    metadata(&state, &model, Some(&version)).map_err(|e| count(&state, e))
}

fn metadata(state: &AppState, model: &str, version: Option<&str>) -> Result<Json<Value>, ApiError> {
    let loaded = state.find_version(model, version)?;
    let versions: Vec<String> = state
        .registry
        .model(model)
        .map(|slot| {
            slot.report()
                .iter()
                .filter(|r| matches!(r.status, super::registry::VersionStatus::Ready(_)))
                .map(|r| r.version.to_string())
                .collect()
        })
        .unwrap_or_default();
    let manifest = loaded.manifest();
    let features: Vec<&str> = manifest.features.iter().map(|f| f.name.as_str()).collect();
    Ok(Json(json!({
        "name": model,
        "versions": versions,
        "platform": "edgescore_wasm",
        "inputs": [{
            "name": "features",
            "datatype": "FP32",
            "shape": [-1, features.len()],
            "parameters": { "feature_names": features },
        }],
        "outputs": [{ "name": OUTPUT, "datatype": "FP32", "shape": [-1] }],
        "parameters": {
            "serving_version": loaded.version,
            "model_kind": manifest.model_kind,
            "objective": manifest.objective,
            "output": manifest.output,
            "component_sha256": loaded.sha256,
            "profile_sha256": loaded.drift.as_ref().map(|d| d.profile_sha256.clone()),
            "backend": loaded.backend().name(),
        },
    })))
}

pub async fn model_ready(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
) -> Response {
    readiness(&state, &model, None)
}

pub async fn version_ready(
    State(state): State<Arc<AppState>>,
    Path((model, version)): Path<(String, String)>,
) -> Response {
    readiness(&state, &model, Some(&version))
}

fn readiness(state: &AppState, model: &str, version: Option<&str>) -> Response {
    match state.find_version(model, version) {
        Ok(_) => Json(json!({ "name": model, "ready": true })).into_response(),
        Err(e) => {
            let status = e.status();
            (
                status,
                Json(json!({ "name": model, "ready": false, "error": e.to_string() })),
            )
                .into_response()
        }
    }
}

pub async fn infer(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run_infer(&state, &model, None, &headers, body)
        .await
        .unwrap_or_else(|e| count(&state, e).into_response())
}

pub async fn infer_version(
    State(state): State<Arc<AppState>>,
    Path((model, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run_infer(&state, &model, Some(&version), &headers, body)
        .await
        .unwrap_or_else(|e| count(&state, e).into_response())
}

fn count(state: &AppState, e: ApiError) -> ApiError {
    state.metrics.error(e.kind());
    e
}

async fn run_infer(
    state: &Arc<AppState>,
    model: &str,
    version: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // Unknown model or version: answered before the body is read.
    state.find_version(model, version)?;
    let body = state.read_body(body).await?;
    let header_length = headers.get(HEADER_LENGTH).map(HeaderValue::as_bytes);
    let (json_part, binary_part) = split_body(header_length, &body)?;
    let request = InferRequest::from_json(json_part)?;
    // The canary split's key: `parameters.key`, else the request id.
    let target = state.target(model, version, request.key())?;
    let loaded = target.version.clone();
    let features: Vec<&str> = loaded
        .manifest()
        .features
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    let rows = request.feature_rows(binary_part, &features, state.request_limits.max_rows)?;
    let binary_output = request.wants_binary_output()?;
    let num_rows = rows.len() / features.len().max(1);
    let scores = score_rows(state, target, rows, "v2_infer").await?;
    // FP64 in, FP64 out: a caller with float64 data gets the full score.
    let fp64 = request.is_fp64();
    let datatype = if fp64 { "FP64" } else { "FP32" };

    let mut output = json!({ "name": OUTPUT, "datatype": datatype, "shape": [num_rows] });
    let mut response = json!({
        "model_name": model,
        "model_version": loaded.version.to_string(),
        "outputs": [],
    });
    if let Some(id) = request.id() {
        response["id"] = json!(id);
    }
    if binary_output {
        let bytes: Vec<u8> = if fp64 {
            scores.iter().flat_map(|v| v.to_le_bytes()).collect()
        } else {
            scores
                .iter()
                .flat_map(|&v| (v as f32).to_le_bytes())
                .collect()
        };
        output["parameters"] = json!({ "binary_data_size": bytes.len() });
        response["outputs"] = json!([output]);
        let header_json = serde_json::to_vec(&response)
            .map_err(|e| ApiError::Model(format!("cannot encode the response: {e}")))?;
        let header_len = header_json.len();
        let mut body = header_json;
        body.extend_from_slice(&bytes);
        let mut response = (StatusCode::OK, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        headers.insert(HEADER_LENGTH, HeaderValue::from(header_len));
        Ok(response)
    } else {
        output["data"] = if fp64 {
            json!(scores)
        } else {
            json!(scores.iter().map(|&v| v as f32).collect::<Vec<f32>>())
        };
        response["outputs"] = json!([output]);
        Ok(Json(response).into_response())
    }
}
