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
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api_error::ApiError;
use super::app::AppState;
use super::loaded_version::LoadedVersion;
use super::scoring::score_rows;

/// The request header that announces binary tensor data: the JSON header's length.
const HEADER_LENGTH: &str = "inference-header-content-length";
/// The one output every model has.
const OUTPUT: &str = "score";

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InferRequest {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    parameters: Option<serde_json::Map<String, Value>>,
    inputs: Vec<InputTensor>,
    #[serde(default)]
    outputs: Option<Vec<RequestedOutput>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputTensor {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    parameters: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestedOutput {
    name: String,
    #[serde(default)]
    parameters: Option<serde_json::Map<String, Value>>,
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
    let (json_part, binary_part) = split_body(headers, &body)?;
    let request: InferRequest = serde_json::from_slice(json_part).map_err(|e| {
        ApiError::BadRequest(format!(
            "the inference request is not valid JSON of the Open Inference Protocol: {e}"
        ))
    })?;
    // The canary split's key: `parameters.key`, else the request id.
    let key = request
        .parameters
        .as_ref()
        .and_then(|p| p.get("key"))
        .and_then(Value::as_str)
        .or(request.id.as_deref());
    let target = state.target(model, version, key)?;
    let loaded = target.version.clone();
    let rows = read_input(
        &request,
        binary_part,
        &loaded,
        state.request_limits.max_rows,
    )?;
    let binary_output = wants_binary_output(&request)?;
    let num_rows = rows.len() / loaded.manifest().features.len().max(1);
    let scores = score_rows(state, target, rows, "v2_infer").await?;
    // FP64 in, FP64 out: a caller with float64 data gets the full score.
    let fp64 = request
        .inputs
        .first()
        .is_some_and(|input| input.datatype == "FP64");
    let datatype = if fp64 { "FP64" } else { "FP32" };

    let mut output = json!({ "name": OUTPUT, "datatype": datatype, "shape": [num_rows] });
    let mut response = json!({
        "model_name": model,
        "model_version": loaded.version.to_string(),
        "outputs": [],
    });
    if let Some(id) = &request.id {
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

/// The JSON header and the binary data after it.
fn split_body<'a>(headers: &HeaderMap, body: &'a Bytes) -> Result<(&'a [u8], &'a [u8]), ApiError> {
    let Some(value) = headers.get(HEADER_LENGTH) else {
        return Ok((body, &[]));
    };
    let length: usize = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "the {HEADER_LENGTH} header must be the JSON header's length in bytes"
            ))
        })?;
    if length > body.len() {
        return Err(ApiError::BadRequest(format!(
            "the {HEADER_LENGTH} header says {length} bytes of JSON, but the body has only {}",
            body.len()
        )));
    }
    Ok(body.split_at(length))
}

/// The one input tensor as row-major `f64` rows of the model's width: FP64
/// values as they are, FP32 values widened exactly.
///
/// Nothing is allocated from the declared shape: it must first agree with
/// the data actually sent (JSON numbers counted, or binary bytes, in
/// overflow-checked arithmetic: a 400 naming both), and its rows must be
/// within `max_rows` (a 413 naming `max_rows_per_request`).
fn read_input(
    request: &InferRequest,
    binary: &[u8],
    loaded: &LoadedVersion,
    max_rows: usize,
) -> Result<Vec<f64>, ApiError> {
    let width = loaded.manifest().features.len();
    let [input] = request.inputs.as_slice() else {
        return Err(ApiError::BadRequest(format!(
            "expected exactly one input tensor of shape [rows, {width}], got {}",
            request.inputs.len()
        )));
    };
    let name = &input.name;
    let rows = match input.shape.as_slice() {
        &[rows, features] if features == width as i64 => u64::try_from(rows).ok(),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::BadRequest(format!(
            "input '{name}' has shape {:?}; this model takes [rows, {width}] ({width} features: {})",
            input.shape,
            loaded
                .manifest()
                .features
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let element: u64 = match input.datatype.as_str() {
        "FP32" => 4,
        "FP64" => 8,
        other => {
            return Err(ApiError::BadRequest(format!(
                "input '{name}' has datatype {other}; send FP32 or FP64"
            )));
        }
    };
    // `None` when the shape declares more values than a u64 can count:
    // no data can match it.
    let declared = rows.checked_mul(width as u64);
    let shape = format!("[{rows}, {width}]");
    let binary_size = input
        .parameters
        .as_ref()
        .and_then(|p| p.get("binary_data_size"));
    let data = match (binary_size, &input.data) {
        (Some(size), None) => {
            let size = size.as_u64().ok_or_else(|| {
                ApiError::BadRequest("binary_data_size must be a byte count".into())
            })?;
            if size != binary.len() as u64 {
                return Err(ApiError::BadRequest(format!(
                    "input '{name}' announces {size} bytes of binary data but {} follow the JSON header",
                    binary.len()
                )));
            }
            let needed = declared.and_then(|count| count.checked_mul(element));
            if needed != Some(size) {
                let needed = needed.map_or_else(
                    || "more bytes than can exist".to_owned(),
                    |n| format!("{n} bytes"),
                );
                return Err(ApiError::BadRequest(format!(
                    "input '{name}' of shape {shape} {} needs {needed} of binary data, but {size} bytes were sent: the shape must match the data",
                    input.datatype
                )));
            }
            Data::Binary
        }
        (None, Some(data)) => {
            let sent = count_numbers(data);
            if declared != Some(sent) {
                let values = declared.map_or_else(
                    || "more values than can exist".to_owned(),
                    |n| format!("{n} values"),
                );
                return Err(ApiError::BadRequest(format!(
                    "input '{name}' has shape {shape} ({values}) but its data has {sent}: the shape must match the data"
                )));
            }
            Data::Json(data)
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(format!(
                "input '{name}' has both data and binary_data_size; send one"
            )));
        }
        (None, None) => {
            return Err(ApiError::BadRequest(format!(
                "input '{name}' has no data (and no binary_data_size)"
            )));
        }
    };
    // The shape matches data that fitted in the body; it may still hold
    // more rows than a request may.
    if rows > max_rows as u64 {
        return Err(ApiError::TooManyRows {
            limit: max_rows,
            what: "rows",
        });
    }
    match data {
        Data::Binary if element == 4 => Ok(binary
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect()),
        Data::Binary => Ok(binary
            .chunks_exact(8)
            .map(|b| {
                let mut eight = [0u8; 8];
                eight.copy_from_slice(b);
                f64::from_le_bytes(eight)
            })
            .collect()),
        Data::Json(data) => {
            // At most `max_rows` rows: the capacity is bounded.
            let mut values = Vec::with_capacity(rows as usize * width);
            flatten_numbers(data, &mut values, name, element == 4)?;
            Ok(values)
        }
    }
}

/// Where an input tensor's values are.
enum Data<'a> {
    /// After the JSON header.
    Binary,
    /// In the JSON `data`, flat or nested.
    Json(&'a Value),
}

/// How many values a JSON `data` holds: its leaves, at any depth (a leaf
/// that is not a number is refused when the values are read).
fn count_numbers(value: &Value) -> u64 {
    match value {
        Value::Array(items) => items.iter().map(count_numbers).sum(),
        _ => 1,
    }
}

/// Appends every number of a flat or nested JSON array; for an FP32
/// tensor each number is read as the float32 it declares itself to be (and
/// one beyond the float32 range is refused).
fn flatten_numbers(
    value: &Value,
    out: &mut Vec<f64>,
    input: &str,
    fp32: bool,
) -> Result<(), ApiError> {
    match value {
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| flatten_numbers(item, out, input, fp32)),
        Value::Number(n) => {
            let v = n.as_f64().ok_or_else(|| {
                ApiError::BadRequest(format!("input '{input}': {n} is not a number we can read"))
            })?;
            if !fp32 {
                out.push(v);
                return Ok(());
            }
            let narrowed = v as f32;
            if narrowed.is_infinite() {
                return Err(ApiError::BadRequest(format!(
                    "input '{input}': {n} is beyond the float32 range of an FP32 tensor; send the tensor as FP64"
                )));
            }
            out.push(f64::from(narrowed));
            Ok(())
        }
        other => Err(ApiError::BadRequest(format!(
            "input '{input}': data must be numbers, found {other}; JSON has no NaN, so send missing values as binary tensor data or use POST /v1/models/<model>/score"
        ))),
    }
}

/// Whether the response's output goes as binary data, and checks the
/// requested outputs name only `score`.
fn wants_binary_output(request: &InferRequest) -> Result<bool, ApiError> {
    let flag = |p: &Option<serde_json::Map<String, Value>>, key: &str| {
        p.as_ref()
            .and_then(|p| p.get(key))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let mut binary = flag(&request.parameters, "binary_data_output");
    for output in request.outputs.iter().flatten() {
        if output.name != OUTPUT {
            return Err(ApiError::BadRequest(format!(
                "unknown output '{}'; the only output is '{OUTPUT}'",
                output.name
            )));
        }
        binary |= flag(&output.parameters, "binary_data");
    }
    Ok(binary)
}
