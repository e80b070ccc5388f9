//! One version of one model (or pipeline), validated and ready to score,
//! with its pools of warm instances.

use std::path::Path;
use std::sync::Mutex;

use edgescore_models::Manifest;

use std::sync::Arc;

use crate::config::RequestLimits;
use crate::registry::COMPONENT_FILE;
use edgescore_runtime::bindings::transformer::exports::edgescore::scoring::transform::Event;
use edgescore_runtime::compiled_cache::CompiledCache;
use edgescore_runtime::component_scorer::{ComponentError, ScorerComponent, ScorerInstance};
use edgescore_runtime::engine::ScoringEngine;
use edgescore_runtime::event_fields::{Clock, EventError, EventReader, EventRules, JsonEvent};
use edgescore_runtime::feature_store::{FeatureStore, Uncommitted};
use edgescore_runtime::host_state::FeatureAccess;
use edgescore_runtime::pipeline::{self, PIPELINE_FILE, PipelineError, PipelineSpec};
use edgescore_runtime::transform_component::{TransformComponent, TransformInstance};

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
    /// SHA-256 of the component file, hex.
    pub sha256: String,
    component: ScorerComponent,
    /// Warm instances not in use. Taken for a call and put back after it,
    /// unless the call trapped.
    idle: Mutex<Vec<ScorerInstance>>,
    /// For a pipeline version: the transform that feeds the model.
    pub pipeline: Option<LoadedPipeline>,
}

/// The transform half of a pipeline version, with its pool of instances
/// (each bound to the feature store and the pipeline's grant).
#[derive(Debug)]
pub struct LoadedPipeline {
    pub spec: PipelineSpec,
    pub transform: TransformComponent,
    features: FeatureAccess,
    idle: Mutex<Vec<TransformInstance>>,
}

impl LoadedPipeline {
    /// Whether the feature store is across the network (calls then run on
    /// the blocking pool, never on an async worker).
    pub fn store_is_remote(&self) -> bool {
        self.features.store.as_ref().is_some_and(|s| s.is_remote())
    }

    /// Reads a request's transactions as the transform's events, by the
    /// pipeline's `[events]` rules with the server's text and field limits,
    /// against the server's clock; the first refused, with its index.
    pub fn events_from_json(
        &self,
        transactions: &[JsonEvent],
        limits: &RequestLimits,
    ) -> Result<Vec<Event>, (usize, EventError)> {
        let rules = EventRules {
            max_text_bytes: limits.max_text_bytes,
            max_fields: limits.max_fields_per_event,
            ..self.transform.event_rules().clone()
        };
        let reader = EventReader::new(
            &self.transform.info().inputs,
            &rules,
            Clock::system("the server's clock"),
        )
        // Checked when the pipeline loaded.
        .map_err(|e| (0, EventError::Invalid(e)))?;
        transactions
            .iter()
            .enumerate()
            .map(|(i, t)| reader.event_from_json(t).map_err(|e| (i, e)))
            .collect()
    }

    /// Turns `events` into feature rows in a warm transform instance, in
    /// calls sized to fit the call deadline
    /// ([`TransformComponent::transform_all`]), with what they observed in
    /// the feature store, uncommitted: the caller commits it once the whole
    /// request has succeeded, and dropping it takes it back. When the
    /// transform fails, what it observed is taken back before the error is
    /// returned: a failed request leaves nothing in the store.
    pub fn transform(&self, events: &[Event]) -> Result<(Vec<f64>, Uncommitted), ComponentError> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut instance = match taken {
            Some(instance) => instance,
            None => self.transform.instantiate(self.features.clone())?,
        };
        let result = self.transform.transform_all(&mut instance, events, |_| {});
        let observed = instance.take_observed();
        if !instance.is_poisoned()
            && let Ok(mut idle) = self.idle.lock()
            && idle.len() < max_idle()
        {
            idle.push(instance);
        }
        match result {
            Ok(rows) => Ok((rows, observed)),
            Err(e) => {
                observed.undo().map_err(|undo| {
                    ComponentError::FeatureStore(format!(
                        "{e}; then taking back what the request observed failed: {undo}"
                    ))
                })?;
                Err(e)
            }
        }
    }
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

/// Idle instances kept per version: twice the cores (calls run on the async
/// workers and, for large requests, the blocking pool), at most 64. More
/// concurrent calls instantiate fresh ones (microseconds) and drop them
/// afterwards. Bounded so that many loaded versions cannot take every slot
/// of the engine's instance pool.
fn max_idle() -> usize {
    static MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(4, |n| n.get() * 2)
            .clamp(2, 64)
    })
}

impl LoadedVersion {
    /// Reads, compiles and validates the version folder `dir` as version
    /// `version` of `model`: its `model.wasm`, or the pipeline its
    /// `pipeline.toml` describes (whose transform reaches `feature_store`
    /// within the pipeline's grant).
    pub fn load(
        engine: &ScoringEngine,
        cache: Option<&CompiledCache>,
        feature_store: Option<&Arc<dyn FeatureStore>>,
        model: &str,
        version: u64,
        dir: &Path,
    ) -> Result<Self, ValidationError> {
        if dir.join(PIPELINE_FILE).is_file() {
            let parts = pipeline::load_parts(engine, dir, model, &version.to_string())?;
            let mut loaded = Self::from_bytes(engine, cache, model, version, &parts.model_bytes)?;
            pipeline::check_fit(&parts.transform, &loaded.component)?;
            let features = FeatureAccess {
                store: feature_store.cloned(),
                grants: parts.spec.grants(),
                component: format!("pipeline '{model}' version {version}"),
                undoable: true,
                journal: None,
            };
            let warm = parts.transform.instantiate(features.clone())?;
            loaded.pipeline = Some(LoadedPipeline {
                spec: parts.spec,
                transform: parts.transform,
                features,
                idle: Mutex::new(vec![warm]),
            });
            return Ok(loaded);
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
        component.verify_golden()?;
        let warm = component.instantiate()?;
        Ok(Self {
            model: model.to_owned(),
            version,
            sha256: edgescore_runtime::digest::sha256_hex(bytes),
            component,
            idle: Mutex::new(vec![warm]),
            pipeline: None,
        })
    }

    pub fn manifest(&self) -> &Manifest {
        self.component.manifest()
    }

    /// Scores row-major `rows` in a warm instance (or a fresh one when all
    /// are busy), in calls that each fit the deadline
    /// ([`ScorerComponent::score_all`]). A trapped instance is dropped,
    /// never returned to the pool.
    pub fn score(&self, rows: &[f64]) -> Result<Vec<f64>, ComponentError> {
        self.with_instance(|instance| self.component.score_all(instance, rows))
    }

    /// Like [`LoadedVersion::score`], with each row's contributions.
    pub fn score_with_contributions(
        &self,
        rows: &[f64],
    ) -> Result<(Vec<f64>, Vec<Vec<f64>>), ComponentError> {
        self.with_instance(|instance| self.component.score_all_with_contributions(instance, rows))
    }

    fn with_instance<R>(
        &self,
        call: impl FnOnce(&mut Option<ScorerInstance>) -> Result<R, ComponentError>,
    ) -> Result<R, ComponentError> {
        let mut instance = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let result = call(&mut instance);
        if let Some(instance) = instance
            && !instance.is_poisoned()
            && let Ok(mut idle) = self.idle.lock()
            && idle.len() < max_idle()
        {
            idle.push(instance);
        }
        result
    }

    /// How many warm instances wait idle.
    pub fn idle_instances(&self) -> usize {
        self.idle.lock().map(|idle| idle.len()).unwrap_or(0)
    }
}
