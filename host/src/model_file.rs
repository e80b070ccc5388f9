//! Loading a model file from disk.

use std::path::Path;

use edgescore_models::{Format, Model};

use crate::{Error, Result};

/// Reads and parses the model at `path`; `format` overrides detection.
pub fn load(path: &Path, format: Option<Format>) -> Result<Model> {
    let bytes = std::fs::read(path).map_err(|source| Error::ReadModel {
        path: path.to_owned(),
        source,
    })?;
    Model::from_bytes(&bytes, format).map_err(|source| Error::LoadModel {
        path: path.to_owned(),
        source,
    })
}
