//! The errors of the offline commands. Every message is one line that
//! names the file, row or column at fault and says what to fix.

use std::path::PathBuf;

pub use edgescore_table::TableError;

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

    /// A table or input CSV that cannot be read as asked, or a cell of one
    /// that cannot be used (`edgescore_table`'s reading errors, and the
    /// offline commands' own about a table's columns and cells).
    #[error(transparent)]
    Table(#[from] TableError),

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
