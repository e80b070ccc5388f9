//! Alerts: every `review` and `block` decision is appended to a durable log
//! (JSON lines, rotated by size) and, when a webhook is configured, POSTed
//! to it.
//!
//! Scoring never waits on the webhook. A request hands its alerts to a
//! bounded queue; one writer thread appends them to the log (written and
//! synced per batch of whatever is queued) and the request is answered once
//! its alerts are in the log. A sender thread posts each to the webhook,
//! retrying with backoff. A webhook that is down costs nothing but retries: alerts it has
//! not taken stay queued (up to the queue's bound), and every alert is in
//! the log whatever the webhook does. Nothing is dropped silently: an alert
//! the full queue cannot take, a post that gives up, a write that fails is
//! counted in the metrics and logged.
//!
//! Every alert is also published to the live feed ([`crate::live_feed`],
//! `GET /v1/events`), which never waits either.
//!
//! A pipeline's alerts are recorded ([`Alerts::record`]) before its
//! request is answered: an answered alert is in the log, written and
//! synced. Drift alerts are sent without waiting ([`Alerts::send`]).
//!
//! The log file is created with the first alert, so a server that never
//! decides review or block (no pipeline served) leaves no file behind; its
//! path is checked at start-up all the same. Every error about it names it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

/// Alerts waiting for the log writer and, separately, for the webhook.
const QUEUE: usize = 100_000;
/// Attempts per alert before the webhook gives up on it.
const WEBHOOK_ATTEMPTS: u32 = 8;

/// Counters of what happened to alerts (exported in `/metrics`).
#[derive(Debug, Default)]
pub struct AlertCounters {
    pub logged: AtomicU64,
    pub log_failures: AtomicU64,
    pub queue_full: AtomicU64,
    pub webhook_delivered: AtomicU64,
    pub webhook_retries: AtomicU64,
    pub webhook_failed: AtomicU64,
}

/// Where alerts go.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    pub log: PathBuf,
    pub max_log_bytes: u64,
    pub webhook: Option<super::webhook::WebhookConfig>,
}

/// Lines for the log writer, and whom to tell once they are written.
#[derive(Debug)]
struct Queued {
    lines: Vec<String>,
    /// Told `true` once every line is written and synced, `false` if the
    /// write failed.
    written: Option<tokio::sync::oneshot::Sender<bool>>,
}

/// Why alerts were not recorded (the request that decided them is
/// answered with it, so its client retries rather than lose them).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotRecorded {
    #[error("the alert queue is full; retry shortly")]
    QueueFull,
    #[error("the alert log could not be written (see the server log); retry")]
    WriteFailed,
}

/// The sending side, shared by request handlers.
#[derive(Debug)]
pub struct Alerts {
    log: SyncSender<Queued>,
    webhook: Option<SyncSender<String>>,
    pub counters: std::sync::Arc<AlertCounters>,
    /// Every alert sent, live (the dashboard's feed).
    pub feed: std::sync::Arc<super::live_feed::LiveFeed>,
}

impl Alerts {
    /// Starts the writer (and webhook sender) threads. A log path that
    /// cannot work (its folder missing, a folder, a file that cannot be
    /// appended to), a webhook URL or CA file that cannot work is refused
    /// here, not found out alert by alert; the error names it.
    pub fn start(config: AlertConfig) -> std::io::Result<Self> {
        let agent = config
            .webhook
            .as_ref()
            .map(super::webhook::agent)
            .transpose()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let counters = std::sync::Arc::new(AlertCounters::default());
        let (log, log_rx) = sync_channel(QUEUE);
        check_log_path(&config.log)?;
        let writer = LogWriter {
            path: config.log.clone(),
            max_bytes: config.max_log_bytes,
            file: None,
            size: 0,
        };
        {
            let counters = counters.clone();
            std::thread::Builder::new()
                .name("edgescore-alert-log".into())
                .spawn(move || writer.run(log_rx, &counters))?;
        }
        let webhook = match (config.webhook, agent) {
            (Some(webhook), Some(agent)) => {
                let (tx, rx) = sync_channel(QUEUE);
                let counters = counters.clone();
                std::thread::Builder::new()
                    .name("edgescore-alert-webhook".into())
                    .spawn(move || post_forever(&agent, &webhook.url, rx, &counters))?;
                Some(tx)
            }
            _ => None,
        };
        Ok(Self {
            log,
            webhook,
            counters,
            feed: std::sync::Arc::default(),
        })
    }

    /// Queues one alert (a JSON object on one line) and publishes it to
    /// the live feed. Never blocks, and does not wait for the log (drift
    /// alerts: nobody is answered with them).
    pub fn send(&self, alert: &serde_json::Value) {
        let line = alert.to_string();
        self.feed.publish(alert, &line);
        if self.queue(vec![line.clone()], None).is_err() {
            tracing::info!("alert queue full or closed; alert not queued: {line}");
        }
        self.send_to_webhook(std::slice::from_ref(&line));
    }

    /// Appends `alerts` to the log and waits until they are written and
    /// synced: a request that decided them is answered only once they are
    /// in the log, so a crash right after loses no acknowledged alert.
    /// Alerts written by many requests at once share one write and sync.
    pub async fn record(&self, alerts: &[serde_json::Value]) -> Result<(), NotRecorded> {
        if alerts.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = alerts.iter().map(ToString::to_string).collect();
        let (written, done) = tokio::sync::oneshot::channel();
        self.queue(lines.clone(), Some(written))?;
        let recorded = done.await.unwrap_or(false);
        for (alert, line) in alerts.iter().zip(&lines) {
            self.feed.publish(alert, line);
        }
        self.send_to_webhook(&lines);
        if recorded {
            Ok(())
        } else {
            Err(NotRecorded::WriteFailed)
        }
    }

    /// Hands lines to the log writer.
    fn queue(
        &self,
        lines: Vec<String>,
        written: Option<tokio::sync::oneshot::Sender<bool>>,
    ) -> Result<(), NotRecorded> {
        let count = lines.len() as u64;
        self.log
            .try_send(Queued { lines, written })
            .map_err(|_: TrySendError<Queued>| {
                self.counters.queue_full.fetch_add(count, Ordering::Relaxed);
                NotRecorded::QueueFull
            })
    }

    /// Hands lines to the webhook sender, if there is one.
    fn send_to_webhook(&self, lines: &[String]) {
        let Some(queue) = &self.webhook else {
            return;
        };
        for line in lines {
            if queue.try_send(line.clone()).is_err() {
                self.counters.queue_full.fetch_add(1, Ordering::Relaxed);
                tracing::info!("alert webhook queue full or closed; not posted: {line}");
            }
        }
    }
}

/// Whether alerts can be appended to `path`: an existing file is opened
/// for appending (nothing is created); otherwise its folder must exist.
fn check_log_path(path: &Path) -> std::io::Result<()> {
    let named = |e: std::io::Error, what: &str| {
        std::io::Error::new(
            e.kind(),
            format!("the alert log {}: {what}{e}", path.display()),
        )
    };
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("the alert log {} is a folder; name a file", path.display()),
        )),
        Ok(_) => std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map(drop)
            .map_err(|e| named(e, "cannot append to it: ")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let folder = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            match std::fs::metadata(folder) {
                Ok(meta) if meta.is_dir() => Ok(()),
                Ok(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "the alert log {} cannot be created: {} is not a folder",
                        path.display(),
                        folder.display()
                    ),
                )),
                Err(e) => Err(named(
                    e,
                    &format!("cannot be created in {}: ", folder.display()),
                )),
            }
        }
        Err(e) => Err(named(e, "")),
    }
}

/// Appends lines to the log, rotating it to `<log>.1` (keeping one old file)
/// when it would pass the size limit. The file is opened with the first
/// write.
struct LogWriter {
    path: PathBuf,
    max_bytes: u64,
    /// `None` until the first alert.
    file: Option<std::fs::File>,
    size: u64,
}

impl LogWriter {
    /// The open log file (opened, or created, the first time).
    fn file(&mut self) -> std::io::Result<&mut std::fs::File> {
        if self.file.is_none() {
            let mut file = open_append(&self.path)?;
            self.size = file.metadata().map(|m| m.len()).unwrap_or(0);
            if ends_torn(&self.path, self.size)? {
                // A crash mid-write left half a line (never acknowledged):
                // end it, so the next alert starts a line of its own.
                file.write_all(b"\n")?;
                self.size += 1;
            }
            self.file = Some(file);
        }
        self.file.as_mut().ok_or_else(|| {
            std::io::Error::other(format!("the alert log {} is not open", self.path.display()))
        })
    }

    fn run(mut self, queue: Receiver<Queued>, counters: &AlertCounters) {
        while let Ok(first) = queue.recv() {
            // Everything already queued goes in the same write and sync.
            let mut queued = vec![first];
            queued.extend(queue.try_iter().take(4096));
            let batch: Vec<String> = queued.iter_mut().flat_map(|q| q.lines.drain(..)).collect();
            let result = self.write(&batch);
            let written = result.is_ok();
            for waiting in queued.into_iter().filter_map(|q| q.written) {
                // A request that stopped waiting no longer needs telling.
                let _ = waiting.send(written);
            }
            match result {
                Ok(()) => {
                    counters
                        .logged
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    counters
                        .log_failures
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    tracing::warn!(
                        "cannot append {} alerts to {}: {e}; they follow:",
                        batch.len(),
                        self.path.display()
                    );
                    for line in &batch {
                        tracing::warn!("{line}");
                    }
                }
            }
        }
    }

    fn write(&mut self, lines: &[String]) -> std::io::Result<()> {
        let bytes: u64 = lines.iter().map(|l| l.len() as u64 + 1).sum();
        self.file()?;
        if self.size > 0 && self.size + bytes > self.max_bytes {
            self.rotate()?;
        }
        let mut buffer = String::with_capacity(bytes as usize);
        for line in lines {
            buffer.push_str(line);
            buffer.push('\n');
        }
        let file = self.file()?;
        file.write_all(buffer.as_bytes())?;
        file.sync_data()?;
        self.size += bytes;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let rotated = rotated_path(&self.path);
        std::fs::rename(&self.path, &rotated).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot rename it to {}: {e}", rotated.display()),
            )
        })?;
        self.file = None;
        self.file()?;
        Ok(())
    }
}

/// Where a rotated log goes: `<log>.1`.
pub fn rotated_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

/// Whether the log's last byte is not a newline (a line torn by a crash).
fn ends_torn(path: &Path, size: u64) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    if size == 0 {
        return Ok(false);
    }
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(size - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// Posts every queued alert to `url`, in order, retrying each with
/// exponential backoff (100 ms doubling to 30 s) before giving up on it.
fn post_forever(agent: &ureq::Agent, url: &str, queue: Receiver<String>, counters: &AlertCounters) {
    while let Ok(alert) = queue.recv() {
        let mut delay = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            let result = agent
                .post(url)
                .header("content-type", "application/json")
                .send(alert.as_bytes());
            match result {
                Ok(_) => {
                    counters.webhook_delivered.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(e) if attempt >= WEBHOOK_ATTEMPTS => {
                    counters.webhook_failed.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        "alert webhook {url}: gave up after {attempt} attempts ({e}); the alert stays in the alert log: {alert}"
                    );
                    break;
                }
                Err(_) => {
                    counters.webhook_retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(30));
                    attempt += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_torn_by_a_crash_is_ended_before_the_next_alert() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("alerts.jsonl");
        std::fs::write(&log, "{\"complete\":1}\n{\"torn\":").expect("write");
        let alerts = Alerts::start(AlertConfig {
            log: log.clone(),
            max_log_bytes: 1 << 20,
            webhook: None,
        })
        .expect("starts");
        alerts.send(&serde_json::json!({ "next": 2 }));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while alerts.counters.logged.load(Ordering::Relaxed) == 0 {
            assert!(std::time::Instant::now() < deadline, "never logged");
            std::thread::sleep(Duration::from_millis(10));
        }
        let text = std::fs::read_to_string(&log).expect("read");
        assert_eq!(text, "{\"complete\":1}\n{\"torn\":\n{\"next\":2}\n");
    }
}
