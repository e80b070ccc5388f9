//! Pipelines: a transform and a model deployed together, events in and
//! decisions out.
//!
//! A pipeline version is a folder: `pipeline.toml`, the transform component
//! and the model component (by default `transform.wasm` and `model.wasm`).
//! Either may instead name its source, a transform spec (`.toml`) or a
//! model file (XGBoost JSON, LightGBM text, edgescore linear JSON): it is
//! then built into its component when the pipeline loads, exactly as
//! `edgescore build` would (a demo or a development loop needs no build step).
//! The host chains the two components rather than composing them into one:
//! each keeps its own sandbox and grant (only the transform reaches the
//! feature store; the model imports nothing), the model component is the
//! very one `edgescore build` verified against its golden vectors, and
//! offline runs (`edgescore transform`) use the transform alone. Crossing
//! from one to the other costs a copy of one feature row.
//!
//! ```toml
//! transform = "transform.wasm"   # the defaults
//! model = "model.wasm"
//!
//! [decision]                     # score >= block: block; >= review: review
//! review = 0.5
//! block = 0.9
//!
//! [reasons]
//! top = 3                        # contributions reported per transaction
//!
//! [feature_store]                # namespaces the transform may use
//! namespaces = ["card", "card-country"]
//!
//! [events]                       # how events are read, online and offline
//! max_skew_seconds = 300         # an event time further ahead of the clock is refused
//! timestamp_unit = "ms"          # integer timestamps' unit (s, ms, us, ns); none: refused
//! allow_unknown_fields = false   # fields the transform does not read are refused
//! ```
//!
//! `profile = "profile.json"` (the default when that file is there) names
//! the version's reference profile for drift (`edgescore profile`).
//!
//! The `[events]` rules ([`EventRules`]) travel with the transform
//! ([`TransformComponent::event_rules`]), so the server and the offline
//! commands read a pipeline's events alike.

mod running;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use edgescore_models::decision::{Decision, Reason, Thresholds};
pub use running::{Outcome, Pipeline, StoreAccess};

use crate::component_scorer::{ComponentError, ScorerComponent};
use crate::engine::ScoringEngine;
use crate::host_state::Grants;
use crate::transform_component::TransformComponent;
use edgescore_events::EventRules;

/// The file that makes a folder a pipeline version.
pub const PIPELINE_FILE: &str = "pipeline.toml";

/// The reference profile a pipeline folder holds unless `pipeline.toml`
/// names another.
pub const DEFAULT_PROFILE_FILE: &str = "profile.json";

/// What `pipeline.toml` says.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    #[serde(default = "default_transform")]
    pub transform: PathBuf,
    #[serde(default = "default_model")]
    pub model: PathBuf,
    pub decision: Thresholds,
    #[serde(default)]
    pub reasons: Reasons,
    #[serde(default)]
    pub feature_store: FeatureStoreGrant,
    /// How events are read and checked (`[events]`).
    #[serde(default)]
    pub events: EventRules,
    /// The reference profile (`edgescore profile`) the server and the
    /// stream watch drift against; default: `profile.json` when the folder
    /// has one.
    #[serde(default)]
    pub profile: Option<PathBuf>,
}

fn default_transform() -> PathBuf {
    "transform.wasm".into()
}

fn default_model() -> PathBuf {
    "model.wasm".into()
}

/// How many reasons a response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reasons {
    pub top: usize,
}

impl Default for Reasons {
    fn default() -> Self {
        Self { top: 3 }
    }
}

/// The feature-store namespaces granted to the transform.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureStoreGrant {
    #[serde(default)]
    pub namespaces: Vec<String>,
}

/// Why a pipeline could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Spec { path: String, message: String },
    #[error("the transform {path}: {source}")]
    Transform {
        path: String,
        source: ComponentError,
    },
    #[error("the model {path}: {source}")]
    Model {
        path: String,
        source: ComponentError,
    },
    #[error("building {path}: {message}")]
    Build { path: String, message: String },
    #[error(
        "the transform produces {transform:?} but the model reads {model:?}: build the model on the transform's output"
    )]
    Mismatch {
        transform: Vec<String>,
        model: Vec<String>,
    },
}

/// A pipeline folder's parts, loaded and checked to fit together.
#[derive(Debug)]
pub struct PipelineParts {
    pub spec: PipelineSpec,
    pub transform: TransformComponent,
    pub model_bytes: Vec<u8>,
    pub model_path: PathBuf,
    /// SHA-256 (hex) of the model file `pipeline.toml` names, as it is on
    /// disk (a model file, or a built component): what a reference profile
    /// is bound to, the same wherever and under whatever version number
    /// the pipeline loads.
    pub model_file_sha256: String,
}

impl PipelineSpec {
    /// Reads `<dir>/pipeline.toml`.
    pub fn read(dir: &Path) -> Result<Self, PipelineError> {
        let path = dir.join(PIPELINE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| PipelineError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let spec: PipelineSpec = toml::from_str(&text).map_err(|e| PipelineError::Spec {
            path: path.display().to_string(),
            message: e.to_string().trim().to_owned(),
        })?;
        spec.decision
            .check()
            .map_err(|message| PipelineError::Spec {
                path: path.display().to_string(),
                message,
            })?;
        Ok(spec)
    }

    /// The reference profile's path: the one `profile` names, else
    /// `profile.json` when `dir` has one.
    pub fn profile_path(&self, dir: &Path) -> Option<PathBuf> {
        match &self.profile {
            Some(path) => Some(dir.join(path)),
            None => Some(dir.join(DEFAULT_PROFILE_FILE)).filter(|p| p.is_file()),
        }
    }

    pub fn grants(&self) -> Grants {
        Grants::Namespaces(self.feature_store.namespaces.clone())
    }
}

/// Loads the pipeline in `dir` (a folder with `pipeline.toml`): the spec,
/// the transform (compiled, or taken from `cache`, and checked) and the
/// model component's bytes. A model given as a model file is built as
/// `name` `version`.
pub fn load_parts(
    engine: &ScoringEngine,
    cache: Option<&crate::compiled_cache::CompiledCache>,
    dir: &Path,
    name: &str,
    version: &str,
) -> Result<PipelineParts, PipelineError> {
    let spec = PipelineSpec::read(dir)?;
    let transform_path = dir.join(&spec.transform);
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| PipelineError::Read {
            path: path.display().to_string(),
            source,
        })
    };
    let build_error = |path: &Path, e: &dyn std::fmt::Display| PipelineError::Build {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let transform_bytes = if is_wasm(&transform_path) {
        read(&transform_path)?
    } else {
        crate::component_build::build_transform(&transform_path)
            .map_err(|e| build_error(&transform_path, &e))?
    };
    let transform = TransformComponent::new(engine, cache, &transform_bytes)
        .map_err(|source| PipelineError::Transform {
            path: transform_path.display().to_string(),
            source,
        })?
        .with_event_rules(spec.events.clone());
    spec.events
        .check(transform.inputs())
        .map_err(|message| PipelineError::Spec {
            path: dir.join(PIPELINE_FILE).display().to_string(),
            message,
        })?;
    let model_path = dir.join(&spec.model);
    let model_file_sha256 = crate::digest::sha256_hex(&read(&model_path)?);
    let model_bytes = if is_wasm(&model_path) {
        read(&model_path)?
    } else {
        let request = crate::component_build::BuildRequest {
            model: &model_path,
            format: None,
            name,
            version,
        };
        crate::component_build::build_component(&request)
            .map_err(|e| build_error(&model_path, &e))?
    };
    Ok(PipelineParts {
        spec,
        transform,
        model_bytes,
        model_path,
        model_file_sha256,
    })
}

fn is_wasm(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "wasm")
}

/// Checks the transform's outputs are what the model reads: the same names
/// in the same order (or, for a model without names, the same count).
pub fn check_fit(
    transform: &TransformComponent,
    model: &ScorerComponent,
) -> Result<(), PipelineError> {
    let produced: Vec<String> = transform
        .info()
        .outputs
        .iter()
        .map(|f| f.name.clone())
        .collect();
    let read: Vec<String> = model
        .manifest()
        .features
        .iter()
        .map(|f| f.name.clone())
        .collect();
    let unnamed = read.iter().all(String::is_empty);
    if (unnamed && produced.len() != read.len()) || (!unnamed && produced != read) {
        return Err(PipelineError::Mismatch {
            transform: produced,
            model: read,
        });
    }
    Ok(())
}
