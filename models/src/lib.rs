//! The model core of edgescore.
//!
//! Model files (XGBoost JSON, LightGBM text, the edgescore linear JSON format
//! and edgescore's own compact encoding) are parsed into evaluators that
//! score exactly like the library that trained them. This crate does no I/O:
//! it takes bytes and rows and gives back scores, so it builds unchanged for
//! native targets, `wasm32-wasip2` and `wasm32-unknown-unknown`.
//!
//! ```
//! use edgescore_models::Model;
//!
//! let json = br#"{"format": "edgescore-linear", "format_version": 1, "kind": "logistic",
//!                 "coefficients": [2.0, -1.0], "intercept": 0.5}"#;
//! let model = Model::from_bytes(json, None)?;
//! // Two rows of two features, row-major.
//! let scores = model.score(&[1.0, 3.0, 0.25, 0.0])?;
//! assert_eq!(scores.len(), 2);
//! assert!(scores[0] < 0.5 && scores[1] > 0.5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The feature contract
//! Feature values are `f64` on every path (CLI, component, browser), row-major,
//! with NaN for a missing value: the precision callers have (pandas, JSON,
//! CSV text). Each family narrows as its library does: XGBoost casts each
//! value to `f32` (so `1e300` is `+inf`), LightGBM compares the `f64` value
//! with its `f64` thresholds, linear models compute in `f64` as
//! scikit-learn does.

pub mod artifact;
mod category_set;
pub mod decision;
mod encoding;
mod error;
mod expf;
pub mod fnv;
mod format;
pub mod gpu_forest;
mod lanes;
mod lightgbm;
mod linear;
mod link;
mod model;
mod onnx;
mod parallel;
mod probe;
pub mod transform;
mod tree_check;
mod tree_shap;
mod xgboost;

pub use artifact::{Artifact, GoldenVector, Manifest, ManifestFeature, WIT_PACKAGE};
pub use error::{ModelError, ScoreError};
pub use format::Format;
pub use model::{FeatureKind, Model, ModelKind, OutputKind};
pub use parallel::PARALLEL_MIN_ROWS;
pub use probe::probe_rows;
pub use xgboost::SimdWalk;

/// Result of loading a model.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
