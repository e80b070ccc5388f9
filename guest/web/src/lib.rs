//! edgescore in the browser: the model core (`edgescore-models`), the
//! transform interpreter and the event rules behind a wasm-bindgen API, the
//! same code and so the same bits as the server.
//!
//! ```js
//! import init, { Model, Pipeline } from "edgescore";
//! await init();
//! const model = Model.load(bytes);   // XGBoost JSON, LightGBM text, linear JSON, ONNX, compact
//! model.featureNames;                 // string[]
//! model.score(rows);                  // Float64Array or Float32Array, row-major -> Float64Array
//! model.contributions(row);           // per-feature contributions, then the bias
//! const p = Pipeline.load(transformSpecToml, modelBytes, { review: 0.5, block: 0.9 });
//! p.score(transaction);               // { score, decision, reasons, features }
//! ```
//!
//! The code map: [`Model`] (`model.rs`), `Pipeline` (`pipeline.rs`) and
//! its feature store in page memory (`page_store.rs`). `Pipeline` is the
//! `pipeline` feature (on by default: the package `edgescore`); built
//! without it, the wasm holds `Model` alone (`edgescore/models`), for
//! pages that only score models.
//!
//! Every error is a JavaScript `Error` whose message is the one the CLI
//! prints for the same mistake.

mod js_input;
#[cfg(feature = "pipeline")]
mod js_object;
mod model;
#[cfg(feature = "pipeline")]
mod page_store;
#[cfg(feature = "pipeline")]
mod pipeline;

pub use model::Model;
#[cfg(feature = "pipeline")]
pub use pipeline::Pipeline;
