//! The HTTP application: shared state, the router, and what every scoring
//! route shares (reading a bounded body, finding the version, scoring in
//! deadline-sized calls).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use subtle::ConstantTimeEq;

use super::api_error::ApiError;
use super::loaded_version::LoadedVersion;
use super::metrics::Metrics;
use super::registry::Registry;
use super::{admin, open_inference, simple_api};

/// Rows scored per call into a component: each call runs under the call
/// deadline, so a large request is many calls, not one long one.
const ROWS_PER_CALL: usize = 256;

/// Requests with more rows than this are scored off the async workers.
const INLINE_ROWS: usize = 64;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub registry: Arc<Registry>,
    pub metrics: Arc<Metrics>,
    /// The admin bearer token; admin routes answer 401 when it is `None`.
    pub admin_token: Option<String>,
    pub max_body_bytes: usize,
    pub body_timeout: Duration,
    /// Set once the first registry scan has finished.
    pub ready: AtomicBool,
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
        .route("/v1/models/{model}", get(simple_api::model_status))
        .route("/v1/models/{model}/score", post(simple_api::score))
        .route("/admin/models/{model}/pin", post(admin::pin))
        .route("/metrics", get(admin::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
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
    /// Reads a request body of at most `max_body_bytes`, within `body_timeout`.
    pub async fn read_body(&self, body: Body) -> Result<Bytes, ApiError> {
        let limit = self.max_body_bytes;
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

    /// The version to score with: `version` if given (it must be ready),
    /// else the one serving.
    pub fn find_version(
        &self,
        model: &str,
        version: Option<&str>,
    ) -> Result<Arc<LoadedVersion>, ApiError> {
        let slot = self.registry.model(model).ok_or_else(|| {
            ApiError::NotFound(format!(
                "no model named '{model}' in the registry; GET /v2/repository/index lists them (POST)"
            ))
        })?;
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

    /// Marks the server ready (the first scan is done).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// Scores row-major `rows` with `version`, in calls of at most
/// [`ROWS_PER_CALL`] rows, off the async workers when the request is large.
/// Records the request in the metrics.
pub async fn score_rows(
    state: &AppState,
    version: Arc<LoadedVersion>,
    rows: Vec<f32>,
    endpoint: &'static str,
) -> Result<Vec<f64>, ApiError> {
    let started = Instant::now();
    let width = version.manifest().features.len();
    let many = rows.len() > INLINE_ROWS * width;
    let score = {
        let version = version.clone();
        move || -> Result<Vec<f64>, ApiError> {
            let mut scores = Vec::with_capacity(rows.len() / width.max(1));
            for chunk in rows.chunks((ROWS_PER_CALL * width).max(1)) {
                scores.extend(version.score(chunk)?);
            }
            Ok(scores)
        }
    };
    let scores = if many {
        tokio::task::spawn_blocking(score)
            .await
            .map_err(|e| ApiError::Model(format!("scoring task failed: {e}")))??
    } else {
        score()?
    };
    state.metrics.scored(
        &version.model,
        version.version,
        endpoint,
        started.elapsed(),
        &scores,
        version.idle_instances(),
    );
    Ok(scores)
}
