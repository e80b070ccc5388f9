//! The repository API of the Open Inference Protocol, edgescore's admin
//! routes and `/metrics`. Everything that changes what serves needs the
//! admin bearer token.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api_error::ApiError;
use super::app::AppState;
use super::registry::VersionStatus;

/// `POST /v2/repository/index`: every version of every model, Triton's format.
pub async fn repository_index(State(state): State<Arc<AppState>>) -> Json<Value> {
    let registry = state.registry.clone();
    let index: Vec<Value> = registry
        .models()
        .iter()
        .flat_map(|slot| slot.report())
        .map(|r| {
            let (state, reason) = match &r.status {
                VersionStatus::Ready(_) => ("READY", String::new()),
                VersionStatus::Pending => ("LOADING", "waiting for the file to settle".into()),
                VersionStatus::Rejected(why) => ("UNAVAILABLE", why.clone()),
            };
            json!({
                "name": r.model,
                "version": r.version.to_string(),
                "state": state,
                "reason": reason,
                "serving": r.serving,
            })
        })
        .collect();
    Json(Value::Array(index))
}

/// `POST /v2/repository/models/{model}/load`: reads the model from disk now.
pub async fn repository_load(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    counted(&state, async {
        state.authorize(&headers)?;
        let registry = state.registry.clone();
        let name = model.clone();
        let found = tokio::task::spawn_blocking(move || registry.load(&name))
            .await
            .map_err(|e| ApiError::Model(format!("loading failed: {e}")))?;
        if !found {
            return Err(ApiError::NotFound(format!(
                "no folder for model '{model}' in the registry"
            )));
        }
        let serving = state.registry.model(&model).and_then(|s| s.serving());
        Ok(Json(json!({
            "model": model,
            "serving": serving.map(|v| v.version),
        })))
    })
    .await
}

/// `POST /v2/repository/models/{model}/unload`: stops serving the model.
pub async fn repository_unload(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    counted(&state, async {
        state.authorize(&headers)?;
        if !state.registry.unload(&model) {
            return Err(ApiError::NotFound(format!("no model named '{model}'")));
        }
        Ok(Json(json!({ "model": model, "serving": null })))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PinRequest {
    /// The version to serve; `null` returns to the highest ready one.
    version: Option<u64>,
}

/// `POST /admin/models/{model}/pin` with `{"version": N}` or `{"version": null}`.
pub async fn pin(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    counted(&state, async {
        state.authorize(&headers)?;
        let body = state.read_body(body).await?;
        let request: PinRequest = serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadRequest(format!("expected {{\"version\": <n> or null}}: {e}"))
        })?;
        let slot = state
            .registry
            .model(&model)
            .ok_or_else(|| ApiError::NotFound(format!("no model named '{model}'")))?;
        if let Some(v) = request.version
            && slot.version(v).is_none()
        {
            return Err(ApiError::BadRequest(format!(
                "model '{model}' has no ready version {v}; GET /v1/models/{model} lists them"
            )));
        }
        state.registry.pin(&model, request.version);
        Ok(Json(json!({
            "model": model,
            "pinned": request.version,
            "serving": slot.serving().map(|v| v.version),
        })))
    })
    .await
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

async fn counted<T>(
    state: &AppState,
    work: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    work.await.inspect_err(|e| state.metrics.error(e.kind()))
}
