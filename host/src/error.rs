//! The errors of the `edgescore` commands. Every message is one line that
//! names the file, row or column at fault and says what to fix.

use std::path::PathBuf;

/// Result of an `edgescore` command.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read model file {path}: {source}")]
    ReadModel {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot load model {path}: {source}")]
    LoadModel {
        path: PathBuf,
        #[source]
        source: edgescore_models::ModelError,
    },

    #[error("cannot read input {path}: {source}")]
    ReadInput {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: {message}")]
    Csv { path: PathBuf, message: String },

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

    #[error("{path}: column '{name}' appears twice in the header")]
    DuplicateColumn { path: PathBuf, name: String },

    #[error(
        "{path}: the header has {got} columns but the model has {expected} unnamed features, matched by position"
    )]
    ColumnCount {
        path: PathBuf,
        expected: usize,
        got: usize,
    },

    #[error("{path}: row {row} (line {line}), column '{column}': {problem}")]
    Cell {
        path: PathBuf,
        row: u64,
        line: u64,
        column: String,
        problem: String,
    },

    #[error("scoring failed: {0}")]
    Score(#[from] edgescore_models::ScoreError),

    #[error("cannot write output {path}: {source}")]
    WriteOutput {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}
