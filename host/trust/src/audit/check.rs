//! [`verify_audit_log`]: reads the log line by line and reports the first
//! line that breaks the chain.
//!
//! Every line must be an entry, the n-th line must have `seq` n, and each
//! line's `prev` must be the SHA-256 of the line before it (64 zeros on the
//! first). So an edited line breaks the next line's `prev`, a removed line
//! a `seq` (and a `prev`), reordered lines a `seq`, and a removed first
//! line the first `seq`. Removing the *last* lines leaves a shorter, valid
//! chain: that is detected only against a head recorded earlier
//! ([`AuditSummary::head_sha256`], which `edgescore audit verify` prints):
//! the recorded head must be the hash of a line still in the log.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use crate::audit::entry::{FIRST_PREV, ParsedEntry};
use crate::digest::{hex, sha256};
use crate::time::parse_utc;

/// A log whose chain holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSummary {
    /// How many entries (lines) it holds.
    pub entries: u64,
    /// The SHA-256 (hex) of the last line: record it to detect a later
    /// removal of the last lines. 64 zeros for an empty log.
    pub head_sha256: String,
    /// Bytes after the last newline: a write torn by a crash, never
    /// acknowledged, which opening the log cuts off (0: none).
    pub torn_tail_bytes: u64,
}

/// The first place where the log is not an unbroken chain.
#[derive(Debug, thiserror::Error)]
pub enum AuditViolation {
    /// The file cannot be read.
    #[error("cannot read the audit log {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line that is not an entry.
    #[error("line {line} is not an audit entry: {reason}")]
    NotAnEntry { line: u64, reason: String },
    /// A line with the wrong `seq`.
    #[error(
        "line {line} has seq {found} where {line} was expected: lines before it were removed, or lines were reordered"
    )]
    Sequence { line: u64, found: u64 },
    /// A line whose `prev` is not the hash of the line before.
    #[error(
        "line {line}'s prev is {found}, but {}; {}",
        if *line == 1 { "the first line's prev must be 64 zeros".to_owned() } else { format!("line {} hashes to {expected}", line - 1) },
        if *line == 1 { "lines before it were removed" } else { "the line before it was edited, or lines were removed or reordered" }
    )]
    Chain {
        line: u64,
        expected: String,
        found: String,
    },
}

impl AuditViolation {
    /// The 1-based line number of the violation (`None`: the file could not be read).
    pub fn line(&self) -> Option<u64> {
        match self {
            AuditViolation::Read { .. } => None,
            AuditViolation::NotAnEntry { line, .. }
            | AuditViolation::Sequence { line, .. }
            | AuditViolation::Chain { line, .. } => Some(*line),
        }
    }
}

/// Checks the audit log at `path` from its first line to its last: the
/// count of entries and the head hash, or the first violation with its
/// line number. A torn last line (no newline) is not an entry and not a
/// violation: it is counted in [`AuditSummary::torn_tail_bytes`].
pub fn verify_audit_log(path: &Path) -> Result<AuditSummary, AuditViolation> {
    let read = |source| AuditViolation::Read {
        path: path.to_owned(),
        source,
    };
    let mut reader = std::io::BufReader::new(std::fs::File::open(path).map_err(read)?);
    let mut prev = FIRST_PREV.to_owned();
    let mut entries = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(read)?;
        if n == 0 {
            break;
        }
        if line.pop() != Some(b'\n') {
            return Ok(AuditSummary {
                entries,
                head_sha256: prev,
                torn_tail_bytes: n as u64,
            });
        }
        let number = entries + 1;
        let not_entry = |reason: String| AuditViolation::NotAnEntry {
            line: number,
            reason,
        };
        let entry: ParsedEntry = serde_json::from_slice(&line).map_err(|e| {
            not_entry(if line.is_empty() {
                "it is empty".to_owned()
            } else {
                e.to_string()
            })
        })?;
        parse_utc(&entry.at).map_err(|e| not_entry(format!("its time {:?}: {e}", entry.at)))?;
        if entry.seq != number {
            return Err(AuditViolation::Sequence {
                line: number,
                found: entry.seq,
            });
        }
        if entry.prev != prev {
            return Err(AuditViolation::Chain {
                line: number,
                expected: prev,
                found: entry.prev,
            });
        }
        prev = hex(&sha256(&line));
        entries = number;
    }
    Ok(AuditSummary {
        entries,
        head_sha256: prev,
        torn_tail_bytes: 0,
    })
}
