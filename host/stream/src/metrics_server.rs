//! The stream's side thread: it turns Ctrl-C or SIGTERM into a clean stop
//! (the batch in hand is finished and committed), and with
//! `--metrics-listen` serves `GET /metrics` and the dashboard (`/`,
//! `/v1/dashboard`, `/v1/events`: [`crate::dashboard`]) on serve's own
//! accept loop (a header-read deadline per connection).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::StreamError;
use crate::metrics::StreamMetrics;

/// Binds the listener (a port that cannot be had is refused now) and
/// starts the thread.
pub(crate) fn start(
    listen: Option<SocketAddr>,
    metrics: Arc<StreamMetrics>,
    dashboard: Arc<crate::dashboard::Dashboard>,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, StreamError> {
    let listener = listen
        .map(|addr| {
            std::net::TcpListener::bind(addr)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .map_err(|source| StreamError::Metrics { addr, source })
        })
        .transpose()?;
    if let Some(l) = &listener
        && let Ok(addr) = l.local_addr()
    {
        // What scripts and tests wait for: standard output.
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "edgescore stream metrics on http://{addr}/metrics");
        let _ = out.flush();
        tracing::info!("the stream's dashboard: http://{addr}/");
    }
    std::thread::Builder::new()
        .name("edgescore-stream-signals".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    tracing::warn!("cannot start the metrics and signal thread: {e}");
                    return;
                }
            };
            runtime.block_on(async move {
                let watch = {
                    let stop = stop.clone();
                    async move {
                        edgescore_serve::shutdown_signal().await;
                        stop.store(true, Ordering::Relaxed);
                    }
                };
                match listener.map(tokio::net::TcpListener::from_std) {
                    Some(Ok(listener)) => {
                        let router = Router::new()
                            .route("/metrics", get(render))
                            .with_state(metrics.clone())
                            .merge(crate::dashboard::routes(dashboard));
                        tokio::join!(
                            watch,
                            edgescore_serve::accept_until_shutdown(
                                listener,
                                router,
                                Duration::from_secs(5),
                                move || metrics.feed.close(),
                            )
                        );
                    }
                    Some(Err(e)) => {
                        tracing::warn!("the metrics listener: {e}");
                        watch.await;
                    }
                    None => watch.await,
                }
            });
        })
        .map_err(|e| StreamError::Invalid(format!("cannot start the signal thread: {e}")))
}

async fn render(State(metrics): State<Arc<StreamMetrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
}
