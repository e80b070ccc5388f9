//! What JavaScript hands the model API, checked before it reaches the
//! model core: typed arrays of rows, and model bytes.

use js_sys::{Float32Array, Float64Array, Uint8Array};
use wasm_bindgen::prelude::*;

/// Row-major rows from a Float64Array, or a Float32Array widened exactly.
pub(crate) fn rows(value: &JsValue) -> Result<Vec<f64>, String> {
    if let Some(rows) = value.dyn_ref::<Float64Array>() {
        Ok(rows.to_vec())
    } else if let Some(rows) = value.dyn_ref::<Float32Array>() {
        Ok(rows.to_vec().into_iter().map(f64::from).collect())
    } else {
        Err("rows must be a Float64Array or a Float32Array, row-major".into())
    }
}

/// A model file's bytes from a Uint8Array.
pub(crate) fn bytes(value: &JsValue) -> Result<Vec<u8>, String> {
    value.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec).ok_or_else(|| {
        "pass the model file's bytes as a Uint8Array (e.g. new Uint8Array(await response.arrayBuffer()))"
            .to_owned()
    })
}
