//! The scoring path every scoring route shares: where a request goes (the
//! version a client named, or its route's pick), scoring in deadline-sized
//! calls (off the async workers when large), and the rollout effects of a
//! routed request: canary accounting with automatic rollback, and the
//! shadow comparison. What to do is decided by [`crate::rollout`]'s plain
//! functions; this module only carries it out.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::api_error::ApiError;
use crate::app::AppState;
use crate::loaded_version::LoadedVersion;
use crate::model_serving::Backend;
use crate::rollout::{self, CanaryPolicy, CanaryVerdict};
use crate::routing::Route;

/// Requests with more rows than this are scored off the async workers.
const INLINE_ROWS: usize = 64;

/// Shadow calls in flight at once; beyond it a shadow call is skipped
/// (and counted), so a slow shadow can never hold up the primary.
const MAX_SHADOW_IN_FLIGHT: usize = 64;

/// Where one request is scored: the version, and the route it came from
/// when the server chose it (not when the client named a version).
#[derive(Debug, Clone)]
pub struct Target {
    pub version: Arc<LoadedVersion>,
    route: Option<Arc<Route>>,
    canary: bool,
}

impl AppState {
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
        let policy = CanaryPolicy {
            max_error_rate: state.canary_max_error_rate,
            min_requests: state.canary_min_requests,
        };
        if policy.verdict(requests, failures) == CanaryVerdict::RollBack {
            tracing::warn!(
                "model {}: canary version {} failed {failures} of {requests} requests; rolling it back",
                version.model,
                version.version
            );
            let (registry, route, model) =
                (state.registry.clone(), route.clone(), version.model.clone());
            tokio::task::spawn_blocking(move || registry.rollback_canary_of(&model, &route));
        }
    }
    let scored = result?;
    if endpoint != "pipeline" {
        // A pipeline's request is timed whole, transform included (pipeline_api.rs).
        state.latency.record(&version.model, started.elapsed());
    }
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
    // A version that batches takes requests of up to a batch's rows.
    let rows = if with_contributions {
        rows
    } else {
        match version.submit_to_batch(rows) {
            Ok(pending) => {
                let scores = pending.await.map_err(|_| {
                    ApiError::Model("the batch this request was in was lost".into())
                })??;
                return Ok(Scored {
                    scores,
                    contributions: None,
                });
            }
            Err(rows) => rows,
        }
    };
    let width = version.manifest().features.len();
    // A GPU call waits on the device: never on an async worker.
    let large = rows.len() > INLINE_ROWS * width || version.backend() == Backend::Gpu;
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
        let compared = score_blocking_if_large(&state, shadow, rows, false)
            .await
            .ok()
            .and_then(|scored| rollout::compare_shadow(&scored.scores, &primary));
        match compared {
            Some(c) => state
                .metrics
                .shadow_compared(&model, c.rows, c.disagreed, c.max_diff),
            None => state.metrics.shadow_failed(&model, false),
        }
        state.shadow_in_flight.fetch_sub(1, Ordering::AcqRel);
    });
}
