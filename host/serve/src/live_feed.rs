//! The live feed of alerts: `GET /v1/events`, server-sent events, one per
//! alert as it is sent (a review or block decision: `event: alert`; a drift
//! crossing: `event: drift`), the JSON of the alert log's line as `data`.
//! The first event, `event: hello`, says the feed is connected.
//!
//! Alerts are published to a bounded broadcast channel; publishing never
//! waits and costs nothing without subscribers. A subscriber that falls
//! more than [`BACKLOG`] alerts behind misses the oldest of them: it gets
//! an `event: lagged` whose data is how many it missed, and the count is
//! kept ([`LiveFeed::dropped`]), so a slow page never slows scoring.
//! The feed is live only: a page that connects sees alerts from then on
//! (the alert log holds the history). On shutdown every stream ends
//! ([`LiveFeed::close`]), so an open page does not hold up the drain.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast;

/// Alerts a subscriber may be behind before it misses the oldest.
pub const BACKLOG: usize = 1024;

/// One alert on the feed: its SSE event name and its JSON text.
#[derive(Debug, Clone)]
pub struct FeedEvent {
    /// `alert` or `drift`.
    pub kind: &'static str,
    pub data: Arc<str>,
}

/// The sending side of the feed, shared by whatever sends alerts.
#[derive(Debug)]
pub struct LiveFeed {
    sender: broadcast::Sender<FeedEvent>,
    dropped: Arc<AtomicU64>,
    closed: tokio::sync::watch::Sender<bool>,
}

impl Default for LiveFeed {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(BACKLOG);
        Self {
            sender,
            dropped: Arc::new(AtomicU64::new(0)),
            closed: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl LiveFeed {
    /// Publishes one alert (`line`: its JSON on one line): a drift alert
    /// (`"kind": "drift"`) as `event: drift`, anything else as `event:
    /// alert`. Never blocks.
    pub fn publish(&self, alert: &serde_json::Value, line: &str) {
        if self.sender.receiver_count() == 0 {
            return;
        }
        let kind = if alert.get("kind").and_then(serde_json::Value::as_str) == Some("drift") {
            "drift"
        } else {
            "alert"
        };
        // An error only means no one is subscribed.
        let _ = self.sender.send(FeedEvent {
            kind,
            data: Arc::from(line),
        });
    }

    /// [`LiveFeed::publish`] of an alert not yet written out.
    pub fn publish_value(&self, alert: &serde_json::Value) {
        if self.sender.receiver_count() > 0 {
            self.publish(alert, &alert.to_string());
        }
    }

    /// Ends every stream, and any opened later at once: the server is
    /// shutting down.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Pages connected now.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Alerts that subscribers missed for being too far behind, all
    /// subscribers together.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The answer of `GET /v1/events`: an SSE stream of the alerts
    /// published from now on, with a comment every 15 s to keep proxies
    /// from closing it.
    pub fn sse(&self) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
        let receiver = self.sender.subscribe();
        let closed = self.closed.subscribe();
        let dropped = self.dropped.clone();
        let hello = Event::default().event("hello").data("{}");
        let stream = futures_util::stream::unfold(
            (Some(hello), receiver, closed, dropped),
            |(first, mut receiver, mut closed, dropped)| async move {
                if *closed.borrow() {
                    return None;
                }
                if let Some(hello) = first {
                    return Some((Ok(hello), (None, receiver, closed, dropped)));
                }
                let received = tokio::select! {
                    received = receiver.recv() => received,
                    _ = closed.wait_for(|closed| *closed) => return None,
                };
                let event = match received {
                    Ok(e) => Event::default().event(e.kind).data(&*e.data),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        dropped.fetch_add(missed, Ordering::Relaxed);
                        Event::default().event("lagged").data(missed.to_string())
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                Some((Ok(event), (None, receiver, closed, dropped)))
            },
        );
        Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_subscriber_gets_alerts_by_kind_and_a_laggard_is_counted() {
        let feed = LiveFeed::default();
        // Nobody listens: nothing is kept.
        feed.publish_value(&serde_json::json!({"decision": "block"}));
        let mut receiver = feed.sender.subscribe();
        feed.publish_value(&serde_json::json!({"decision": "block"}));
        feed.publish_value(&serde_json::json!({"kind": "drift", "feature": "amount"}));
        let first = receiver.recv().await.expect("an alert");
        assert_eq!(first.kind, "alert");
        assert_eq!(&*first.data, r#"{"decision":"block"}"#);
        assert_eq!(receiver.recv().await.expect("a drift alert").kind, "drift");

        for i in 0..BACKLOG + 10 {
            feed.publish_value(&serde_json::json!({ "i": i }));
        }
        assert!(matches!(
            receiver.recv().await,
            Err(broadcast::error::RecvError::Lagged(10))
        ));
    }
}
