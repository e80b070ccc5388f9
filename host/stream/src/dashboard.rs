//! The dashboard of a stream, on its `--metrics-listen` address: serve's
//! page at `/` ([`edgescore_serve::dashboard`]), the live alert feed at
//! `/v1/events` (each committed batch's review and block alerts and drift
//! crossings, published after the commit) and a `/v1/dashboard` of the
//! stream's own, in serve's format with `"source": "stream"`:
//!
//! - `pipelines`: the one streamed: its version, decisions since start,
//!   latency from the broker's timestamp to the commit (per message, the
//!   last 1024: `"latency_of": "broker to commit"`), its drift report;
//! - `models`, `swaps`: the registry's, when the pipeline comes from one;
//! - `stream`: the topic and group, consumer lag per partition held
//!   (`null` until librdkafka's statistics first report it), the last
//!   batch committed, batches and dead letters since start.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use parking_lot::Mutex;
use serde_json::{Value, json};

use edgescore_runtime::feature_store::now_ms;
use edgescore_serve::dashboard::{feed_json, models_json, pipeline_json, swaps_json};

use crate::kafka::GroupState;
use crate::metrics::{DecisionLabels, OutcomeLabels, StreamMetrics};
use crate::pipelines::Pipelines;

/// What the stream's dashboard reads.
#[derive(Debug)]
pub(crate) struct Dashboard {
    pub(crate) metrics: Arc<StreamMetrics>,
    pub(crate) group: Arc<Mutex<GroupState>>,
    pub(crate) pipelines: Arc<Pipelines>,
    pub(crate) topic: String,
    pub(crate) group_id: String,
}

/// The page, `/v1/dashboard` and `/v1/events`.
pub(crate) fn routes(dashboard: Arc<Dashboard>) -> Router {
    edgescore_serve::dashboard::page_routes()
        .route("/v1/dashboard", get(summary))
        .route("/v1/events", get(events))
        .with_state(dashboard)
}

async fn events(State(dashboard): State<Arc<Dashboard>>) -> impl IntoResponse {
    dashboard.metrics.feed.sse()
}

/// `GET /v1/dashboard` of a stream (see the module's documentation and
/// [`edgescore_serve::dashboard::summary`] for the format).
async fn summary(State(dashboard): State<Arc<Dashboard>>) -> Json<Value> {
    let now = now_ms();
    let m = &dashboard.metrics;
    let serving = dashboard.pipelines.current().ok();
    let pipelines: Vec<Value> = serving
        .iter()
        .map(|s| {
            let decisions = ["allow", "review", "block"]
                .into_iter()
                .map(|decision| {
                    let count = m
                        .decisions
                        .get(&DecisionLabels { decision })
                        .map_or(0, |c| c.get());
                    (decision, count)
                })
                .collect();
            pipeline_json(
                s.name(),
                json!(s.version()),
                &decisions,
                m.recent.percentiles(s.name()),
                "broker to commit",
                s.drift().map(|d| d.monitor.report(now)),
            )
        })
        .collect();
    let registry = dashboard.pipelines.registry();
    let models = match (registry, &serving) {
        (Some(registry), _) => models_json(registry, &m.recent),
        (None, Some(s)) => json!([{
            "name": s.name(),
            "kind": "pipeline",
            "serving": s.version(),
            "canary": null,
            "shadow": null,
            "latency": m.recent.percentiles(s.name()),
        }]),
        (None, None) => json!([]),
    };
    let partitions: Vec<Value> = {
        let group = dashboard.group.lock();
        group
            .assigned
            .iter()
            .map(|p| json!({ "partition": p, "lag": group.lag.get(p) }))
            .collect()
    };
    let last_batch = m.last_batch_unix_ms.load(Ordering::Relaxed);
    let dead_letters = m
        .events
        .get(&OutcomeLabels {
            outcome: "dead_letter",
        })
        .map_or(0, |c| c.get());
    Json(json!({
        "source": "stream",
        "now": edgescore_models::transform::format_rfc3339_ms(now),
        "uptime_seconds": m.started.elapsed().as_secs_f64(),
        "pipelines": pipelines,
        "models": models,
        "swaps": swaps_json(registry.map(|r| &**r)),
        "feed": feed_json(&m.feed),
        "stream": {
            "topic": dashboard.topic,
            "group": dashboard.group_id,
            "partitions": partitions,
            "last_batch": (last_batch > 0).then(|| {
                edgescore_models::transform::format_rfc3339_ms(i64::try_from(last_batch).unwrap_or(i64::MAX))
            }),
            "batches": m.batches.get(),
            "dead_letters": dead_letters,
        },
    }))
}
