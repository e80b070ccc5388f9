//! The HTTP application: shared state, the router, and what every scoring
//! route shares (reading a bounded body, finding the version, scoring in
//! deadline-sized calls).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody as _};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use subtle::ConstantTimeEq;

use super::api_error::ApiError;
use super::loaded_version::LoadedVersion;
use super::metrics::Metrics;
use super::registry::{ModelSlot, Registry};
use super::routing::Route;
use super::{admin, listing, open_inference, pipeline_api, simple_api};

/// Requests with more rows than this are scored off the async workers.
const INLINE_ROWS: usize = 64;

/// Shadow calls in flight at once; beyond it a shadow call is skipped
/// (and counted), so a slow shadow can never hold up the primary.
const MAX_SHADOW_IN_FLIGHT: usize = 64;

/// Scores closer than this count as agreeing, shadow against primary.
const SHADOW_TOLERANCE: f64 = 1e-6;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub registry: Arc<Registry>,
    pub metrics: Arc<Metrics>,
    /// The admin bearer token; admin routes answer 401 when it is `None`.
    pub admin_token: Option<String>,
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
}

/// Where one request is scored: the version, and the route it came from
/// when the server chose it (not when the client named a version).
#[derive(Debug, Clone)]
pub struct Target {
    pub version: Arc<LoadedVersion>,
    route: Option<Arc<Route>>,
    canary: bool,
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
        .route(
            "/admin/models/{model}/routing",
            get(admin::get_routing).post(admin::set_routing),
        )
        .route("/admin/models/{model}/promote", post(admin::promote))
        .route("/admin/models/{model}/rollback", post(admin::rollback))
        .route("/metrics", get(admin::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
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
        match tokio::time::timeout(self.body_timeout, axum::body::to_bytes(body, limit)).await {
            Err(_) => Err(ApiError::Timeout {
                seconds: self.body_timeout.as_secs(),
            }),
            Ok(Err(e)) => {
                // `to_bytes` reports a body over the limit as http-body-util's
                // `LengthLimitError`, whose message is this.
                if e.to_string().contains("length limit exceeded") {
                    Err(ApiError::TooLarge { limit })
                } else {
                    Err(ApiError::BadRequest(format!(
                        "could not read the request body: {e}"
                    )))
                }
            }
            Ok(Ok(bytes)) => Ok(bytes),
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

    /// Where a request for `model` goes: the version the client named, or
    /// the serving route's pick for `key` (canary or primary).
    pub fn target(
        &self,
        model: &str,
        version: Option<&str>,
        key: Option<&str>,
    ) -> Result<Target, ApiError> {
        if version.is_some() {
            return Ok(Target {
                version: self.find_version(model, version)?,
                route: None,
                canary: false,
            });
        }
        let slot = self.slot(model)?;
        let route = slot.route().ok_or_else(|| {
            ApiError::NotReady(format!(
                "model '{model}' has no version serving (none valid, or unloaded); GET /v1/models/{model} shows why"
            ))
        })?;
        let (version, canary) = route.pick(key);
        Ok(Target {
            version: version.clone(),
            canary,
            route: Some(route.clone()),
        })
    }

    /// Checks the admin bearer token in constant time.
    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(expected) = &self.admin_token else {
            return Err(ApiError::AdminDisabled);
        };
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            Ok(())
        } else {
            Err(ApiError::Unauthorized)
        }
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

/// Scores row-major `rows` with the target's version, in calls that each
/// fit the call deadline (`edgescore_runtime::call_budget`), off the async workers when
/// the request is large.
/// Records the request in the metrics, counts a canary's failures (rolling
/// it back when they cross the threshold) and hands the rows to the shadow.
pub async fn score_rows(
    state: &Arc<AppState>,
    target: Target,
    rows: Vec<f64>,
    endpoint: &'static str,
) -> Result<Vec<f64>, ApiError> {
    score_rows_with(state, target, rows, endpoint, false)
        .await
        .map(|scored| scored.scores)
}

/// Scores and, when asked, each row's contributions (one per feature, then
/// the bias).
#[derive(Debug)]
pub struct Scored {
    pub scores: Vec<f64>,
    pub contributions: Option<Vec<Vec<f64>>>,
}

/// [`score_rows`], with each row's contributions when `contributions`.
pub async fn score_rows_with(
    state: &Arc<AppState>,
    target: Target,
    rows: Vec<f64>,
    endpoint: &'static str,
    contributions: bool,
) -> Result<Scored, ApiError> {
    let started = Instant::now();
    let version = target.version.clone();
    let shadow = target.route.as_ref().and_then(|r| r.shadow.clone());
    let shadow_rows = shadow.as_ref().map(|_| rows.clone());
    let result = score_blocking_if_large(state, version.clone(), rows, contributions).await;

    if target.canary
        && let (Some(route), Some(canary)) = (
            &target.route,
            target.route.as_ref().and_then(|r| r.canary.as_ref()),
        )
    {
        let failed = matches!(result, Err(ApiError::Model(_)));
        let (requests, failures) = canary.record(failed);
        if requests >= state.canary_min_requests
            && failures as f64 > state.canary_max_error_rate * requests as f64
        {
            super::log(&format!(
                "model {}: canary version {} failed {failures} of {requests} requests; rolling it back",
                version.model, version.version
            ));
            let (registry, route, model) =
                (state.registry.clone(), route.clone(), version.model.clone());
            tokio::task::spawn_blocking(move || registry.rollback_canary_of(&model, &route));
        }
    }
    let scored = result?;
    state.metrics.scored(
        &version.model,
        version.version,
        endpoint,
        started.elapsed(),
        &scored.scores,
        version.idle_instances(),
    );
    if let (Some(shadow), Some(rows)) = (shadow, shadow_rows) {
        run_shadow(state, shadow, rows, scored.scores.clone());
    }
    Ok(scored)
}

async fn score_blocking_if_large(
    state: &AppState,
    version: Arc<LoadedVersion>,
    rows: Vec<f64>,
    with_contributions: bool,
) -> Result<Scored, ApiError> {
    let width = version.manifest().features.len();
    let large = rows.len() > INLINE_ROWS * width;
    let score = move || -> Result<Scored, ApiError> {
        if with_contributions {
            let (scores, contributions) = version.score_with_contributions(&rows)?;
            return Ok(Scored {
                scores,
                contributions: Some(contributions),
            });
        }
        Ok(Scored {
            scores: version.score(&rows)?,
            contributions: None,
        })
    };
    if large {
        state.run_heavy(score).await
    } else {
        score()
    }
}

/// Scores `rows` with the shadow version off the request path and records
/// how its scores compare with the primary's. Never affects the response.
fn run_shadow(
    state: &Arc<AppState>,
    shadow: Arc<LoadedVersion>,
    rows: Vec<f64>,
    primary: Vec<f64>,
) {
    let model = shadow.model.clone();
    if state.shadow_in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_SHADOW_IN_FLIGHT {
        state.shadow_in_flight.fetch_sub(1, Ordering::AcqRel);
        state.metrics.shadow_failed(&model, true);
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        match score_blocking_if_large(&state, shadow, rows, false).await {
            Ok(Scored { scores, .. }) if scores.len() == primary.len() => {
                let diffs = scores.iter().zip(&primary).map(|(a, b)| (a - b).abs());
                let disagreed = diffs
                    .clone()
                    .filter(|d| d.is_nan() || *d > SHADOW_TOLERANCE)
                    .count();
                let max = diffs.fold(0.0, f64::max);
                state
                    .metrics
                    .shadow_compared(&model, scores.len(), disagreed, max);
            }
            _ => state.metrics.shadow_failed(&model, false),
        }
        state.shadow_in_flight.fetch_sub(1, Ordering::AcqRel);
    });
}
