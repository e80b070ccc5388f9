//! The wire formats `edgescore serve` reads, decoded into typed values:
//! no wasmtime, no axum, no tokio, so every decoder here is fuzzed on its
//! own (`fuzz/`).
//!
//! - the Open Inference Protocol (KServe V2) request with Triton's binary
//!   tensor data extension: [`split_body`] (the JSON header and the bytes
//!   after it), [`InferRequest`] (the JSON, its one input tensor read as
//!   rows of `f64`, which output is asked for and how);
//! - `POST /v1/models/<m>/score`: [`ScoreRequest`] (rows by name or in
//!   order) and [`ScoreRequest::feature_rows`];
//! - `POST /v1/pipelines/<p>/score`: [`PipelineRequest`] (raw
//!   transactions, read later by the pipeline's event rules);
//! - [`bounded_json`]: a body whose one array is counted as it is read.
//!
//! Every refusal is a [`ProtocolError`] whose message says what to fix;
//! the server answers [`ProtocolError::TooManyRows`] with 413 and every
//! other variant with 400.

pub mod bounded_json;
mod error;
mod infer_input;
mod infer_request;
mod pipeline_request;
mod score_request;

pub use self::error::ProtocolError;
pub use self::infer_request::{InferRequest, split_body};
pub use self::pipeline_request::PipelineRequest;
pub use self::score_request::{Row, ScoreRequest};

/// The request (and response) header that announces binary tensor data:
/// the JSON header's length.
pub const HEADER_LENGTH: &str = "inference-header-content-length";
/// The one output every model has.
pub const OUTPUT: &str = "score";
