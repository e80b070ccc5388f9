//! The repository API of the Open Inference Protocol, edgescore's admin
//! routes (routing: primary, canary, shadow; promote; rollback) and
//! `/metrics`. Everything that changes what serves needs the admin bearer
//! token.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::api_error::ApiError;
use super::app::AppState;
use super::registry::{ModelSlot, Registry, VersionStatus};
use super::routing::{RoutingError, RoutingSpec};
use edgescore_trust::AuditAction;

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
                "signers": r.signers(),
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
        let actor = state.authorize(&headers)?;
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
        record(
            &state,
            &actor,
            AuditAction::Load,
            &model,
            json!({ "asked": "load from disk", "serving": serving.as_ref().map(|v| v.version) }),
        )
        .await;
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
        let actor = state.authorize(&headers)?;
        if !state.registry.unload(&model) {
            return Err(ApiError::NotFound(format!("no model named '{model}'")));
        }
        record(&state, &actor, AuditAction::Unload, &model, json!({})).await;
        Ok(Json(json!({ "model": model, "serving": null })))
    })
    .await
}

/// `GET /admin/models/{model}/routing`: what the routing asks for and what serves.
pub async fn get_routing(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    counted(&state, async {
        state.authorize(&headers)?;
        routing_answer(&state, &model)
    })
    .await
}

/// `POST /admin/models/{model}/routing` with
/// `{"primary": 3, "canary": {"version": 4, "percent": 10}, "shadow": 5,
/// "allow_schema_change": true}` (each optional): replaces the routing,
/// written to the model's `routing.toml` before the answer.
pub async fn set_routing(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    counted(&state, async {
        let actor = state.authorize(&headers)?;
        let body = state.read_body(body).await?;
        let spec: RoutingSpec = serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadRequest(format!(
                "expected {{\"primary\": <n>?, \"canary\": {{\"version\": <n>, \"percent\": <0-100>}}?, \"shadow\": <n>?, \"allow_schema_change\": <bool>?}}: {e}"
            ))
        })?;
        state.slot(&model)?;
        change_routing(&state, &model, move |registry, name| {
            registry.set_routing(name, spec)
        })
        .await?;
        let answer = routing_answer(&state, &model)?;
        record(&state, &actor, AuditAction::Routing, &model, answer.0.clone()).await;
        Ok(answer)
    })
    .await
}

/// `POST /admin/models/{model}/promote`: the canary becomes the primary.
pub async fn promote(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    routing_action(
        &state,
        &model,
        &headers,
        AuditAction::Promote,
        Registry::promote,
    )
    .await
}

/// `POST /admin/models/{model}/rollback`: ends the canary, or without one
/// serves the previous ready version.
pub async fn rollback(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    routing_action(
        &state,
        &model,
        &headers,
        AuditAction::Rollback,
        Registry::rollback,
    )
    .await
}

/// Runs an authorized routing change on a model that is serving, and
/// answers with the routing that results.
async fn routing_action(
    state: &AppState,
    model: &str,
    headers: &HeaderMap,
    audited_as: AuditAction,
    action: fn(&Registry, &str) -> Result<(), RoutingError>,
) -> Result<Json<Value>, ApiError> {
    counted(state, async {
        let actor = state.authorize(headers)?;
        state.find_version(model, None)?;
        change_routing(state, model, action).await?;
        let answer = routing_answer(state, model)?;
        record(state, &actor, audited_as, model, answer.0.clone()).await;
        Ok(answer)
    })
    .await
}

/// Records what an admin changed, with who, before it is answered
/// (synced off the async workers).
async fn record(state: &AppState, actor: &str, action: AuditAction, model: &str, details: Value) {
    if !state.audit.is_on() {
        return;
    }
    let (audit, actor, model) = (state.audit.clone(), actor.to_owned(), model.to_owned());
    let serving = state.registry.model(&model).and_then(|s| s.serving());
    let version = serving.as_ref().map(|v| v.version);
    let details = json!({
        "change": details,
        "primary": serving.as_deref().map(super::audit::version_details),
    });
    let recorded = tokio::task::spawn_blocking(move || {
        audit.record(&actor, action, Some(&model), version, details);
    })
    .await;
    if let Err(e) = recorded {
        tracing::error!("audit log: the {action:?} entry failed: {e}");
    }
}

/// Runs a routing change off the async workers (it writes and syncs the
/// routing file before it answers).
async fn change_routing(
    state: &AppState,
    model: &str,
    change: impl FnOnce(&Registry, &str) -> Result<(), RoutingError> + Send + 'static,
) -> Result<(), ApiError> {
    let (registry, name) = (state.registry.clone(), model.to_owned());
    tokio::task::spawn_blocking(move || change(&registry, &name))
        .await
        .map_err(|e| ApiError::Unavailable(format!("the routing change failed: {e}")))?
        .map_err(|e| match e {
            RoutingError::Refused(why) => ApiError::BadRequest(why),
            RoutingError::NotPersisted(_) => ApiError::Unavailable(e.to_string()),
        })
}

fn routing_answer(state: &AppState, model: &str) -> Result<Json<Value>, ApiError> {
    let slot = state.slot(model)?;
    Ok(Json(routing_json(&slot)))
}

/// What a model's routing asks for and what serves: the answer of the
/// routing routes, and the start of `GET /v1/models/<m>`.
pub(super) fn routing_json(slot: &ModelSlot) -> Value {
    let route = slot.route();
    let (routing, routing_error) = slot.routing();
    json!({
        "model": slot.name,
        "routing": routing,
        "routing_error": routing_error,
        "serving": route.as_ref().map(|r| r.primary.version),
        "canary": route.as_ref().and_then(|r| r.canary.as_ref()).map(|c| json!({ "version": c.version.version, "percent": c.percent })),
        "shadow": route.as_ref().and_then(|r| r.shadow.as_ref()).map(|s| s.version),
    })
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut text = state.metrics.render();
    if let Some(alerts) = &state.alerts {
        text.push_str(&super::metrics::Metrics::render_alerts(&alerts.counters));
    }
    if state.audit.is_on() {
        text.push_str(&super::metrics::Metrics::render_audit(
            state.audit.failures(),
        ));
    }
    if let Some(usage) = state.registry.feature_store().and_then(|s| s.usage()) {
        text.push_str(&super::metrics::Metrics::render_store(usage));
    }
    let mut response = text.into_response();
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
