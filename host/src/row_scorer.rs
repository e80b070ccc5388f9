//! What `edgescore score` scores with: the native model core, or a component
//! instance running in the sandbox. Both take the same rows and give the same
//! scores; the CSV handling around them is shared.

use edgescore_models::Model;

use crate::component_scorer::{ComponentError, ScorerInstance};
use crate::csv_rows::InputSchema;

/// A native model or a component instance.
#[derive(Debug)]
pub enum RowScorer {
    Native {
        model: Model,
        /// Give raw margins instead of scores.
        raw: bool,
    },
    Component {
        instance: ScorerInstance,
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
}

impl RowScorer {
    /// A component instance, with its input schema from `manifest`.
    pub fn component(instance: ScorerInstance, manifest: &edgescore_models::Manifest) -> Self {
        let names: Vec<String> = manifest.features.iter().map(|f| f.name.clone()).collect();
        RowScorer::Component {
            instance,
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
            RowScorer::Component { names, width, .. } => InputSchema {
                names: names.as_deref(),
                width: *width,
            },
        }
    }

    /// How many rows to pass per call: large batches natively, small ones
    /// into a component so each call stays well inside its deadline.
    pub fn batch_rows(&self) -> usize {
        match self {
            RowScorer::Native { .. } => 8192,
            RowScorer::Component { .. } => 256,
        }
    }

    /// Whether the output is raw margins.
    pub fn is_raw(&self) -> bool {
        matches!(self, RowScorer::Native { raw: true, .. })
    }

    /// Scores row-major `rows`.
    pub fn score(&mut self, rows: &[f32]) -> Result<Vec<f64>, ScoreFailure> {
        match self {
            RowScorer::Native { model, raw: false } => {
                model.score(rows).map_err(ScoreFailure::Native)
            }
            RowScorer::Native { model, raw: true } => {
                model.raw_scores(rows).map_err(ScoreFailure::Native)
            }
            RowScorer::Component { instance, .. } => {
                instance.score(rows).map_err(ScoreFailure::Component)
            }
        }
    }
}
