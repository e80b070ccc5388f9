//! The alert log of a stream: one JSON line per review or block, appended
//! and synced before the batch's offsets are committed. Lines carry their
//! source (`topic`, `partition`, `offset`), so when a partition is
//! assigned the log says the last offset it holds, and a replay appends
//! only what is past it. Processes of one group on one machine may share
//! the file (each batch is one append).
//!
//! When the log passes its size it is renamed to `<log>.1` (one old file
//! kept), which the watermark scan reads too. It is also the webhook's
//! outbox ([`crate::webhook`]).

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::scored::PartitionScored;

/// The size past which the log is rotated.
pub const MAX_LOG_BYTES: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
#[error("the alert log {path}: {source}")]
pub struct AlertLogError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

#[derive(Debug)]
pub struct AlertLog {
    path: PathBuf,
    topic: String,
    watermarks: HashMap<i32, i64>,
}

/// Where a rotated log goes.
pub fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

impl AlertLog {
    /// The log at `path` (its folder must exist; the file is created with
    /// the first alert).
    pub fn open(path: &Path, topic: &str) -> Result<Self, AlertLogError> {
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !folder.is_dir() {
            return Err(AlertLogError {
                path: path.to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("its folder {} does not exist", folder.display()),
                ),
            });
        }
        if path.is_dir() {
            return Err(AlertLogError {
                path: path.to_owned(),
                source: std::io::Error::other("it is a folder; name a file"),
            });
        }
        Ok(Self {
            path: path.to_owned(),
            topic: topic.to_owned(),
            watermarks: HashMap::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the last offset of `partition` in the log (and its rotated file).
    pub fn recover(&mut self, partition: i32) -> Result<Option<i64>, AlertLogError> {
        let mut last = None;
        for path in [rotated(&self.path), self.path.clone()] {
            let file = match std::fs::File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(AlertLogError { path, source }),
            };
            for line in std::io::BufReader::new(file).lines() {
                let line = line.map_err(|source| AlertLogError {
                    path: path.clone(),
                    source,
                })?;
                // A line cut short by a crash is not an alert that was logged.
                let Ok(alert) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if alert["topic"] == self.topic.as_str() && alert["partition"] == partition {
                    last = last.max(alert["offset"].as_i64());
                }
            }
        }
        match last {
            Some(o) => self.watermarks.insert(partition, o),
            None => self.watermarks.remove(&partition),
        };
        Ok(last)
    }

    /// Appends the alerts of `batches` past each partition's watermark in
    /// one write and syncs the file; returns how many.
    pub fn append(&mut self, batches: &[PartitionScored<'_>]) -> Result<usize, AlertLogError> {
        let mut text = String::new();
        let mut lasts = Vec::new();
        let mut count = 0;
        for batch in batches {
            let watermark = self.watermarks.get(&batch.partition).copied();
            let mut last = None;
            for s in batch
                .scored
                .iter()
                .filter(|s| s.is_alert() && watermark.is_none_or(|w| s.offset() > w))
            {
                text.push_str(&s.alert(batch.by).to_string());
                text.push('\n');
                last = Some(s.offset());
                count += 1;
            }
            lasts.extend(last.map(|l| (batch.partition, l)));
        }
        if count == 0 {
            return Ok(0);
        }
        self.write_synced(text)?;
        self.watermarks.extend(lasts);
        Ok(count)
    }

    /// Appends `text` (whole lines) in one write, after ending a line a
    /// crash cut short, rotating the log first when it would grow past its
    /// cap; synced when this returns.
    fn write_synced(&mut self, mut text: String) -> Result<(), AlertLogError> {
        if !ends_with_newline(&self.path) {
            // A line cut short by a crash is ended, so this write's first
            // line is a line of its own.
            text.insert(0, '\n');
        }
        let failed = |source| AlertLogError {
            path: self.path.clone(),
            source,
        };
        let size = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        if size > 0 && size + text.len() as u64 > MAX_LOG_BYTES {
            std::fs::rename(&self.path, rotated(&self.path)).map_err(failed)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(failed)?;
        file.write_all(text.as_bytes()).map_err(failed)?;
        file.sync_data().map_err(failed)
    }

    /// Appends one line that comes from no partition (a drift alert) and
    /// syncs the file; the watermark scan passes over it.
    pub fn append_line(&mut self, alert: &serde_json::Value) -> Result<(), AlertLogError> {
        self.write_synced(format!("{alert}\n"))
    }
}

/// Whether the file at `path` is empty, missing or ends a line.
fn ends_with_newline(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return true;
    };
    if file.seek(SeekFrom::End(-1)).is_err() {
        return true;
    }
    let mut last = [0u8];
    file.read_exact(&mut last)
        .map_or(true, |()| last[0] == b'\n')
}
