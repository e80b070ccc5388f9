//! The artifact `edgescore build` hands to a scorer component: a manifest
//! describing the model and the model itself in the compact encoding.
//!
//! Layout: magic `"\xE5ESA"`, version `u16` = 1, manifest length `u32`, the
//! manifest as JSON, then the compact model to the end. All little-endian.

use serde::{Deserialize, Serialize};

use crate::{Format, Model, ModelError};

const MAGIC: &[u8] = b"\xE5ESA";
/// 2: golden rows of `f64` (1 had `f32`).
const VERSION: u16 = 2;

/// The WIT package a component built by this edgescore implements. Version
/// 0.2.0 carries feature rows as `list<f64>`; 0.1.0 carried `list<f32>`.
pub const WIT_PACKAGE: &str = "edgescore:scoring@0.2.0";

/// What a manifest without `wit_package` was built for: the first contract.
fn first_wit_package() -> String {
    "edgescore:scoring@0.1.0".to_owned()
}

/// What a component says about the model it embeds. Also stored, as JSON, in
/// the component's `edgescore-manifest` custom section for `edgescore inspect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The deployment name (`edgescore build --name`).
    pub name: String,
    /// The deployment version (`edgescore build --version`).
    pub version: String,
    /// `xgboost`, `lightgbm` or `linear`.
    pub model_kind: String,
    /// The objective as the training library named it.
    pub objective: String,
    /// `probability`, `margin` or `regression`.
    pub output: String,
    /// One per feature, in row order.
    pub features: Vec<ManifestFeature>,
    /// Lower-case hex SHA-256 of the model file as given to `edgescore build`.
    pub model_sha256: String,
    /// The edgescore version that built the component.
    pub edgescore_version: String,
    /// The WIT package the component implements ([`WIT_PACKAGE`] for one
    /// built now); manifests from before it was recorded say 0.1.0.
    #[serde(default = "first_wit_package")]
    pub wit_package: String,
    /// The work of scoring one row ([`Model::steps_per_row`]), which a host
    /// sizes its calls by; 0 when the builder did not record it.
    #[serde(default)]
    pub steps_per_row: u64,
    /// The work of one row's contributions
    /// ([`Model::contribution_steps_per_row`]); 0 when not recorded.
    #[serde(default)]
    pub contribution_steps_per_row: u64,
    /// Sample rows with the scores the native model gave them at build time;
    /// a host re-scores them through the component before serving it.
    pub golden: Vec<GoldenVector>,
}

/// One feature of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFeature {
    /// Empty when the model file names no features.
    pub name: String,
    /// `numeric` or `categorical`.
    pub kind: String,
}

/// A sample row and its expected score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldenVector {
    /// The feature values; `None` is a missing value (NaN).
    pub row: Vec<Option<f64>>,
    /// The score the native model computed, to the last bit.
    pub score: f64,
}

impl GoldenVector {
    /// The row as the model takes it, NaN for missing.
    pub fn values(&self) -> Vec<f64> {
        self.row.iter().map(|v| v.unwrap_or(f64::NAN)).collect()
    }
}

/// A manifest and its model, as passed into a scorer component.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub manifest: Manifest,
    pub model: Model,
}

impl Artifact {
    /// The artifact's bytes; [`Artifact::from_bytes`] reads them back.
    pub fn to_bytes(&self) -> Vec<u8> {
        let manifest = serde_json::to_vec(&self.manifest).unwrap_or_default();
        let mut out = Vec::with_capacity(10 + manifest.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(manifest.len() as u32).to_le_bytes());
        out.extend_from_slice(&manifest);
        out.extend_from_slice(&self.model.to_compact_bytes());
        out
    }

    /// Reads an artifact, checking that the manifest matches the model's schema.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let bad = |reason: String| ModelError::Invalid {
            format: Format::Compact,
            reason: format!("artifact: {reason}"),
        };
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("the artifact magic is missing".into()))?;
        if rest.len() < 6 {
            return Err(bad("truncated header".into()));
        }
        let version = u16::from_le_bytes([rest[0], rest[1]]);
        if version != VERSION {
            return Err(bad(format!("version {version}, expected {VERSION}")));
        }
        let len = u32::from_le_bytes([rest[2], rest[3], rest[4], rest[5]]) as usize;
        let body = &rest[6..];
        if body.len() < len {
            return Err(bad("the manifest runs past the end".into()));
        }
        let manifest: Manifest =
            serde_json::from_slice(&body[..len]).map_err(|e| bad(format!("manifest: {e}")))?;
        let model = Model::from_bytes(&body[len..], Some(Format::Compact))?;
        if manifest.features.len() != model.num_features() {
            return Err(bad(format!(
                "the manifest lists {} features, the model has {}",
                manifest.features.len(),
                model.num_features()
            )));
        }
        Ok(Self { manifest, model })
    }
}
