//! One version of one model, validated and ready to score, with its pool of
//! warm instances.

use std::path::Path;
use std::sync::Mutex;

use edgescore_models::Manifest;

use crate::compiled_cache::CompiledCache;
use crate::component_scorer::{ComponentError, ScorerComponent, ScorerInstance};
use crate::engine::ScoringEngine;

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
    /// Reads, compiles and validates `path` as version `version` of `model`.
    pub fn load(
        engine: &ScoringEngine,
        cache: Option<&CompiledCache>,
        model: &str,
        version: u64,
        path: &Path,
    ) -> Result<Self, ValidationError> {
        let bytes = std::fs::read(path).map_err(|source| ValidationError::Read {
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
            sha256: crate::digest::sha256_hex(bytes),
            component,
            idle: Mutex::new(vec![warm]),
        })
    }

    pub fn manifest(&self) -> &Manifest {
        self.component.manifest()
    }

    /// Scores row-major `rows` in a warm instance (or a fresh one when all
    /// are busy). A trapped instance is dropped, never returned to the pool.
    pub fn score(&self, rows: &[f32]) -> Result<Vec<f64>, ComponentError> {
        self.with_instance(|instance| instance.score(rows))
    }

    /// Like [`LoadedVersion::score`], with each row's contributions.
    pub fn score_with_contributions(
        &self,
        rows: &[f32],
    ) -> Result<(Vec<f64>, Vec<Vec<f32>>), ComponentError> {
        self.with_instance(|instance| instance.score_with_contributions(rows))
    }

    fn with_instance<R>(
        &self,
        call: impl FnOnce(&mut ScorerInstance) -> Result<R, ComponentError>,
    ) -> Result<R, ComponentError> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut instance = match taken {
            Some(instance) => instance,
            None => self.component.instantiate()?,
        };
        let result = call(&mut instance);
        if !instance.is_poisoned()
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
