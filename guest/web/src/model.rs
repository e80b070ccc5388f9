//! A model in the page: the model core behind wasm-bindgen.

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

    /// Scores row-major `rows` (a `Float64Array`, or a `Float32Array`
    /// whose values are widened exactly; `numFeatures` values per row, NaN
    /// for a missing value): one score per row.
    pub fn score(&self, rows: &JsValue) -> Result<Vec<f64>, JsError> {
        let scored = if let Some(rows) = rows.dyn_ref::<js_sys::Float64Array>() {
            self.inner.score(&rows.to_vec())
        } else if let Some(rows) = rows.dyn_ref::<js_sys::Float32Array>() {
            let wide: Vec<f64> = rows.to_vec().into_iter().map(f64::from).collect();
            self.inner.score(&wide)
        } else {
            return Err(JsError::new(
                "scoring failed: rows must be a Float64Array or a Float32Array, row-major",
            ));
        };
        scored.map_err(|e| JsError::new(&format!("scoring failed: {e}")))
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
