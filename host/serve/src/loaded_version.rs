//! One version of one model (or pipeline), validated and ready to score,
//! with its pools of warm instances: a model, or a pipeline.

use std::path::Path;
use std::sync::Arc;

use edgescore_models::Manifest;

use crate::config::RequestLimits;
use edgescore_runtime::bindings::transformer::exports::edgescore::scoring::transform::Event;
use edgescore_runtime::compiled_cache::CompiledCache;
use edgescore_runtime::component_scorer::{ComponentError, ScorerComponent};
use edgescore_runtime::engine::ScoringEngine;
use edgescore_runtime::event_fields::{Clock, EventError, EventRules, JsonEvent};
use edgescore_runtime::feature_store::FeatureStore;
use edgescore_runtime::pipeline::{PIPELINE_FILE, Pipeline, PipelineError, StoreAccess};
use edgescore_runtime::pooled_scorer::PooledScorer;

/// The file a model version folder holds.
pub const COMPONENT_FILE: &str = "model.wasm";

/// A version that passed validation: it compiled, instantiated within the
/// limits and reproduced its embedded golden vectors bit for bit.
///
/// Requests hold it by `Arc`; a swap only changes which `Arc` new requests
/// get, so a request in flight finishes here and the version is dropped
/// when the last one ends.
#[derive(Debug)]
pub struct LoadedVersion {
    pub model: String,
    pub version: u64,
    /// SHA-256 of the component file (a pipeline's: of its model), hex.
    pub sha256: String,
    pub deployment: Deployment,
}

/// What a version deploys: a model alone, or a pipeline (a transform that
/// feeds a model).
// One per loaded version, behind an `Arc`: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Deployment {
    Model(PooledScorer),
    Pipeline(Pipeline),
}

impl LoadedVersion {
    /// The pipeline, when the version deploys one.
    pub fn pipeline(&self) -> Option<&Pipeline> {
        match &self.deployment {
            Deployment::Model(_) => None,
            Deployment::Pipeline(pipeline) => Some(pipeline),
        }
    }

    /// The model that scores feature rows: the version's own, or its
    /// pipeline's.
    pub fn scorer(&self) -> &PooledScorer {
        match &self.deployment {
            Deployment::Model(scorer) => scorer,
            Deployment::Pipeline(pipeline) => pipeline.model(),
        }
    }
}

/// Reads a request's transactions as `pipeline`'s events, by its `[events]`
/// rules with the server's text and field limits, against the server's
/// clock; the first refused, with its index.
pub fn events_from_json(
    pipeline: &Pipeline,
    transactions: &[JsonEvent],
    limits: &RequestLimits,
) -> Result<Vec<Event>, (usize, EventError)> {
    let rules = EventRules {
        max_text_bytes: limits.max_text_bytes,
        max_fields: limits.max_fields_per_event,
        ..pipeline.event_rules().clone()
    };
    let reader = pipeline
        .event_reader(&rules, Clock::system("the server's clock"))
        // Checked when the pipeline loaded.
        .map_err(|e| (0, EventError::Invalid(e)))?;
    transactions
        .iter()
        .enumerate()
        .map(|(i, t)| reader.event_from_json(t).map_err(|e| (i, e)))
        .collect()
}

/// Why a version was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Component(#[from] ComponentError),
    #[error("{0}")]
    Pipeline(#[from] PipelineError),
    #[error(
        "its manifest names model '{found}', but it is in the registry folder of model '{expected}'"
    )]
    WrongModel { expected: String, found: String },
}

impl LoadedVersion {
    /// Reads, compiles and validates the version folder `dir` as version
    /// `version` of `model`: its `model.wasm`, or the pipeline its
    /// `pipeline.toml` describes (whose transform reaches `feature_store`
    /// within the pipeline's grant, each request all or nothing).
    pub fn load(
        engine: &ScoringEngine,
        cache: Option<&CompiledCache>,
        feature_store: Option<&Arc<dyn FeatureStore>>,
        model: &str,
        version: u64,
        dir: &Path,
    ) -> Result<Self, ValidationError> {
        if dir.join(PIPELINE_FILE).is_file() {
            let access = StoreAccess {
                store: feature_store.cloned(),
                undoable: true,
            };
            let pipeline = Pipeline::load(engine, cache, dir, model, &version.to_string(), access)?;
            let found = &pipeline.model().manifest().name;
            if found != model {
                return Err(ValidationError::WrongModel {
                    expected: model.to_owned(),
                    found: found.clone(),
                });
            }
            return Ok(Self {
                model: model.to_owned(),
                version,
                sha256: pipeline.model_sha256().to_owned(),
                deployment: Deployment::Pipeline(pipeline),
            });
        }
        let path = dir.join(COMPONENT_FILE);
        let bytes = std::fs::read(&path).map_err(|source| ValidationError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(engine, cache, model, version, &bytes)
    }

    /// Compiles and validates component bytes.
    pub fn from_bytes(
        engine: &ScoringEngine,
        cache: Option<&CompiledCache>,
        model: &str,
        version: u64,
        bytes: &[u8],
    ) -> Result<Self, ValidationError> {
        let (component, _) = ScorerComponent::load(engine, bytes, cache)?;
        if component.manifest().name != model {
            return Err(ValidationError::WrongModel {
                expected: model.to_owned(),
                found: component.manifest().name.clone(),
            });
        }
        Ok(Self {
            model: model.to_owned(),
            version,
            sha256: edgescore_runtime::digest::sha256_hex(bytes),
            deployment: Deployment::Model(PooledScorer::validated(component)?),
        })
    }

    pub fn manifest(&self) -> &Manifest {
        self.scorer().manifest()
    }

    /// Scores row-major `rows` ([`PooledScorer::score`]).
    pub fn score(&self, rows: &[f64]) -> Result<Vec<f64>, ComponentError> {
        self.scorer().score(rows)
    }

    /// Like [`LoadedVersion::score`], with each row's contributions.
    pub fn score_with_contributions(
        &self,
        rows: &[f64],
    ) -> Result<(Vec<f64>, Vec<Vec<f64>>), ComponentError> {
        self.scorer().score_with_contributions(rows)
    }

    /// How many warm scorer instances wait idle.
    pub fn idle_instances(&self) -> usize {
        self.scorer().idle_instances()
    }
}
