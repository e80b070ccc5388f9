//! The errors of reading a table or an input CSV. Every message is one line
//! that names the file, row or column at fault and says what to fix.

use std::path::PathBuf;

use edgescore_events::quote::quoted;

/// Result of reading a table.
pub type Result<T, E = TableError> = std::result::Result<T, E>;

/// Why a table (or an input CSV) cannot be read as asked.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("cannot read input {path}: {source}")]
    ReadInput {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: {message}")]
    Csv { path: PathBuf, message: String },

    /// A table (CSV or Parquet) that cannot serve as asked.
    #[error("{path}: {message}")]
    Table { path: PathBuf, message: String },

    #[error(
        "{path}: missing column(s) {} required by the model (the model's features are: {})",
        quoted_names(missing), features.join(", ")
    )]
    MissingColumns {
        path: PathBuf,
        missing: Vec<String>,
        features: Vec<String>,
    },

    #[error(
        "{path}: column(s) {} are not features of the model; remove them or pass --ignore-extra-columns",
        quoted_names(unknown)
    )]
    UnknownColumns { path: PathBuf, unknown: Vec<String> },

    #[error(
        "{path}: column {} appears twice in the header; rename or remove one of them",
        quoted(name)
    )]
    DuplicateColumn { path: PathBuf, name: String },

    #[error(
        "{path}: the header has {got} columns but the model has {expected} unnamed features, matched by position"
    )]
    ColumnCount {
        path: PathBuf,
        expected: usize,
        got: usize,
    },

    #[error(
        "{path}: row {row}{}, column {}: {problem}",
        line_suffix(*line),
        quoted(column)
    )]
    Cell {
        path: PathBuf,
        /// One-based data row (the header is not a row).
        row: u64,
        /// One-based line in the file, or 0 when unknown.
        line: u64,
        column: String,
        problem: String,
    },
}

/// ` (line N)` when the line is known (non-zero).
fn line_suffix(line: u64) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(" (line {line})")
    }
}

/// Names from a file, each quoted and cut short when it is huge; the first
/// few of a long list, then how many more.
fn quoted_names(names: &[String]) -> String {
    const LISTED: usize = 10;
    let mut text = names
        .iter()
        .take(LISTED)
        .map(|n| quoted(n))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > LISTED {
        text.push_str(&format!(" and {} more", names.len() - LISTED));
    }
    text
}
