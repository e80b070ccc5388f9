//! A validated scorer component with its pool of warm instances: what the
//! server scores a model version with, and what a pipeline scores its
//! feature rows with.

use edgescore_models::Manifest;

use crate::compiled_cache::CompiledCache;
use crate::component_scorer::{ComponentError, ScorerComponent, ScorerInstance};
use crate::engine::ScoringEngine;
use crate::instance_pool::{InstancePool, Poisonable};

impl Poisonable for ScorerInstance {
    fn is_poisoned(&self) -> bool {
        ScorerInstance::is_poisoned(self)
    }
}

/// A scorer component that reproduced its golden vectors, with warm
/// instances.
#[derive(Debug)]
pub struct PooledScorer {
    component: ScorerComponent,
    pool: InstancePool<ScorerInstance>,
}

impl PooledScorer {
    /// Compiles (or takes from `cache`) and validates component `bytes`:
    /// its golden vectors must score bit for bit as recorded, and one
    /// instance is made ready.
    pub fn load(
        engine: &ScoringEngine,
        bytes: &[u8],
        cache: Option<&CompiledCache>,
    ) -> Result<Self, ComponentError> {
        let (component, _) = ScorerComponent::load(engine, bytes, cache)?;
        Self::validated(component)
    }

    /// Validates an already compiled component (see [`PooledScorer::load`]).
    pub fn validated(component: ScorerComponent) -> Result<Self, ComponentError> {
        component.verify_golden()?;
        let warm = component.instantiate()?;
        Ok(Self {
            component,
            pool: InstancePool::with(warm),
        })
    }

    pub fn component(&self) -> &ScorerComponent {
        &self.component
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

    /// Like [`PooledScorer::score`], with each row's contributions.
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
        let mut instance = self.pool.take();
        let result = call(&mut instance);
        if let Some(instance) = instance {
            self.pool.give_back(instance);
        }
        result
    }

    /// How many warm instances wait idle.
    pub fn idle_instances(&self) -> usize {
        self.pool.idle()
    }
}
