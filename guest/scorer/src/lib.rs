//! The scorer component: `edgescore-models` behind the WIT `scorer` world.
//!
//! Built once, generically, as `scorer-template`; `edgescore build` calls
//! [`initialize`](Guest::initialize) with one model's artifact and snapshots
//! the instance, so the shipped component starts with the model already
//! parsed in its memory. `initialize` stays exported but refuses a second call.

use std::sync::OnceLock;

use edgescore_models::{Artifact, FeatureKind, ModelKind, OutputKind, ScoreError as CoreError};

wit_bindgen::generate!({
    world: "scorer-template",
    path: "../../wit",
});

use edgescore::scoring::types::{
    BadInput, Feature, FeatureKind as WitFeatureKind, ModelInfo, ModelKind as WitModelKind,
    OutputKind as WitOutputKind, Score, ScoreError, ScoreOptions,
};

/// Batches of up to this many rows are scored without a heap buffer.
const STACK_ROWS: usize = 64;

/// The loaded model; set once by `initialize`, before the snapshot.
static LOADED: OnceLock<Artifact> = OnceLock::new();

struct Scorer;

export!(Scorer);

impl Guest for Scorer {
    fn initialize(artifact: Vec<u8>) -> Result<(), String> {
        let artifact = Artifact::from_bytes(&artifact).map_err(|e| e.to_string())?;
        LOADED
            .set(artifact)
            .map_err(|_| "the scorer is already initialized".to_owned())
    }
}

impl exports::edgescore::scoring::model::Guest for Scorer {
    fn info() -> ModelInfo {
        let Some(Artifact { manifest, model }) = LOADED.get() else {
            return ModelInfo {
                name: String::new(),
                version: String::new(),
                kind: WitModelKind::Xgboost,
                objective: String::new(),
                output: WitOutputKind::Probability,
                features: Vec::new(),
                model_sha256: String::new(),
            };
        };
        ModelInfo {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            kind: match model.kind() {
                ModelKind::XGBoost => WitModelKind::Xgboost,
                ModelKind::LightGbm => WitModelKind::Lightgbm,
                ModelKind::Linear => WitModelKind::Linear,
                ModelKind::Onnx => WitModelKind::Onnx,
            },
            objective: model.objective().to_owned(),
            output: match model.output_kind() {
                OutputKind::Probability => WitOutputKind::Probability,
                OutputKind::Margin => WitOutputKind::Margin,
                OutputKind::Regression => WitOutputKind::Regression,
            },
            features: manifest
                .features
                .iter()
                .zip(model.feature_kinds())
                .map(|(f, kind)| Feature {
                    name: f.name.clone(),
                    kind: match kind {
                        FeatureKind::Numeric => WitFeatureKind::Numeric,
                        FeatureKind::Categorical => WitFeatureKind::Categorical,
                    },
                })
                .collect(),
            model_sha256: manifest.model_sha256.clone(),
        }
    }

    fn score_batch(rows: Vec<f64>, options: ScoreOptions) -> Result<Vec<Score>, ScoreError> {
        let Some(Artifact { model, .. }) = LOADED.get() else {
            return Err(ScoreError::Internal(
                "the scorer has no model: it was not built by `edgescore build`".into(),
            ));
        };
        // Small batches (the common edge call is one row) are scored into a
        // stack buffer: no allocation besides the returned list.
        let count = rows.len().checked_div(model.num_features()).unwrap_or(0);
        let mut stack = [0.0; STACK_ROWS];
        let mut heap = Vec::new();
        let scores: &mut [f64] = if count <= STACK_ROWS {
            &mut stack[..count]
        } else {
            heap.resize(count, 0.0);
            &mut heap
        };
        model.score_into(&rows, scores).map_err(|e| {
            let message = e.to_string();
            match e {
                CoreError::Missing { row, feature } => {
                    bad_input(Some(row as u32), Some(feature), message)
                }
                _ => bad_input(None, None, message),
            }
        })?;
        if !options.contributions {
            return Ok(scores
                .iter()
                .map(|&value| Score {
                    value,
                    contributions: None,
                })
                .collect());
        }
        // One value per feature, then the bias, per row.
        let contributions = model
            .contributions(&rows)
            .map_err(|e| bad_input(None, None, e.to_string()))?;
        let width = model.num_features() + 1;
        Ok(scores
            .iter()
            .zip(contributions.chunks(width))
            .map(|(&value, row)| Score {
                value,
                contributions: Some(row.to_vec()),
            })
            .collect())
    }
}

fn bad_input(row: Option<u32>, feature: Option<String>, message: String) -> ScoreError {
    ScoreError::BadInput(BadInput {
        row,
        feature,
        message,
    })
}
