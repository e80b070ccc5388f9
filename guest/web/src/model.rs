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
    pub fn load(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: &JsValue,
    ) -> Result<Model, JsError> {
        let bytes = crate::js_input::bytes(bytes)
            .map_err(|e| JsError::new(&format!("cannot load model: {e}")))?;
        CoreModel::from_bytes(&bytes, None)
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
    pub fn score(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Float64Array | Float32Array")] rows: &JsValue,
    ) -> Result<Vec<f64>, JsError> {
        let rows = crate::js_input::rows(rows).map_err(scoring_failed)?;
        self.inner.score(&rows).map_err(scoring_failed)
    }

    /// The raw margins (XGBoost's `output_margin`, LightGBM's `raw_score`).
    #[wasm_bindgen(js_name = rawScores)]
    pub fn raw_scores(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Float64Array | Float32Array")] rows: &JsValue,
    ) -> Result<Vec<f64>, JsError> {
        let rows = crate::js_input::rows(rows).map_err(scoring_failed)?;
        self.inner.raw_scores(&rows).map_err(scoring_failed)
    }

    /// One row's per-feature contributions to its raw margin, then the
    /// bias (they add up to the margin), as the server's `/v1` gives them.
    pub fn contributions(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Float64Array | Float32Array")] row: &JsValue,
    ) -> Result<Vec<f64>, JsError> {
        let row = crate::js_input::rows(row).map_err(scoring_failed)?;
        self.inner.contributions(&row).map_err(scoring_failed)
    }
}

/// A scoring error as the CLI words it.
fn scoring_failed(e: impl std::fmt::Display) -> JsError {
    JsError::new(&format!("scoring failed: {e}"))
}
