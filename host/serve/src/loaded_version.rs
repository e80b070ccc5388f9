//! One version of one model (or pipeline), validated and ready to score,
//! with its pools of warm instances: a model, or a pipeline.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use edgescore_models::Manifest;

use crate::batching::{BatchSize, Batcher, Pending};
use crate::config::RequestLimits;
use crate::metrics::Metrics;
use crate::model_serving::{Backend, ModelServing};
use crate::version_scorer::VersionScorer;
use edgescore_events::Event;
use edgescore_events::{Clock, EventError, EventRules, JsonEvent};
use edgescore_runtime::compiled_cache::CompiledCache;
use edgescore_runtime::component_scorer::{ComponentError, ScorerComponent};
use edgescore_runtime::engine::ScoringEngine;
use edgescore_runtime::feature_store::FeatureStore;
use edgescore_runtime::native_scorer::NativeScorer;
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
    /// A pipeline's live drift against its reference profile (the
    /// version's `profile.json`), when it has one.
    pub drift: Option<crate::drift::VersionDrift>,
    /// Who signed the version folder, when the server checks signatures
    /// (set by the registry after it verified the folder, before loading).
    pub signature: Option<crate::signatures::SignedBy>,
}

/// What a version deploys: a model alone, or a pipeline (a transform that
/// feeds a model).
// One per loaded version, behind an `Arc`: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Deployment {
    Model {
        scorer: Arc<VersionScorer>,
        /// The batch queue, when the model batches requests.
        batcher: Option<Batcher>,
    },
    Pipeline(Pipeline),
}

/// How the server serves a version: its model's settings (`[models.<m>]`)
/// and where its batches are recorded.
#[derive(Debug, Clone, Default)]
pub struct ServingOptions {
    pub settings: ModelServing,
    pub metrics: Option<Arc<Metrics>>,
    /// How a pipeline with a reference profile watches its drift.
    pub drift: edgescore_drift::DriftConfig,
}

impl LoadedVersion {
    /// The pipeline, when the version deploys one.
    pub fn pipeline(&self) -> Option<&Pipeline> {
        match &self.deployment {
            Deployment::Model { .. } => None,
            Deployment::Pipeline(pipeline) => Some(pipeline),
        }
    }

    /// The version's own hash: SHA-256 over its model component's hash and,
    /// for a pipeline with a reference profile, the profile's; a new
    /// profile is a new version as a new model is.
    pub fn version_sha256(&self) -> String {
        let profile = self
            .drift
            .as_ref()
            .map_or("", |d| d.profile_sha256.as_str());
        edgescore_runtime::digest::sha256_hex(format!("{}\n{profile}", self.sha256).as_bytes())
    }

    /// The backend the version's model scores on.
    pub fn backend(&self) -> Backend {
        match &self.deployment {
            Deployment::Model { scorer, .. } => scorer.backend(),
            Deployment::Pipeline(_) => Backend::Component,
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
    /// `[models.<m>]` asks for what a pipeline cannot do.
    #[error(
        "it is a pipeline, and [models.{model}] in the server's config sets {setting}: pipelines run their components unbatched; remove it"
    )]
    PipelineServing {
        model: String,
        setting: &'static str,
    },
    /// Its reference profile cannot be read or does not fit.
    #[error("its reference profile {0}")]
    Profile(crate::drift::ProfileLoadError),
    #[error("cannot start its batch thread: {0}")]
    BatchThread(std::io::Error),
    /// `backend = "gpu"`, and the GPU backend cannot take it.
    #[error("{0}")]
    Gpu(#[from] edgescore_gpu::GpuError),
}

impl LoadedVersion {
    /// Reads, compiles and validates the version folder `dir` as version
    /// `version` of `model`: its `model.wasm`, or the pipeline its
    /// `pipeline.toml` describes (whose transform reaches `feature_store`
    /// within the pipeline's grant, each request all or nothing). A model
    /// is served as `serving` says (backend, batching); a pipeline only with
    /// the defaults.
    pub fn load(
        engine: &ScoringEngine,
        cache: Option<&CompiledCache>,
        feature_store: Option<&Arc<dyn FeatureStore>>,
        serving: &ServingOptions,
        model: &str,
        version: u64,
        dir: &Path,
    ) -> Result<Self, ValidationError> {
        if dir.join(PIPELINE_FILE).is_file() {
            let setting = if serving.settings.backend != Backend::Component {
                Some("backend")
            } else if serving.settings.batching() {
                Some("max_batch_rows")
            } else {
                None
            };
            if let Some(setting) = setting {
                return Err(ValidationError::PipelineServing {
                    model: model.to_owned(),
                    setting,
                });
            }
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
            let drift =
                crate::drift::VersionDrift::load(dir, &pipeline, model, version, &serving.drift)
                    .map_err(ValidationError::Profile)?;
            return Ok(Self {
                model: model.to_owned(),
                version,
                sha256: pipeline.model_sha256().to_owned(),
                deployment: Deployment::Pipeline(pipeline),
                drift,
                signature: None,
            });
        }
        let path = dir.join(COMPONENT_FILE);
        let bytes = std::fs::read(&path).map_err(|source| ValidationError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(engine, cache, serving, model, version, &bytes)
    }

    /// Validates component bytes for the backend `serving` names: compiled
    /// and run on its golden vectors in the sandbox, or its model read out
    /// of it and run on them natively; and starts its batch thread when it
    /// batches.
    pub fn from_bytes(
        engine: &ScoringEngine,
        cache: Option<&CompiledCache>,
        serving: &ServingOptions,
        model: &str,
        version: u64,
        bytes: &[u8],
    ) -> Result<Self, ValidationError> {
        let scorer = match serving.settings.backend {
            Backend::Native => VersionScorer::Native(NativeScorer::load(bytes)?),
            Backend::Gpu => VersionScorer::gpu(bytes)?,
            Backend::Component => {
                let (component, _) = ScorerComponent::load(engine, bytes, cache)?;
                VersionScorer::Component(PooledScorer::validated(component)?)
            }
        };
        if scorer.manifest().name != model {
            return Err(ValidationError::WrongModel {
                expected: model.to_owned(),
                found: scorer.manifest().name.clone(),
            });
        }
        let scorer = Arc::new(scorer);
        let batcher = serving
            .settings
            .batching()
            .then(|| {
                let metrics = serving.metrics.clone();
                let name = model.to_owned();
                Batcher::start(
                    scorer.clone(),
                    serving.settings.max_batch_rows,
                    Duration::from_micros(serving.settings.max_queue_delay_us),
                    &format!("{model}-{version}"),
                    Box::new(move |size: BatchSize| {
                        if let Some(metrics) = &metrics {
                            metrics.batch(&name, size);
                        }
                    }),
                )
            })
            .transpose()
            .map_err(ValidationError::BatchThread)?;
        Ok(Self {
            model: model.to_owned(),
            version,
            sha256: edgescore_runtime::digest::sha256_hex(bytes),
            deployment: Deployment::Model { scorer, batcher },
            drift: None,
            signature: None,
        })
    }

    pub fn manifest(&self) -> &Manifest {
        match &self.deployment {
            Deployment::Model { scorer, .. } => scorer.manifest(),
            Deployment::Pipeline(pipeline) => pipeline.model().manifest(),
        }
    }

    /// Scores row-major `rows` with the version's model (a pipeline's: its
    /// model component), unbatched.
    pub fn score(&self, rows: &[f64]) -> Result<Vec<f64>, ComponentError> {
        match &self.deployment {
            Deployment::Model { scorer, .. } => scorer.score(rows),
            Deployment::Pipeline(pipeline) => pipeline.model().score(rows),
        }
    }

    /// Queues `rows` for the version's next batch; the rows back when the
    /// version does not batch or they go alone ([`Batcher::submit`]).
    pub fn submit_to_batch(&self, rows: Vec<f64>) -> Result<Pending, Vec<f64>> {
        match &self.deployment {
            Deployment::Model {
                batcher: Some(batcher),
                ..
            } => batcher.submit(rows),
            _ => Err(rows),
        }
    }

    /// Like [`LoadedVersion::score`], with each row's contributions.
    pub fn score_with_contributions(
        &self,
        rows: &[f64],
    ) -> Result<(Vec<f64>, Vec<Vec<f64>>), ComponentError> {
        match &self.deployment {
            Deployment::Model { scorer, .. } => scorer.score_with_contributions(rows),
            Deployment::Pipeline(pipeline) => pipeline.model().score_with_contributions(rows),
        }
    }

    /// How many warm scorer instances wait idle; `None` on the native
    /// backend, which has none.
    pub fn idle_instances(&self) -> Option<usize> {
        match &self.deployment {
            Deployment::Model { scorer, .. } => scorer.idle_instances(),
            Deployment::Pipeline(pipeline) => Some(pipeline.model().idle_instances()),
        }
    }
}
