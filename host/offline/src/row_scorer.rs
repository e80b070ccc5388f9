//! What `edgescore score` scores with: the native model core, the GPU
//! backend, or a component instance running in the sandbox. All take the
//! same rows and give the same scores; the CSV handling around them is
//! shared.

use edgescore_gpu::{GpuError, GpuScorer};
use edgescore_models::Model;

use crate::csv_rows::InputSchema;
use edgescore_runtime::component_scorer::{ComponentError, ScorerComponent, ScorerInstance};

/// A native model or a component instance.
#[derive(Debug)]
pub enum RowScorer {
    Native {
        model: Model,
        /// Give raw margins instead of scores.
        raw: bool,
        /// Threads a batch's scores are split across (the same bits on any count).
        threads: usize,
    },
    /// The model's trees on the GPU (`edgescore_gpu`).
    Gpu {
        gpu: Box<GpuScorer>,
        /// Give raw margins instead of scores.
        raw: bool,
    },
    Component {
        component: Box<ScorerComponent>,
        /// The instance calls go to; replaced after a call traps.
        instance: Option<ScorerInstance>,
        /// Feature names from the component's manifest, when it has them.
        names: Option<Vec<String>>,
        width: usize,
    },
}

/// Why a batch could not be scored. Rows are counted within the batch.
#[derive(Debug)]
pub enum ScoreFailure {
    Native(edgescore_models::ScoreError),
    Component(ComponentError),
    Gpu(GpuError),
}

impl From<GpuError> for ScoreFailure {
    /// Rows the model refuses are refused as the native model refuses them.
    fn from(e: GpuError) -> Self {
        match e {
            GpuError::Input(e) => ScoreFailure::Native(e),
            other => ScoreFailure::Gpu(other),
        }
    }
}

impl RowScorer {
    /// A loaded component, with its input schema from its manifest.
    pub fn component(component: ScorerComponent) -> Self {
        let manifest = component.manifest();
        let names: Vec<String> = manifest.features.iter().map(|f| f.name.clone()).collect();
        RowScorer::Component {
            component: Box::new(component),
            instance: None,
            width: names.len(),
            names: names.iter().all(|n| !n.is_empty()).then_some(names),
        }
    }

    /// The columns the scorer expects.
    pub fn schema(&self) -> InputSchema<'_> {
        match self {
            RowScorer::Native { model, .. } => InputSchema {
                names: model.feature_names(),
                width: model.num_features(),
            },
            RowScorer::Gpu { gpu, .. } => InputSchema {
                names: gpu.model().feature_names(),
                width: gpu.model().num_features(),
            },
            RowScorer::Component { names, width, .. } => InputSchema {
                names: names.as_deref(),
                width: *width,
            },
        }
    }

    /// How many rows to read per batch ([`RowScorer::score`] splits a
    /// batch into calls that fit a component's deadline; the GPU takes
    /// larger batches, its cost being per call).
    pub fn batch_rows(&self) -> usize {
        match self {
            RowScorer::Gpu { .. } => 1 << 18,
            _ => 8192,
        }
    }

    /// Whether the output is raw margins.
    pub fn is_raw(&self) -> bool {
        matches!(
            self,
            RowScorer::Native { raw: true, .. } | RowScorer::Gpu { raw: true, .. }
        )
    }

    /// Scores row-major `rows`; a component scores them in calls that each
    /// fit its deadline (see [`ScorerComponent::score_all`]).
    pub fn score(&mut self, rows: &[f64]) -> Result<Vec<f64>, ScoreFailure> {
        match self {
            RowScorer::Native {
                model,
                raw: false,
                threads,
            } => model
                .score_threads(rows, *threads)
                .map_err(ScoreFailure::Native),
            RowScorer::Native {
                model, raw: true, ..
            } => model.raw_scores(rows).map_err(ScoreFailure::Native),
            RowScorer::Gpu { gpu, raw: false } => Ok(gpu.score(rows)?),
            RowScorer::Gpu { gpu, raw: true } => Ok(gpu.raw_scores(rows)?),
            RowScorer::Component {
                component,
                instance,
                ..
            } => component
                .score_all(instance, rows)
                .map_err(ScoreFailure::Component),
        }
    }
}
