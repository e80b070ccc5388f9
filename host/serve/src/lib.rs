//! `edgescore serve`: a registry of scorer components behind the Open
//! Inference Protocol and a simple JSON API, with hot swap.
//!
//! - [`registry`]: the folder of models and versions, validation, and which
//!   route serves (an atomic pointer per model);
//! - [`routing`]: a route (primary, canary share, shadow) and the split;
//! - [`registry_watch`]: file-system events and polling that keep it in step;
//! - [`loaded_version`]: one validated version and its warm instances;
//! - [`app`]: the HTTP router and what its routes share;
//! - [`open_inference`], [`simple_api`], [`listing`], [`admin`]: the routes;
//!   their bodies are decoded by `edgescore_protocol` (rows counted as they
//!   are read);
//! - [`schema`]: what a version's clients send, compared before a swap;
//! - [`metrics`]: Prometheus metrics; [`names`]: valid model names and versions;
//! - [`dashboard`]: the analyst dashboard at `/`, its summary
//!   (`/v1/dashboard`) and live alert feed (`/v1/events`, [`live_feed`]),
//!   with recent latencies from [`latency_ring`].

pub mod admin;
pub mod admin_tokens;
pub mod alerts;
pub mod api_error;
pub mod app;
pub mod audit;
pub mod batching;
pub mod config;
pub mod dashboard;
pub mod demo_page;
pub mod drift;
pub mod error;
pub mod latency_ring;
pub mod listing;
pub mod live_feed;
pub mod loaded_version;
pub mod metrics;
pub mod model_serving;
pub mod names;
pub mod open_inference;
pub mod pipeline_api;
pub mod redis_store;
pub mod registry;
pub mod registry_watch;
pub mod rollout;
pub mod routing;
pub mod schema;
pub mod scoring;
pub mod signatures;
pub mod simple_api;
pub mod version_scorer;
pub mod webhook;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};

pub use config::ServeConfig;
pub use error::ServeError;

use app::AppState;
use edgescore_runtime::compiled_cache::CompiledCache;
use edgescore_runtime::engine::ScoringEngine;
use edgescore_runtime::feature_store::{EmbeddedStore, FeatureStore};
use metrics::Metrics;
use redis_store::RedisStore;
use registry::{Registry, RegistryConfig};
use registry_watch::RegistryWatch;

/// The demo model the embedded default registry serves.
/// The fraud example pipeline, embedded: the demo `edgescore serve` serves.
const DEMO_PIPELINE: &str = include_str!("../../../examples/fraud/pipeline.toml");
const DEMO_TRANSFORM: &str = include_str!("../../../examples/fraud/transform.toml");
const DEMO_MODEL: &[u8] = include_bytes!("../../../examples/fraud/model/xgboost.json");
/// Its reference profile (`edgescore profile` on the training data): the
/// demo watches drift out of the box.
const DEMO_PROFILE: &str = include_str!("../../../examples/fraud/profile.json");
/// Its name in the registry.
pub const DEMO_NAME: &str = "fraud";
/// One transaction, as the printed `curl` line sends it.
const DEMO_TRANSACTION: &str = r#"{"transactions": [{"timestamp": "2026-03-01T03:12:00Z", "card_id": "c00042", "amount": 1450.0, "merchant_id": "m40511", "merchant_category": "electronics", "channel": "online", "country": "NG", "home_country": "US", "device_id": "x91"}]}"#;

/// The trust roots of `files`; `None` (and a loud warning) when there are
/// none, as signatures are then not checked.
pub fn load_trust(
    files: &[PathBuf],
) -> Result<Option<Arc<edgescore_trust::TrustStore>>, ServeError> {
    if files.is_empty() {
        tracing::warn!("{}", signatures::UNCHECKED_WARNING);
        return Ok(None);
    }
    let trust = edgescore_trust::TrustStore::load(files).map_err(ServeError::Trust)?;
    tracing::info!(
        "signatures checked: a version loads only if signed by one of the keys {}",
        trust.key_ids().join(", ")
    );
    Ok(Some(Arc::new(trust)))
}

/// Runs the server until SIGTERM or Ctrl-C, then drains in-flight requests.
///
/// The address is taken first: a port already in use is reported before
/// anything else is done (building the demo, validating the registry).
pub fn run(config: ServeConfig) -> Result<(), ServeError> {
    config.validate_models()?;
    let listener = std::net::TcpListener::bind(config.listen)
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
    let (root, _demo_dir) = match &config.registry {
        Some(root) => {
            if !root.is_dir() {
                return Err(ServeError::RegistryNotAFolder(root.clone()));
            }
            (root.clone(), None)
        }
        None => {
            let dir = demo_registry()?;
            (dir.path().to_owned(), Some(dir))
        }
    };
    let engine = Arc::new(ScoringEngine::new(config.limits()).map_err(ServeError::Engine)?);
    let cache = (!config.no_cache).then(|| {
        CompiledCache::new(
            config
                .cache_dir
                .clone()
                .unwrap_or_else(CompiledCache::default_dir),
        )
    });
    let metrics = Arc::new(Metrics::default());
    let admin_tokens = config.admin_tokens()?;
    let trust = load_trust(&config.trust)?;
    metrics.set_signatures_checked(trust.is_some());
    let audit = match &config.audit_log {
        None => audit::Audit::default(),
        Some(path) => {
            audit::Audit::to_log(edgescore_trust::AuditLog::open(path).map_err(ServeError::Audit)?)
        }
    };
    audit.record(
        audit::actor::SERVER,
        edgescore_trust::AuditAction::Startup,
        None,
        None,
        serde_json::json!({
            "edgescore": env!("CARGO_PKG_VERSION"),
            "registry": root.display().to_string(),
            "trusted_keys": trust.as_ref().map(|t| t.key_ids()),
            "admin_tokens": admin_tokens.names(),
        }),
    );
    let registry = Arc::new(Registry::new(
        RegistryConfig {
            root: root.clone(),
            settle: config.settle(),
            feature_store: Some(feature_store(
                &config.feature_store,
                config.limits().call_deadline,
            )?),
            serving: config.models.clone(),
            drift: config.drift,
            trust,
            audit: audit.clone(),
        },
        engine,
        cache,
        metrics.clone(),
    ));
    let state = Arc::new(AppState {
        registry: registry.clone(),
        metrics,
        admin_tokens,
        audit,
        max_body_bytes: config.max_body_bytes,
        request_limits: config.request_limits(),
        body_timeout: config.body_timeout(),
        ready: AtomicBool::new(false),
        canary_max_error_rate: config.canary_max_error_rate,
        canary_min_requests: config.canary_min_requests,
        shadow_in_flight: AtomicUsize::new(0),
        alerts: Some(alerts::Alerts::start(config.alert_config()).map_err(ServeError::Alerts)?),
        cpu_turns: AppState::one_turn_per_core(),
        latency: latency_ring::LatencyRings::default(),
        started: std::time::Instant::now(),
    });

    tracing::info!("loading the registry {}", root.display());
    registry.scan(true);
    for slot in registry.models() {
        match slot.serving() {
            Some(v) => tracing::info!("model {}: serving version {}", slot.name, v.version),
            None => tracing::info!("model {}: no valid version", slot.name),
        }
    }
    state.set_ready();

    let watch = RegistryWatch::start(registry.clone(), config.poll_interval())
        .map_err(ServeError::Watch)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let served = runtime.block_on(serve(listener, config.header_timeout(), state));
    drop(watch);
    served
}

async fn serve(
    listener: std::net::TcpListener,
    header_timeout: std::time::Duration,
    state: Arc<AppState>,
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::from_std(listener).map_err(ServeError::Runtime)?;
    let addr = listener.local_addr().map_err(ServeError::Runtime)?;
    let url = format!("http://{addr}");
    // The URL line is what scripts and tests wait for: standard output.
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let example_model = state
            .registry
            .models()
            .first()
            .map_or_else(|| DEMO_NAME.to_owned(), |m| m.name.clone());
        let _ = writeln!(out, "edgescore serving on {url}");
        if example_model == DEMO_NAME {
            let _ = writeln!(
                out,
                "try: curl -s {url}/v1/pipelines/{DEMO_NAME}/score -H 'content-type: application/json' -d '{DEMO_TRANSACTION}'"
            );
            let _ = writeln!(
                out,
                "or open {url}/demo/ (transactions scored in the page and by this server, side by side)"
            );
        } else {
            let _ = writeln!(out, "try: curl -s {url}/v2/models/{example_model}");
        }
        let _ = writeln!(
            out,
            "the dashboard: {url}/ (live alerts, decisions, drift, latency, models)"
        );
        let _ = out.flush();
    }
    let feed = state.alerts.as_ref().map(|a| a.feed.clone());
    let close_feed = move || {
        if let Some(feed) = feed {
            feed.close();
        }
    };
    accept_until_shutdown(listener, app::router(state), header_timeout, close_feed).await;
    tracing::info!("stopped after draining in-flight requests");
    Ok(())
}

/// How long shutdown waits for in-flight requests before giving up on them.
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves HTTP/1.1 connections (keep-alive, no Nagle delay, a deadline for
/// each request's headers) until SIGTERM or Ctrl-C, then stops accepting,
/// calls `on_shutdown` (which ends endless responses: the live feed) and
/// lets the open connections finish their requests.
pub async fn accept_until_shutdown(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    header_timeout: std::time::Duration,
    on_shutdown: impl FnOnce(),
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, say: wait, do not spin.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let mut http = hyper::server::conn::http1::Builder::new();
                http.timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(header_timeout)
                    .keep_alive(true);
                let connection = http.serve_connection(
                    hyper_util::rt::TokioIo::new(stream),
                    hyper_util::service::TowerToHyperService::new(router.clone()),
                );
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    on_shutdown();
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_LIMIT) => {
            tracing::warn!("some connections were still busy after 30 s; stopping anyway");
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}

/// The prefix of demo registry folders in the temporary folder.
const DEMO_PREFIX: &str = "edgescore-demo-registry-";

/// A temporary registry holding the fraud example pipeline as version 1,
/// from the sources embedded in the binary (built when the registry loads it).
///
/// It is removed when the server stops. A server that crashed cannot
/// remove its own, so the folder's name carries its owner
/// (`edgescore-demo-registry-<pid>-<start time>-<random>`) and each demo
/// server first removes those of owners that are gone
/// ([`remove_stale_demo_registries`]).
fn demo_registry() -> Result<tempfile::TempDir, ServeError> {
    let temp = std::env::temp_dir();
    remove_stale_demo_registries(&temp);
    let pid = std::process::id();
    let prefix = match process_start(pid) {
        Some(start) => format!("{DEMO_PREFIX}{pid}-{start}-"),
        None => DEMO_PREFIX.to_owned(),
    };
    let dir = tempfile::Builder::new()
        .prefix(&prefix)
        .tempdir_in(&temp)
        .map_err(|source| ServeError::DemoRegistry {
            path: temp.clone(),
            source,
        })?;
    let version_dir: PathBuf = dir.path().join(DEMO_NAME).join("1");
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(version_dir.join("model"))?;
        std::fs::write(version_dir.join("transform.toml"), DEMO_TRANSFORM)?;
        std::fs::write(version_dir.join("model").join("xgboost.json"), DEMO_MODEL)?;
        std::fs::write(
            version_dir.join(edgescore_runtime::pipeline::DEFAULT_PROFILE_FILE),
            DEMO_PROFILE,
        )?;
        std::fs::write(
            version_dir.join(edgescore_runtime::pipeline::PIPELINE_FILE),
            DEMO_PIPELINE,
        )
    };
    write().map_err(|source| ServeError::DemoRegistry {
        path: dir.path().to_owned(),
        source,
    })?;
    tracing::info!("building the demo fraud pipeline (transform and model) into components");
    Ok(dir)
}

/// Removes the demo registries in `temp` whose owner (the pid and start
/// time in the name) is no longer running: left by a server that crashed
/// or was killed. Only this user's folders are touched, and nothing at all
/// where processes cannot be looked up (no `/proc`).
#[cfg(unix)]
fn remove_stale_demo_registries(temp: &std::path::Path) {
    use std::os::unix::fs::MetadataExt as _;
    // `/proc/self` belongs to this process's user.
    let Ok(me) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(|n| n.strip_prefix(DEMO_PREFIX)) else {
            continue;
        };
        let mut parts = owner.splitn(3, '-');
        let (Some(Ok(pid)), Some(Ok(start))) = (
            parts.next().map(str::parse::<u32>),
            parts.next().map(str::parse::<u64>),
        ) else {
            continue;
        };
        let path = entry.path();
        let ours = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir() && m.uid() == me);
        if !ours || process_start(pid) == Some(start) {
            continue;
        }
        match std::fs::remove_dir_all(&path) {
            Ok(()) => tracing::info!(
                "removed {}, the demo registry of a server that is gone (pid {pid})",
                path.display()
            ),
            Err(e) => tracing::warn!(
                "cannot remove {}, the demo registry of a server that is gone: {e}",
                path.display()
            ),
        }
    }
}

/// Elsewhere no owner can be looked up, so nothing is removed.
#[cfg(not(unix))]
fn remove_stale_demo_registries(_temp: &std::path::Path) {}

/// When process `pid` started (clock ticks after boot: field 22 of
/// `/proc/<pid>/stat`), which tells it from a later process given the same
/// pid. `None` when it is not running or `/proc` is not there.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces and
    // parentheses itself: the fields after it follow the last ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// The feature store `spec` names: `embedded` or a Redis URL. A Redis
/// call inside a component call waits at most half of `call_deadline`, so a
/// stalled Redis fails the call as unavailable (503) before the deadline
/// interrupts the component.
pub fn feature_store(
    spec: &str,
    call_deadline: std::time::Duration,
) -> Result<Arc<dyn FeatureStore>, ServeError> {
    match spec {
        "embedded" | "" => Ok(Arc::new(EmbeddedStore::default())),
        url if url.starts_with("redis://") || url.starts_with("rediss://") => {
            let options = redis_store::RedisOptions {
                timeout: call_deadline / 2,
                ..redis_store::RedisOptions::default()
            };
            Ok(Arc::new(RedisStore::connect_with(url, options).map_err(
                |source| ServeError::FeatureStore {
                    url: url.to_owned(),
                    source,
                },
            )?))
        }
        other => Err(ServeError::UnknownFeatureStore(other.to_owned())),
    }
}
