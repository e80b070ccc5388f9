//! The alert webhook of a stream, fed from the alert log as its outbox.
//!
//! A sender thread reads the log from a cursor (kept in
//! `<state-dir>/webhook.cursor`: the log file's identity and the byte
//! offset of the next line) and POSTs each alert in order with an
//! `Idempotency-Key` header of its transaction id. A webhook that is down
//! is retried with backoff (100 ms doubling to 30 s) for as long as it
//! takes: the stream goes on scoring, the alerts wait in the log, and
//! nothing is lost across a crash either, since the cursor only moves
//! past a delivered alert (a crash may post the last few again; the key
//! lets the receiver drop them).

use std::io::{BufRead, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::alert_log::rotated;

/// What happened to webhook posts (in `/metrics`).
#[derive(Debug, Default)]
pub struct WebhookCounters {
    pub delivered: AtomicU64,
    pub retries: AtomicU64,
}

/// Where the sender is in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Cursor {
    /// The inode of the file being read (0: none yet).
    file: u64,
    offset: u64,
}

/// Starts the sender thread.
pub fn start(
    agent: ureq::Agent,
    url: String,
    log: PathBuf,
    cursor: PathBuf,
    counters: Arc<WebhookCounters>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("edgescore-stream-webhook".into())
        .spawn(move || {
            let sender = Sender {
                agent,
                url,
                log,
                cursor_path: cursor,
                counters,
                stop,
            };
            sender.run();
        })
}

struct Sender {
    agent: ureq::Agent,
    url: String,
    log: PathBuf,
    cursor_path: PathBuf,
    counters: Arc<WebhookCounters>,
    stop: Arc<AtomicBool>,
}

fn inode(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| m.ino())
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(path).ok().map(|_| 1)
    }
}

impl Sender {
    fn run(&self) {
        let mut cursor = self.load_cursor();
        let mut saved = Instant::now();
        let mut last_saved = cursor;
        while !self.stop.load(Ordering::Relaxed) {
            let current = inode(&self.log);
            // The log was rotated since the cursor's file: finish the old one.
            let path = if cursor.file != 0 && current != Some(cursor.file) {
                if inode(&rotated(&self.log)) == Some(cursor.file) {
                    rotated(&self.log)
                } else {
                    tracing::warn!(
                        "the alert log {} was rotated twice before the webhook read it; alerts in between are in the log files, not posted",
                        self.log.display()
                    );
                    cursor = Cursor {
                        file: current.unwrap_or(0),
                        offset: 0,
                    };
                    continue;
                }
            } else {
                self.log.clone()
            };
            let Some(file) = inode(&path) else {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            };
            if cursor.file != file {
                cursor = Cursor { file, offset: 0 };
            }
            let (lines, end) = read_lines(&path, cursor.offset);
            if lines.is_empty() && end > cursor.offset {
                // Blank lines only.
                cursor.offset = end;
                continue;
            }
            if lines.is_empty() {
                if path != self.log {
                    // The rotated file is done: on to the new log.
                    cursor = Cursor {
                        file: current.unwrap_or(0),
                        offset: 0,
                    };
                    self.save_cursor(cursor);
                    continue;
                }
                if cursor != last_saved {
                    self.save_cursor(cursor);
                    last_saved = cursor;
                }
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            for (line, next) in lines {
                if !self.post(&line) {
                    return;
                }
                cursor.offset = next;
                if saved.elapsed() > Duration::from_millis(200) {
                    self.save_cursor(cursor);
                    last_saved = cursor;
                    saved = Instant::now();
                }
            }
        }
        self.save_cursor(cursor);
    }

    /// Posts one alert until it is taken; false when asked to stop first.
    fn post(&self, line: &str) -> bool {
        let key = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| {
                // A transaction's alert by its id; a drift alert by its own.
                v["transaction_id"]
                    .as_str()
                    .or_else(|| v["id"].as_str())
                    .map(str::to_owned)
            });
        let Some(key) = key else {
            // Not an alert (a line cut short by a crash): skipped.
            return true;
        };
        let mut delay = Duration::from_millis(100);
        loop {
            let result = self
                .agent
                .post(&self.url)
                .header("content-type", "application/json")
                .header("idempotency-key", &key)
                .send(line.as_bytes());
            match result {
                Ok(_) => {
                    self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                Err(e) => {
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        "alert webhook {}: {e}; retrying in {delay:?} (the alert waits in the log)",
                        self.url
                    );
                    let until = Instant::now() + delay;
                    while Instant::now() < until {
                        if self.stop.load(Ordering::Relaxed) {
                            return false;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    fn load_cursor(&self) -> Cursor {
        std::fs::read_to_string(&self.cursor_path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or(Cursor { file: 0, offset: 0 })
    }

    fn save_cursor(&self, cursor: Cursor) {
        let text = serde_json::to_string(&cursor).unwrap_or_default();
        if let Err(e) =
            edgescore_runtime::atomic_file::write_atomically(&self.cursor_path, text.as_bytes())
        {
            tracing::warn!(
                "cannot save the webhook's place in the alert log ({}): {e}",
                self.cursor_path.display()
            );
        }
    }
}

/// The complete, non-blank lines of `path` from byte `offset`, each with
/// the offset after it, and the offset after the last complete line (a
/// line not ended yet is left for later).
fn read_lines(path: &Path, offset: u64) -> (Vec<(String, u64)>, u64) {
    let Ok(mut file) = std::fs::File::open(path) else {
        return (Vec::new(), offset);
    };
    if file.seek(SeekFrom::Start(offset)).is_err() {
        return (Vec::new(), offset);
    }
    let mut reader = std::io::BufReader::new(file.by_ref().take(4 << 20));
    let mut lines = Vec::new();
    let mut at = offset;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(n) if line.ends_with('\n') => {
                at += n as u64;
                let text = line.trim_end().to_owned();
                if !text.is_empty() {
                    lines.push((text, at));
                }
            }
            Ok(_) => break,
        }
    }
    (lines, at)
}
