//! The HTTP application: shared state, the router, and what every route
//! shares (reading a bounded body, finding the version, admin auth). The
//! scoring path with its rollout effects is [`crate::scoring`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody as _};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt as _;

use super::api_error::ApiError;
use super::loaded_version::LoadedVersion;
use super::metrics::Metrics;
use super::registry::{ModelSlot, Registry};
use super::{admin, dashboard, demo_page, listing, open_inference, pipeline_api, simple_api};

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub registry: Arc<Registry>,
    pub metrics: Arc<Metrics>,
    /// The admin bearer tokens, by name; with none, admin routes answer
    /// that they are disabled.
    pub admin_tokens: super::admin_tokens::AdminTokens,
    /// Where admin calls and what they changed are recorded.
    pub audit: super::audit::Audit,
    pub max_body_bytes: usize,
    /// Rows, transactions, text and fields one request may carry.
    pub request_limits: super::config::RequestLimits,
    pub body_timeout: Duration,
    /// Set once the first registry scan has finished.
    pub ready: AtomicBool,
    pub canary_max_error_rate: f64,
    pub canary_min_requests: u64,
    pub shadow_in_flight: AtomicUsize,
    /// Where pipelines' review and block decisions go.
    pub alerts: Option<super::alerts::Alerts>,
    /// Turns for CPU-heavy calls (large batches, TreeSHAP reasons), one per
    /// core: more would time-slice each other past their call deadline.
    pub cpu_turns: tokio::sync::Semaphore,
    /// Recent request durations per model and pipeline (the dashboard's
    /// p50 and p99).
    pub latency: super::latency_ring::LatencyRings,
    /// When the server started.
    pub started: std::time::Instant,
}

/// The router with every route of the server.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v2", get(open_inference::server_metadata))
        .route("/v2/health/live", get(open_inference::live))
        .route("/v2/health/ready", get(open_inference::ready))
        .route("/v2/models/{model}", get(open_inference::model_metadata))
        .route(
            "/v2/models/{model}/versions/{version}",
            get(open_inference::version_metadata),
        )
        .route("/v2/models/{model}/ready", get(open_inference::model_ready))
        .route(
            "/v2/models/{model}/versions/{version}/ready",
            get(open_inference::version_ready),
        )
        .route("/v2/models/{model}/infer", post(open_inference::infer))
        .route(
            "/v2/models/{model}/versions/{version}/infer",
            post(open_inference::infer_version),
        )
        .route("/v2/repository/index", post(admin::repository_index))
        .route(
            "/v2/repository/models/{model}/load",
            post(admin::repository_load),
        )
        .route(
            "/v2/repository/models/{model}/unload",
            post(admin::repository_unload),
        )
        .route("/v1/models", get(listing::models))
        .route("/v1/models/{model}", get(simple_api::model_status))
        .route("/v1/models/{model}/score", post(simple_api::score))
        .route("/v1/pipelines/{pipeline}", get(listing::pipeline))
        .route("/v1/pipelines/{pipeline}/score", post(pipeline_api::score))
        .route("/v1/pipelines/{pipeline}/drift", get(super::drift::report))
        .route(
            "/admin/models/{model}/routing",
            get(admin::get_routing).post(admin::set_routing),
        )
        .route("/admin/models/{model}/promote", post(admin::promote))
        .route("/admin/models/{model}/rollback", post(admin::rollback))
        .route("/metrics", get(admin::metrics))
        .route("/v1/dashboard", get(dashboard::summary))
        .route("/v1/events", get(dashboard::events))
        .merge(dashboard::page_routes())
        .route("/demo", get(demo_page::redirect))
        .route("/demo/", get(demo_page::index))
        .route("/demo/{*path}", get(demo_page::file))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::audit::record_admin_calls,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            refuse_declared_oversize,
        ))
        .with_state(state)
}

/// Answers 413 to a request whose `Content-Length` is over
/// `max_body_bytes` before anything reads its body, on every route. hyper
/// sends `100 Continue` only when a body is first read, so a client that
/// sent `Expect: 100-continue` gets the 413 instead and never sends the body.
async fn refuse_declared_oversize(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > state.max_body_bytes as u64 => {
            let refused = ApiError::TooLarge {
                limit: state.max_body_bytes,
            };
            state.metrics.error(refused.kind());
            refused.into_response()
        }
        _ => next.run(request).await,
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound(
        "no such route; see GET /v2 for the server and GET /v2/models/<model> for a model".into(),
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

impl AppState {
    /// One turn per core, for [`AppState::cpu_turns`].
    pub fn one_turn_per_core() -> tokio::sync::Semaphore {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        tokio::sync::Semaphore::new(cores)
    }

    /// Runs CPU-heavy `work` on the blocking pool once a core is free. The
    /// wait for a turn is not part of any component call, so it does not
    /// count against the call deadline: under overload requests queue
    /// instead of interrupting each other.
    pub async fn run_heavy<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let _turn = self
            .cpu_turns
            .acquire()
            .await
            .map_err(|_| ApiError::Unavailable("the server is shutting down".into()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| ApiError::Model(format!("a scoring task failed: {e}")))?
    }

    /// Reads a request body of at most `max_body_bytes`, within
    /// `body_timeout`. A body whose declared length is over the limit is
    /// refused before any of it is read.
    pub async fn read_body(&self, body: Body) -> Result<Bytes, ApiError> {
        let limit = self.max_body_bytes;
        if body.size_hint().lower() > limit as u64 {
            return Err(ApiError::TooLarge { limit });
        }
        let limited = http_body_util::Limited::new(body, limit);
        match tokio::time::timeout(self.body_timeout, limited.collect()).await {
            Err(_) => Err(ApiError::Timeout {
                seconds: self.body_timeout.as_secs(),
            }),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                Err(ApiError::TooLarge { limit })
            }
            Ok(Err(e)) => Err(ApiError::BadRequest(format!(
                "could not read the request body: {e}"
            ))),
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
        }
    }

    /// The registry's model `model`.
    pub fn slot(&self, model: &str) -> Result<Arc<ModelSlot>, ApiError> {
        self.registry.model(model).ok_or_else(|| {
            ApiError::NotFound(format!(
                "no model named '{model}' in the registry; POST /v2/repository/index lists them"
            ))
        })
    }

    /// The version to score with: `version` if given (it must be ready),
    /// else the one serving.
    pub fn find_version(
        &self,
        model: &str,
        version: Option<&str>,
    ) -> Result<Arc<LoadedVersion>, ApiError> {
        let slot = self.slot(model)?;
        match version {
            None => slot.serving().ok_or_else(|| {
                ApiError::NotReady(format!(
                    "model '{model}' has no version serving (none valid, or unloaded); POST /v2/repository/index shows why"
                ))
            }),
            Some(text) => {
                let number = super::names::parse_version(text).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "'{text}' is not a version: versions are positive integers"
                    ))
                })?;
                slot.version(number).ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "model '{model}' has no ready version {number}"
                    ))
                })
            }
        }
    }

    /// Checks the admin bearer token in constant time: the name of the
    /// token that authorizes the call (who acts, for the audit log).
    pub fn authorize(&self, headers: &HeaderMap) -> Result<super::admin_tokens::Actor, ApiError> {
        if self.admin_tokens.is_empty() {
            return Err(ApiError::AdminDisabled);
        }
        self.admin_tokens
            .identify(headers)
            .ok_or(ApiError::Unauthorized)
    }

    /// Marks the first registry scan done (readiness needs more: see
    /// [`AppState::readiness`]).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Ready when the first scan is done and every model has a version
    /// serving (models unloaded through the API excepted); otherwise why
    /// not, naming each model and the state of each of its versions.
    pub fn readiness(&self) -> Result<(), String> {
        if !self.ready.load(Ordering::Acquire) {
            return Err("the registry is still loading".to_owned());
        }
        let not_serving = self.registry.not_serving();
        if not_serving.is_empty() {
            Ok(())
        } else {
            Err(not_serving.join("; "))
        }
    }

    pub fn is_ready(&self) -> bool {
        self.readiness().is_ok()
    }
}
