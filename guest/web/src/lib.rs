//! edgescore in the browser: the model core (`edgescore-models`) behind a
//! wasm-bindgen API, the same code and so the same bits as the server.
//!
//! ```js
//! import init, { Model } from "edgescore";
//! await init();
//! const model = Model.load(bytes);   // XGBoost JSON, LightGBM text, linear JSON, ONNX, compact
//! model.featureNames;                 // string[]
//! model.score(rows);                  // Float64Array, row-major -> Float64Array of scores
//! model.contributions(row);           // per-feature contributions, then the bias
//! ```
//!
//! Every error is a JavaScript `Error` whose message is the one the CLI
//! prints for the same mistake.

use edgescore_models::Model as CoreModel;
use wasm_bindgen::prelude::*;

/// A parsed model, ready to score rows.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Model {
    inner: CoreModel,
}

#[wasm_bindgen]
impl Model {
    /// Loads a model from its file's bytes; the format is detected from
    /// the content.
    pub fn load(bytes: &[u8]) -> Result<Model, JsError> {
        CoreModel::from_bytes(bytes, None)
            .map(|inner| Model { inner })
            .map_err(|e| JsError::new(&format!("cannot load model: {e}")))
    }

    /// The feature names in row order (empty strings when the model file
    /// names none).
    #[wasm_bindgen(getter, js_name = featureNames)]
    pub fn feature_names(&self) -> Vec<String> {
        match self.inner.feature_names() {
            Some(names) => names.to_vec(),
            None => vec![String::new(); self.inner.num_features()],
        }
    }

    /// Values per row.
    #[wasm_bindgen(getter, js_name = numFeatures)]
    pub fn num_features(&self) -> usize {
        self.inner.num_features()
    }

    /// `xgboost`, `lightgbm`, `linear` or `onnx`.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        self.inner.kind().to_string()
    }

    /// `probability`, `margin` or `regression`.
    #[wasm_bindgen(getter, js_name = outputKind)]
    pub fn output_kind(&self) -> String {
        self.inner.output_kind().name().to_owned()
    }

    /// Scores row-major `rows` (`numFeatures` values each, NaN for a
    /// missing value): one score per row.
    pub fn score(&self, rows: &[f64]) -> Result<Vec<f64>, JsError> {
        self.inner
            .score(rows)
            .map_err(|e| JsError::new(&format!("scoring failed: {e}")))
    }

    /// The raw margins (XGBoost's `output_margin`, LightGBM's `raw_score`).
    #[wasm_bindgen(js_name = rawScores)]
    pub fn raw_scores(&self, rows: &[f64]) -> Result<Vec<f64>, JsError> {
        self.inner
            .raw_scores(rows)
            .map_err(|e| JsError::new(&format!("scoring failed: {e}")))
    }

    /// One row's per-feature contributions to its raw margin, then the
    /// bias (they add up to the margin), as the server's `/v1` gives them.
    pub fn contributions(&self, row: &[f64]) -> Result<Vec<f64>, JsError> {
        self.inner
            .contributions(row)
            .map_err(|e| JsError::new(&format!("scoring failed: {e}")))
    }
}
