//! What scores a model version's rows: its component in the sandbox (the
//! default), its model natively (`backend = "native"`), or its model on the
//! GPU (`backend = "gpu"`).

use edgescore_gpu::{GpuError, GpuScorer};
use edgescore_models::Manifest;
use edgescore_runtime::component_scorer::ComponentError;
use edgescore_runtime::native_scorer::NativeScorer;
use edgescore_runtime::pooled_scorer::PooledScorer;

use crate::loaded_version::ValidationError;
use crate::model_serving::Backend;

/// One version's scorer; both answer the same bits and the same errors.
#[derive(Debug)]
pub enum VersionScorer {
    Component(PooledScorer),
    Native(NativeScorer),
    /// The GPU scores; the native model gives the manifest and the
    /// contributions (TreeSHAP runs on the CPU).
    Gpu {
        native: NativeScorer,
        gpu: Box<GpuScorer>,
    },
}

impl VersionScorer {
    /// The component's model on the GPU, checked against its golden
    /// vectors there, bit for bit.
    pub fn gpu(bytes: &[u8]) -> Result<Self, ValidationError> {
        let native = NativeScorer::load(bytes)?;
        let gpu = GpuScorer::new(native.model())?;
        edgescore_runtime::golden_check::verify_golden(native.manifest(), "on the GPU", |rows| {
            gpu.score(rows).map_err(gpu_error)
        })?;
        Ok(Self::Gpu {
            native,
            gpu: Box::new(gpu),
        })
    }
}

/// A GPU failure as the server classifies it: rows the model refuses are
/// the client's, anything else the backend's.
fn gpu_error(e: GpuError) -> ComponentError {
    match e {
        GpuError::Input(e) => ComponentError::BadInput {
            row: None,
            feature: None,
            message: e.to_string(),
        },
        other => ComponentError::Internal(other.to_string()),
    }
}

impl VersionScorer {
    pub fn backend(&self) -> Backend {
        match self {
            Self::Component(_) => Backend::Component,
            Self::Native(_) => Backend::Native,
            Self::Gpu { .. } => Backend::Gpu,
        }
    }

    pub fn manifest(&self) -> &Manifest {
        match self {
            Self::Component(scorer) => scorer.manifest(),
            Self::Native(scorer) | Self::Gpu { native: scorer, .. } => scorer.manifest(),
        }
    }

    /// Scores row-major `rows`.
    pub fn score(&self, rows: &[f64]) -> Result<Vec<f64>, ComponentError> {
        match self {
            Self::Component(scorer) => scorer.score(rows),
            Self::Native(scorer) => scorer.score(rows),
            Self::Gpu { gpu, .. } => gpu.score(rows).map_err(gpu_error),
        }
    }

    /// Scores `rows` with each row's contributions (one per feature, then
    /// the bias).
    pub fn score_with_contributions(
        &self,
        rows: &[f64],
    ) -> Result<(Vec<f64>, Vec<Vec<f64>>), ComponentError> {
        match self {
            Self::Component(scorer) => scorer.score_with_contributions(rows),
            Self::Native(scorer) | Self::Gpu { native: scorer, .. } => {
                scorer.score_with_contributions(rows)
            }
        }
    }

    /// Warm instances waiting idle; `None` for the native and GPU
    /// backends, which have no instances.
    pub fn idle_instances(&self) -> Option<usize> {
        match self {
            Self::Component(scorer) => Some(scorer.idle_instances()),
            Self::Native(_) | Self::Gpu { .. } => None,
        }
    }
}
