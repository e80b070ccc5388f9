//! [`AuditLog`]: appends entries to the log file, each synced to disk
//! before `append` returns, from any thread.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use crate::audit::AuditRecord;
use crate::audit::entry::{EntryLine, FIRST_PREV, ParsedEntry};
use crate::digest::{hex, sha256};
use crate::time::format_millis;

/// An audit line is small; a last line longer than this is not one.
const MAX_LINE_BYTES: u64 = 16 << 20;

/// Why the audit log cannot be opened or appended to.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file could not be opened, read or cut.
    #[error("cannot open the audit log {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another open log (this process or another) holds the file: two
    /// writers would break the chain.
    #[error(
        "the audit log {} is in use by another writer (a lock is held on it): give each server its own log",
        path.display()
    )]
    Locked { path: PathBuf },
    /// The last line is not an entry, so the chain cannot go on from it.
    #[error(
        "the audit log {} cannot be continued: its last line is not an audit entry ({reason}); check it with `edgescore audit verify`, then move it aside to start a new log",
        path.display()
    )]
    LastLine { path: PathBuf, reason: String },
    /// An entry could not be written (nothing of it is left in the file).
    #[error("cannot append to the audit log {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A failed write could not be undone: the end of the file is unknown.
    #[error(
        "the audit log {} is unusable: a failed write could not be undone; reopen it (a torn last line is cut on opening)",
        path.display()
    )]
    Broken { path: PathBuf },
}

/// An open audit log. One writer per file (a lock is held on it while open).
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    torn_tail_bytes: u64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    file: File,
    /// The seq of the last entry (0: none).
    seq: u64,
    /// The hash of the last line (the next entry's `prev`).
    prev: String,
    /// The file's length: where a failed write is cut back to.
    len: u64,
    /// A failed write could not be cut back.
    broken: bool,
}

impl AuditLog {
    /// Opens (creating) the log; reads the last line for the chain; a torn
    /// last line (no trailing '\n': a crash mid-write, never acknowledged)
    /// is cut off.
    ///
    /// Refused: a log another open `AuditLog` holds ([`AuditError::Locked`]),
    /// and one whose last line is not an entry ([`AuditError::LastLine`]).
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let open = |source| AuditError::Open {
            path: path.to_owned(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(open)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(AuditError::Locked {
                    path: path.to_owned(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(open(e)),
        }
        let full_len = file.metadata().map_err(open)?.len();
        let len = cut_torn_tail(&mut file, full_len).map_err(open)?;
        let (seq, prev) = last_entry(&mut file, len).map_err(|e| match e {
            LastLineError::Io(source) => open(source),
            LastLineError::NotAnEntry(reason) => AuditError::LastLine {
                path: path.to_owned(),
                reason,
            },
        })?;
        Ok(AuditLog {
            path: path.to_owned(),
            torn_tail_bytes: full_len - len,
            state: Mutex::new(State {
                file,
                seq,
                prev,
                len,
                broken: false,
            }),
        })
    }

    /// Appends one entry and syncs the file (sync_data) before returning:
    /// an entry appended is on disk. Thread-safe (internal Mutex). Returns
    /// the entry's seq.
    ///
    /// A failed write is cut back out of the file, so the chain stays
    /// whole; if even that fails, every later append is refused
    /// ([`AuditError::Broken`]) until the log is reopened.
    pub fn append(&self, record: &AuditRecord) -> Result<u64, AuditError> {
        // The state changes only after a write succeeded, in statements that
        // cannot panic, so a lock poisoned elsewhere still guards a
        // consistent state.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.broken {
            return Err(AuditError::Broken {
                path: self.path.clone(),
            });
        }
        let seq = state.seq + 1;
        let at = format_millis(SystemTime::now());
        let entry = EntryLine {
            seq,
            at: &at,
            actor: &record.actor,
            action: record.action,
            model: record.model.as_deref(),
            version: record.version,
            details: &record.details,
            prev: &state.prev,
        };
        let mut line = serde_json::to_vec(&entry).map_err(|e| AuditError::Write {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        let hash = hex(&sha256(&line));
        line.push(b'\n');
        let written = state
            .file
            .write_all(&line)
            .and_then(|()| state.file.sync_data());
        if let Err(source) = written {
            let len = state.len;
            let undone = state
                .file
                .set_len(len)
                .and_then(|()| state.file.sync_data());
            state.broken = undone.is_err();
            return Err(AuditError::Write {
                path: self.path.clone(),
                source,
            });
        }
        state.seq = seq;
        state.prev = hash;
        state.len += line.len() as u64;
        Ok(seq)
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many bytes of a torn last line [`AuditLog::open`] cut off (0: none).
    pub fn torn_tail_bytes(&self) -> u64 {
        self.torn_tail_bytes
    }
}

/// Cuts a last line without its newline off the file of `len` bytes; the
/// new length.
fn cut_torn_tail(file: &mut File, len: u64) -> std::io::Result<u64> {
    if len == 0 || read_at(file, len - 1, 1)? == b"\n" {
        return Ok(len);
    }
    let cut = last_newline_before(file, len)?.map_or(0, |at| at + 1);
    file.set_len(cut)?;
    file.sync_all()?;
    Ok(cut)
}

enum LastLineError {
    Io(std::io::Error),
    NotAnEntry(String),
}

/// The seq of the last entry and the hash of its line, of a file of `len`
/// bytes ending in a newline: (0, 64 zeros) for an empty file.
fn last_entry(file: &mut File, len: u64) -> Result<(u64, String), LastLineError> {
    if len == 0 {
        return Ok((0, FIRST_PREV.to_owned()));
    }
    let end = len - 1;
    let start = last_newline_before(file, end)
        .map_err(LastLineError::Io)?
        .map_or(0, |at| at + 1);
    if end - start > MAX_LINE_BYTES {
        return Err(LastLineError::NotAnEntry(format!(
            "it is {} bytes long",
            end - start
        )));
    }
    let line = read_at(file, start, end - start).map_err(LastLineError::Io)?;
    let entry: ParsedEntry =
        serde_json::from_slice(&line).map_err(|e| LastLineError::NotAnEntry(e.to_string()))?;
    if entry.seq == u64::MAX {
        return Err(LastLineError::NotAnEntry(
            "its seq is the largest there is".to_owned(),
        ));
    }
    Ok((entry.seq, hex(&sha256(&line))))
}

/// The offset of the last `\n` before `end`, if any.
fn last_newline_before(file: &mut File, end: u64) -> std::io::Result<Option<u64>> {
    const BLOCK: u64 = 64 * 1024;
    let mut high = end;
    while high > 0 {
        let low = high.saturating_sub(BLOCK);
        let block = read_at(file, low, high - low)?;
        if let Some(i) = block.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(low + i as u64));
        }
        high = low;
    }
    Ok(None)
}

/// `len` bytes of `file` from `offset`.
fn read_at(file: &mut File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    file.take(len).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != len {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
    }
    Ok(bytes)
}
