//! One pipeline version, loaded and ready: events in, feature rows,
//! scores, decisions and reasons out. The server (`edgescore-serve`) and
//! the offline commands (`edgescore-offline`) both run a [`Pipeline`], so
//! what a pipeline decides offline is what it decides online.
//!
//! The steps are separate methods because callers schedule them
//! differently (the server runs a transform against a remote store on its
//! blocking pool and scores through its canary routing; the offline
//! commands run everything in order with a progress bar), but each step is
//! written once, here:
//!
//! 1. [`Pipeline::event_reader`]: raw events read by the `[events]` rules;
//! 2. [`Pipeline::transform`]: events to feature rows in a warm transform
//!    instance, observed into the feature store (uncommitted, for a caller
//!    that must be all or nothing);
//! 3. [`Pipeline::score`]: rows to scores with the model;
//! 4. [`Pipeline::outcomes`]: scores to decisions by the thresholds, and
//!    the top reasons (positive contributions) of the flagged ones.

use std::path::Path;
use std::sync::Arc;

use edgescore_events::{Clock, Event, EventReader, EventRules};

use crate::bindings::edgescore::scoring::types::Feature;
use crate::compiled_cache::CompiledCache;
use crate::component_scorer::{ComponentError, ScorerComponent};
use crate::engine::ScoringEngine;
use crate::feature_store::{FeatureStore, Uncommitted};
use crate::host_state::FeatureAccess;
use crate::instance_pool::{InstancePool, Poisonable};
use crate::pooled_scorer::PooledScorer;
use crate::transform_component::{TransformComponent, TransformInstance};

use super::{Decision, PipelineError, PipelineSpec, Reason, check_fit, load_parts};

impl Poisonable for TransformInstance {
    fn is_poisoned(&self) -> bool {
        TransformInstance::is_poisoned(self)
    }
}

/// Where a pipeline's transform keeps its windows, and how.
#[derive(Debug, Clone)]
pub struct StoreAccess {
    /// `None`: the transform may not use a feature store at all.
    pub store: Option<Arc<dyn FeatureStore>>,
    /// Whether what a call observed is held until the caller commits or
    /// undoes it (a request that must be all or nothing), or let go once
    /// the call succeeds (an offline replay).
    pub undoable: bool,
}

/// A pipeline version: its spec, its transform with warm instances bound to
/// the feature store within the pipeline's grant, and its model, which
/// reproduced its golden vectors.
#[derive(Debug)]
pub struct Pipeline {
    pub spec: PipelineSpec,
    transform: TransformComponent,
    features: FeatureAccess,
    transforms: InstancePool<TransformInstance>,
    model: PooledScorer,
    model_sha256: String,
    model_file_sha256: String,
}

/// What a pipeline decided about one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub score: f64,
    pub decision: Decision,
    /// The features that pushed the score up most, largest first; empty
    /// for an allowed event unless every event was to be explained.
    pub reasons: Vec<Reason>,
}

impl Pipeline {
    /// Loads the pipeline folder `dir` as version `version` of `name`: the
    /// spec, the transform and the model (components, or sources built
    /// now), checked to fit; the model must reproduce its golden vectors.
    pub fn load(
        engine: &ScoringEngine,
        cache: Option<&CompiledCache>,
        dir: &Path,
        name: &str,
        version: &str,
        access: StoreAccess,
    ) -> Result<Self, PipelineError> {
        let parts = load_parts(engine, cache, dir, name, version)?;
        let model_error = |source| PipelineError::Model {
            path: parts.model_path.display().to_string(),
            source,
        };
        let (component, _) =
            ScorerComponent::load(engine, &parts.model_bytes, cache).map_err(model_error)?;
        check_fit(&parts.transform, &component)?;
        let model = PooledScorer::validated(component).map_err(model_error)?;
        // Reasons need contributions: a model that cannot give them
        // (XGBoost saved without node covers, ONNX) is refused now, not on
        // every flagged event. The probe row is zeros, which every model
        // scores (a linear model without imputation refuses a missing value).
        // Under the validation deadline: a busy host must not refuse a good
        // version for one slow first call.
        let probe = vec![0.0; parts.transform.info().outputs.len()];
        model
            .component()
            .check_contributions(&probe)
            .map_err(model_error)?;
        let model_sha256 = crate::digest::sha256_hex(&parts.model_bytes);
        let features = FeatureAccess {
            store: access.store,
            grants: parts.spec.grants(),
            component: format!("pipeline '{name}' version {version}"),
            undoable: access.undoable,
            journal: None,
        };
        let warm = parts
            .transform
            .instantiate(features.clone())
            .map_err(|source| PipelineError::Transform {
                path: dir.join(&parts.spec.transform).display().to_string(),
                source,
            })?;
        Ok(Self {
            spec: parts.spec,
            transform: parts.transform,
            features,
            transforms: InstancePool::with(warm),
            model,
            model_sha256,
            model_file_sha256: parts.model_file_sha256.clone(),
        })
    }

    pub fn transform_component(&self) -> &TransformComponent {
        &self.transform
    }

    pub fn model(&self) -> &PooledScorer {
        &self.model
    }

    /// SHA-256 (hex) of the model component's bytes (as built, for a model
    /// given as a model file).
    pub fn model_sha256(&self) -> &str {
        &self.model_sha256
    }

    /// SHA-256 (hex) of the model file `pipeline.toml` names, as on disk:
    /// the same wherever the pipeline loads (what reference profiles are
    /// bound to).
    pub fn model_file_sha256(&self) -> &str {
        &self.model_file_sha256
    }

    /// The features the transform produces and the model reads, in order.
    pub fn features(&self) -> &[Feature] {
        &self.transform.info().outputs
    }

    /// Whether the feature store is across the network (a caller with
    /// async workers then runs [`Pipeline::transform`] off them).
    pub fn store_is_remote(&self) -> bool {
        self.features.store.as_ref().is_some_and(|s| s.is_remote())
    }

    /// The pipeline's `[events]` rules.
    pub fn event_rules(&self) -> &EventRules {
        self.transform.event_rules()
    }

    /// A reader of raw events for the transform by `rules` (the pipeline's
    /// [`Pipeline::event_rules`], or those with a server's text and field
    /// limits), against `clock`.
    pub fn event_reader<'a>(
        &'a self,
        rules: &'a EventRules,
        clock: Clock,
    ) -> Result<EventReader<'a>, String> {
        EventReader::new(self.transform.inputs(), rules, clock)
    }

    /// Turns `events` into row-major feature rows in a warm transform
    /// instance, in calls sized to fit the call deadline
    /// ([`TransformComponent::transform_all`]; `progress` hears how many
    /// events each call did). Returns what they observed in the feature
    /// store, uncommitted when the access is undoable: the caller commits
    /// it once the whole request has succeeded, and dropping it takes it
    /// back. When the transform fails, what it observed is taken back
    /// before the error is returned.
    pub fn transform(
        &self,
        events: &[Event],
        progress: impl FnMut(usize),
    ) -> Result<(Vec<f64>, Uncommitted), ComponentError> {
        let mut instance = match self.transforms.take() {
            Some(instance) => instance,
            None => self.transform.instantiate(self.features.clone())?,
        };
        let result = self
            .transform
            .transform_all(&mut instance, events, progress);
        let observed = instance.take_observed();
        self.transforms.give_back(instance);
        match result {
            Ok(rows) => Ok((rows, observed)),
            Err(e) => match observed.undo() {
                Ok(()) => Err(e),
                Err(undo) => Err(ComponentError::UndoFailed {
                    error: Box::new(e),
                    undo,
                }),
            },
        }
    }

    /// Scores row-major feature `rows` with the pipeline's model.
    pub fn score(&self, rows: &[f64]) -> Result<Vec<f64>, ComponentError> {
        self.model.score(rows)
    }

    /// The decision for each of `scores` (of the feature `rows`), and the
    /// reasons of those flagged (review or block) or of all when
    /// `explain_all`. Reasons take contributions, computed only for the
    /// events that carry them.
    pub fn outcomes(
        &self,
        rows: &[f64],
        scores: &[f64],
        explain_all: bool,
    ) -> Result<Vec<Outcome>, ComponentError> {
        let width = self.features().len();
        let decisions: Vec<Decision> = scores
            .iter()
            .map(|&s| self.spec.decision.decide(s))
            .collect();
        let explained: Vec<usize> = (0..decisions.len())
            .filter(|&i| explain_all || decisions[i] != Decision::Allow)
            .collect();
        let contributions = if explained.is_empty() {
            Vec::new()
        } else {
            let subset: Vec<f64> = explained
                .iter()
                .flat_map(|&i| rows[i * width..(i + 1) * width].iter().copied())
                .collect();
            self.model.score_with_contributions(&subset)?.1
        };
        let mut contributions = contributions.into_iter();
        let mut outcomes = Vec::with_capacity(scores.len());
        for (i, (&score, decision)) in scores.iter().zip(decisions).enumerate() {
            let reasons = if explained.binary_search(&i).is_ok() {
                let row = &rows[i * width..(i + 1) * width];
                let c = contributions
                    .next()
                    .expect("one row of contributions per explained event");
                self.top_reasons(row, &c)
            } else {
                Vec::new()
            };
            outcomes.push(Outcome {
                score,
                decision,
                reasons,
            });
        }
        Ok(outcomes)
    }

    /// The `[reasons] top` features with the largest positive
    /// contributions, largest first.
    fn top_reasons(&self, row: &[f64], contributions: &[f64]) -> Vec<Reason> {
        let names = self.features().iter().map(|f| f.name.as_str());
        edgescore_models::decision::top_reasons(names, row, contributions, self.spec.reasons.top)
    }
}
