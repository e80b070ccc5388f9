//! The errors of the offline commands. Every message is one line that
//! names the file, row or column at fault and says what to fix.

use std::path::PathBuf;

/// Result of an `edgescore` command.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Model(#[from] edgescore_runtime::model_file::ModelFileError),

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
        quoted(missing), features.join(", ")
    )]
    MissingColumns {
        path: PathBuf,
        missing: Vec<String>,
        features: Vec<String>,
    },

    #[error(
        "{path}: column(s) {} are not features of the model; remove them or pass --ignore-extra-columns",
        quoted(unknown)
    )]
    UnknownColumns { path: PathBuf, unknown: Vec<String> },

    #[error(
        "{path}: column {} appears twice in the header; rename or remove one of them",
        edgescore_runtime::quote::quoted(name)
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
        edgescore_runtime::quote::quoted(column)
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

    #[error("scoring failed: {0}")]
    Score(#[from] edgescore_models::ScoreError),

    #[error("{0}")]
    Component(#[from] edgescore_runtime::component_scorer::ComponentError),

    #[error("{0}")]
    Gpu(#[from] edgescore_gpu::GpuError),

    #[error("{0}")]
    Pipeline(String),

    #[error("cannot load component {path}: {source}")]
    LoadComponent {
        path: PathBuf,
        #[source]
        source: edgescore_runtime::component_scorer::ComponentError,
    },

    #[error("cannot write output {path}: {source}")]
    WriteOutput {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    Write(#[from] edgescore_runtime::atomic_file::WriteError),

    /// A reference profile that cannot be read, or was made for another
    /// pipeline (other features, another model file).
    #[error("{path}: {source}")]
    Profile {
        path: PathBuf,
        #[source]
        source: edgescore_drift::ProfileError,
    },

    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
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
fn quoted(names: &[String]) -> String {
    const LISTED: usize = 10;
    let mut text = names
        .iter()
        .take(LISTED)
        .map(|n| edgescore_runtime::quote::quoted(n))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > LISTED {
        text.push_str(&format!(" and {} more", names.len() - LISTED));
    }
    text
}
