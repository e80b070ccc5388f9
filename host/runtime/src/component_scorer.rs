//! A scorer component loaded into the engine, and instances that score with it.
//!
//! Loading checks everything once (it is a component, it carries a manifest,
//! it imports nothing the host does not give, it exports the `model`
//! interface) and prepares an `InstancePre`, so creating an instance is only
//! instantiation. An instance runs every call under the engine's limits; a
//! call that traps poisons the instance, which must then be dropped.

use edgescore_models::{Manifest, WIT_PACKAGE};
use wasmtime::component::Component;

use crate::bindings::edgescore::scoring::types::{ModelInfo, Score, ScoreError, ScoreOptions};
use crate::bindings::{Scorer, ScorerPre};
use crate::compiled_cache::{CacheOutcome, CompiledCache};
pub use crate::component_error::ComponentError;
use crate::engine::ScoringEngine;
use crate::host_state::{self, FeatureAccess, HostState};
use crate::manifest_section;
use crate::sandboxed_instance::{InstanceLimits, SandboxedInstance};

/// A scorer component, checked and prepared for fast instantiation.
pub struct ScorerComponent {
    manifest: Manifest,
    pre: ScorerPre<HostState>,
    limits: InstanceLimits,
    /// The limits of the golden check: the deadline raised for a first call.
    validation_limits: InstanceLimits,
}

impl std::fmt::Debug for ScorerComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScorerComponent")
            .field("manifest", &self.manifest)
            .finish_non_exhaustive()
    }
}

impl ScorerComponent {
    /// Compiles and checks a component built by `edgescore build`.
    pub fn new(engine: &ScoringEngine, bytes: &[u8]) -> Result<Self, ComponentError> {
        Self::load(engine, bytes, None).map(|(component, _)| component)
    }

    /// Like [`ScorerComponent::new`], taking the compiled code from `cache`
    /// when it has a valid entry (and storing it there when not).
    pub fn load(
        engine: &ScoringEngine,
        bytes: &[u8],
        cache: Option<&CompiledCache>,
    ) -> Result<(Self, Option<CacheOutcome>), ComponentError> {
        let manifest = manifest_section::read(bytes)
            .map_err(ComponentError::Invalid)?
            .ok_or_else(|| {
                ComponentError::Invalid(format!(
                    "it has no `{}` section; build it with `edgescore build`",
                    manifest_section::SECTION
                ))
            })?;
        if manifest.wit_package != WIT_PACKAGE {
            return Err(ComponentError::Contract {
                built_for: manifest.wit_package,
                expected: WIT_PACKAGE,
            });
        }
        let needs = crate::initial_memory::largest_initial_memory(bytes)
            .map_err(ComponentError::Invalid)?;
        let cap = engine.limits().memory_bytes as u64;
        if needs > cap {
            return Err(ComponentError::MemoryCap {
                needs_mib: needs.div_ceil(1 << 20),
                cap_mib: cap >> 20,
            });
        }
        let (component, outcome) = match cache {
            Some(cache) => cache
                .load(engine.engine(), bytes)
                .map(|(c, outcome)| (c, Some(outcome))),
            None => Component::new(engine.engine(), bytes).map(|c| (c, None)),
        }
        .map_err(|e| ComponentError::Invalid(format!("{e:#}")))?;
        Ok((Self::from_component(engine, &component, manifest)?, outcome))
    }

    /// Prepares an already compiled component.
    pub fn from_component(
        engine: &ScoringEngine,
        component: &Component,
        manifest: Manifest,
    ) -> Result<Self, ComponentError> {
        let linker = host_state::linker_for(engine, component, false)?;
        // A WASI interface outside WASI 0.2's set (or a newer version) is
        // named in the error.
        let instance_pre = linker.instantiate_pre(component).map_err(|e| {
            ComponentError::UnsupportedImport(format!("{e:#}").replace("component imports ", ""))
        })?;
        let pre = ScorerPre::new(instance_pre).map_err(|e| {
            ComponentError::Invalid(format!("it does not export the scorer world: {e:#}"))
        })?;
        Ok(Self {
            manifest,
            pre,
            limits: InstanceLimits::of(engine),
            validation_limits: InstanceLimits::validating(engine),
        })
    }

    /// The manifest the component was built with.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Rows per call that fit the call deadline (see [`crate::call_budget`]).
    pub fn rows_per_call(&self, contributions: bool) -> usize {
        self.limits
            .call_budget()
            .rows_per_call(&self.manifest, contributions)
    }

    /// Scores any number of rows in calls that each fit the deadline, on
    /// `instance` (replaced by a fresh one when a call traps). See
    /// [`crate::call_budget::score_in_calls`].
    pub fn score_all(
        &self,
        instance: &mut Option<ScorerInstance>,
        rows: &[f64],
    ) -> Result<Vec<f64>, ComponentError> {
        let width = self.manifest.features.len();
        crate::call_budget::score_in_calls(rows, width, self.rows_per_call(false), |chunk| {
            self.live(instance)?.score(chunk)
        })
    }

    /// [`ScorerComponent::score_all`] with each row's contributions.
    #[allow(clippy::type_complexity)]
    pub fn score_all_with_contributions(
        &self,
        instance: &mut Option<ScorerInstance>,
        rows: &[f64],
    ) -> Result<(Vec<f64>, Vec<Vec<f64>>), ComponentError> {
        let width = self.manifest.features.len();
        let scored =
            crate::call_budget::score_in_calls(rows, width, self.rows_per_call(true), |chunk| {
                let (scores, contributions) =
                    self.live(instance)?.score_with_contributions(chunk)?;
                Ok(scores.into_iter().zip(contributions).collect())
            })?;
        Ok(scored.into_iter().unzip())
    }

    /// `instance`, or a fresh one in its place when it is absent or poisoned.
    fn live<'a>(
        &self,
        instance: &'a mut Option<ScorerInstance>,
    ) -> Result<&'a mut ScorerInstance, ComponentError> {
        if instance.as_ref().is_none_or(ScorerInstance::is_poisoned) {
            *instance = Some(self.instantiate()?);
        }
        instance.as_mut().ok_or(ComponentError::Poisoned)
    }

    /// A fresh instance, in its own store.
    pub fn instantiate(&self) -> Result<ScorerInstance, ComponentError> {
        self.instantiate_under(self.limits)
    }

    fn instantiate_under(&self, limits: InstanceLimits) -> Result<ScorerInstance, ComponentError> {
        Ok(ScorerInstance {
            sandbox: SandboxedInstance::new(
                self.pre.engine(),
                limits,
                FeatureAccess::default(),
                |store| self.pre.instantiate(store),
            )?,
            width: self.manifest.features.len(),
        })
    }

    /// Scores the manifest's golden vectors in a fresh instance and checks
    /// every score is bit-identical to the one recorded at build time. The
    /// calls are those of a request, under the validation deadline
    /// ([`crate::limits::VALIDATION_DEADLINE`]).
    pub fn verify_golden(&self) -> Result<usize, ComponentError> {
        let mut instance = self.instantiate_under(self.validation_limits)?;
        let width = self.manifest.features.len();
        crate::golden_check::verify_golden(&self.manifest, "in the component", |rows| {
            crate::call_budget::score_in_calls(rows, width, self.rows_per_call(false), |chunk| {
                instance.score(chunk)
            })
        })
    }

    /// Scores `row` with its contributions in a fresh instance, under the
    /// validation deadline as [`ScorerComponent::verify_golden`] does: the
    /// check that a model can give reasons, made once when it is loaded.
    pub fn check_contributions(&self, row: &[f64]) -> Result<(), ComponentError> {
        let mut instance = self.instantiate_under(self.validation_limits)?;
        instance.score_with_contributions(row).map(drop)
    }
}

/// One instance of a scorer component, reusable across calls until a call traps.
#[derive(Debug)]
pub struct ScorerInstance {
    sandbox: SandboxedInstance<Scorer>,
    /// Features per row, from the manifest.
    width: usize,
}

impl ScorerInstance {
    /// Scores row-major `rows` inside the component.
    pub fn score(&mut self, rows: &[f64]) -> Result<Vec<f64>, ComponentError> {
        self.score_batch(rows, false)
            .map(|scores| scores.into_iter().map(|s| s.value).collect())
    }

    /// Scores `rows` and returns each row's per-feature contributions too:
    /// one per feature, then the bias (they add up to the raw margin).
    pub fn score_with_contributions(
        &mut self,
        rows: &[f64],
    ) -> Result<(Vec<f64>, Vec<Vec<f64>>), ComponentError> {
        let scores = self.score_batch(rows, true)?;
        let width = self.width + 1;
        let mut values = Vec::with_capacity(scores.len());
        let mut contributions = Vec::with_capacity(scores.len());
        for score in scores {
            match score.contributions {
                Some(c) if c.len() == width => contributions.push(c),
                other => {
                    self.sandbox.poison();
                    return Err(ComponentError::Internal(format!(
                        "returned {} contributions for a row of {} features (expected one per feature and the bias)",
                        other.map_or(0, |c| c.len()),
                        self.width
                    )));
                }
            }
            values.push(score.value);
        }
        Ok((values, contributions))
    }

    fn score_batch(
        &mut self,
        rows: &[f64],
        contributions: bool,
    ) -> Result<Vec<Score>, ComponentError> {
        self.sandbox
            .call(|store, bindings| {
                bindings.edgescore_scoring_model().call_score_batch(
                    store,
                    rows,
                    ScoreOptions { contributions },
                )
            })
            .and_then(|result| match result {
                Ok(scores) if scores.len() != expected_rows(rows, self.width) => {
                    self.sandbox.poison();
                    Err(ComponentError::Internal(format!(
                        "returned {} scores for {} rows",
                        scores.len(),
                        expected_rows(rows, self.width)
                    )))
                }
                Ok(scores) => Ok(scores),
                Err(ScoreError::BadInput(b)) => Err(ComponentError::BadInput {
                    row: b.row,
                    feature: b.feature,
                    message: b.message,
                }),
                Err(ScoreError::Internal(m)) => Err(ComponentError::Internal(m)),
            })
    }

    /// The component's own description of its model.
    pub fn info(&mut self) -> Result<ModelInfo, ComponentError> {
        self.sandbox
            .call(|store, bindings| bindings.edgescore_scoring_model().call_info(store))
    }

    /// Whether a call trapped; a poisoned instance refuses further calls.
    pub fn is_poisoned(&self) -> bool {
        self.sandbox.is_poisoned()
    }
}

/// How many rows `rows` holds for a model `width` features wide (what a
/// correct component returns scores for; a wrong length is its error).
fn expected_rows(rows: &[f64], width: usize) -> usize {
    rows.len().checked_div(width).unwrap_or(0)
}
