//! The analyst dashboard: `GET /` serves a page (`host/serve/dashboard/`,
//! embedded in the binary with the uPlot chart library it draws with, so it
//! works offline and fetches nothing from another origin) that shows, for
//! the server or the stream that serves it:
//!
//! - the live alert feed, from `GET /v1/events` ([`crate::live_feed`]);
//! - per pipeline: decisions (since start, and in the drift window against
//!   the reference), the score histogram against the reference, drift per
//!   feature with its state, latency p50/p99;
//! - per model: the serving version, canary and shadow, and recent swaps;
//! - for a stream: consumer lag per partition.
//!
//! It polls `GET /v1/dashboard` ([`summary`]) every second. The stream
//! serves the same page and routes on its `--metrics-listen` address, with
//! a summary of its own built from the same parts ([`pipeline_json`],
//! [`models_json`], [`swaps_json`], [`feed_json`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use edgescore_drift::DriftReport;
use edgescore_runtime::feature_store::now_ms;

use crate::api_error::ApiError;
use crate::app::AppState;
use crate::latency_ring::{LatencyRings, Percentiles};
use crate::live_feed::LiveFeed;
use crate::registry::Registry;

/// The page's files (from `host/serve/dashboard/`), by name, with their
/// content type. uPlot is vendored: see `dashboard/README.md`.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../dashboard/index.html"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../dashboard/dashboard.js"),
    ),
    (
        "dashboard.css",
        "text/css; charset=utf-8",
        include_bytes!("../dashboard/dashboard.css"),
    ),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../dashboard/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../dashboard/uPlot.min.css"),
    ),
    (
        "uPlot.LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../dashboard/uPlot.LICENSE"),
    ),
];

/// `GET /` (the page) and `GET /dashboard/{file}` (its scripts and
/// styles), for any router: the server's and the stream's.
pub fn page_routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/", get(index))
        .route("/dashboard/{file}", get(file))
}

async fn index() -> Response {
    file(Path(String::from("index.html"))).await
}

async fn file(Path(name): Path<String>) -> Response {
    let Some((_, kind, bytes)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return ApiError::NotFound(format!("the dashboard has no file '{name}'")).into_response();
    };
    let mut response = (StatusCode::OK, *bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // The page is part of the binary: a new binary may bring a new page.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /v1/events`: the live alert feed (server-sent events, see
/// [`crate::live_feed`]).
pub async fn events(State(state): State<Arc<AppState>>) -> Response {
    match &state.alerts {
        Some(alerts) => alerts.feed.sse().into_response(),
        None => ApiError::NotFound("this server sends no alerts, so it has no feed".into())
            .into_response(),
    }
}

/// `GET /v1/dashboard`: what the dashboard shows, now.
///
/// ```json
/// {
///   "source": "serve",                  // or "stream"
///   "now": "2026-03-01T03:12:00.000Z",
///   "uptime_seconds": 812.4,
///   "pipelines": [{
///     "name": "fraud",
///     "version": 1,                     // a pipeline folder streamed: its model's hash prefix
///     "decisions": {"allow": 9120, "review": 41, "block": 12},  // since start
///     "latency": {"requests": 1024, "p50_ms": 0.9, "p99_ms": 3.1},  // the last requests; null before one
///     "latency_of": "request",          // the stream: "broker to commit", per message
///     "drift": { ... }                  // GET /v1/pipelines/fraud/drift's report; null without a profile
///   }],
///   "models": [{                        // every model and pipeline of the registry
///     "name": "fraud", "kind": "pipeline",   // "model", "pipeline"; null while nothing serves
///     "serving": 1,                     // null when nothing serves
///     "canary": {"version": 2, "percent": 10},  // or null
///     "shadow": 3,                      // or null
///     "latency": {"requests": 1024, "p50_ms": 0.9, "p99_ms": 3.1}
///   }],
///   "swaps": [{"at": "...", "model": "fraud", "from": 1, "to": 2,
///              "route": "version 2, canary 3 at 10%"}],   // newest first, at most 50
///   "feed": {"subscribers": 1, "dropped": 0},  // pages on /v1/events; alerts they missed
///   "stream": null                      // the stream: {"topic", "group", "partitions": [{"partition", "lag"}],
///                                       //   "last_batch", "batches", "dead_letters"}
/// }
/// ```
pub async fn summary(State(state): State<Arc<AppState>>) -> Json<Value> {
    let now = now_ms();
    let pipelines: Vec<Value> = state
        .registry
        .models()
        .iter()
        .filter_map(|slot| {
            let version = slot.serving()?;
            version.pipeline()?;
            Some(pipeline_json(
                &slot.name,
                json!(version.version),
                &state.metrics.decisions(&slot.name),
                state.latency.percentiles(&slot.name),
                "request",
                version.drift.as_ref().map(|d| d.monitor.report(now)),
            ))
        })
        .collect();
    let feed = state.alerts.as_ref().map(|a| feed_json(&a.feed));
    Json(json!({
        "source": "serve",
        "now": edgescore_models::transform::format_rfc3339_ms(now),
        "uptime_seconds": state.started.elapsed().as_secs_f64(),
        "pipelines": pipelines,
        "models": models_json(&state.registry, &state.latency),
        "swaps": swaps_json(Some(&state.registry)),
        "feed": feed,
        "stream": null,
    }))
}

/// One pipeline's entry of the summary (see [`summary`]).
pub fn pipeline_json(
    name: &str,
    version: Value,
    decisions: &BTreeMap<&'static str, u64>,
    latency: Option<Percentiles>,
    latency_of: &str,
    drift: Option<DriftReport>,
) -> Value {
    let decisions: BTreeMap<&str, u64> = ["allow", "review", "block"]
        .into_iter()
        .map(|d| (d, decisions.get(d).copied().unwrap_or(0)))
        .collect();
    json!({
        "name": name,
        "version": version,
        "decisions": decisions,
        "latency": latency,
        "latency_of": latency_of,
        "drift": drift,
    })
}

/// Every model of `registry`: kind, serving version, canary, shadow and
/// recent latency (see [`summary`]).
pub fn models_json(registry: &Registry, latency: &LatencyRings) -> Value {
    registry
        .models()
        .iter()
        .map(|slot| {
            let route = slot.route();
            let kind = route.as_ref().map(|r| {
                if r.primary.pipeline().is_some() {
                    "pipeline"
                } else {
                    "model"
                }
            });
            json!({
                "name": slot.name,
                "kind": kind,
                "serving": route.as_ref().map(|r| r.primary.version),
                "canary": route.as_ref().and_then(|r| r.canary.as_ref()).map(|c| json!({
                    "version": c.version.version,
                    "percent": c.percent,
                })),
                "shadow": route.as_ref().and_then(|r| r.shadow.as_ref()).map(|s| s.version),
                "latency": latency.percentiles(&slot.name),
            })
        })
        .collect()
}

/// The registry's recent route changes, newest first (none without a
/// registry).
pub fn swaps_json(registry: Option<&Registry>) -> Value {
    let mut swaps = registry.map(Registry::recent_swaps).unwrap_or_default();
    swaps.reverse();
    json!(swaps)
}

/// How the live feed fares: pages connected, alerts they missed.
pub fn feed_json(feed: &LiveFeed) -> Value {
    json!({ "subscribers": feed.subscribers(), "dropped": feed.dropped() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_file_is_served_with_its_type_and_nothing_else_is() {
        for (name, kind, bytes) in FILES {
            let response = file(Path((*name).to_owned())).await;
            assert_eq!(response.status(), StatusCode::OK, "{name}");
            assert_eq!(response.headers()[header::CONTENT_TYPE], *kind, "{name}");
            assert!(!bytes.is_empty(), "{name}");
        }
        let index = index().await;
        assert_eq!(
            index.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let missing = file(Path("../Cargo.toml".to_owned())).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn the_page_loads_nothing_from_another_origin() {
        let page = FILES
            .iter()
            .find(|(name, _, _)| *name == "index.html")
            .map(|(_, _, bytes)| String::from_utf8_lossy(bytes))
            .expect("the page");
        let references: Vec<&str> = page
            .split(['"', '\''])
            .skip(1)
            .step_by(2)
            .filter(|v| v.contains('/') || v.contains(':'))
            .collect();
        for reference in &references {
            assert!(
                !reference.contains("//") && !reference.starts_with("http"),
                "the page names another origin: {reference}"
            );
        }
        // Its own files, by relative path (the stream serves it too).
        for (name, _, _) in FILES.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            assert!(
                references.contains(&format!("dashboard/{name}").as_str()),
                "{name} is not loaded by the page: {references:?}"
            );
        }
    }
}
