//! Loading a model file from disk.

use std::path::{Path, PathBuf};

use edgescore_models::{Format, Model};

/// A model file that cannot be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("cannot read model file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot load model {path}: {source}")]
    Load {
        path: PathBuf,
        #[source]
        source: edgescore_models::ModelError,
    },
}

/// Reads and parses the model at `path`; `format` overrides detection.
pub fn load(path: &Path, format: Option<Format>) -> Result<Model, ModelFileError> {
    let bytes = std::fs::read(path).map_err(|source| ModelFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    Model::from_bytes(&bytes, format).map_err(|source| ModelFileError::Load {
        path: path.to_owned(),
        source,
    })
}
