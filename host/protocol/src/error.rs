//! Why a request body was refused ([`ProtocolError`]): one variant per
//! mistake, with what the message needs to say what to fix.

use crate::{HEADER_LENGTH, OUTPUT};

/// A request body that does not decode. Every variant is the client's to
/// fix (a 400), except [`ProtocolError::TooManyRows`] (a 413: the body is
/// well formed but carries more than a request may).
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The `Inference-Header-Content-Length` header is not a byte count.
    #[error("the {HEADER_LENGTH} header must be the JSON header's length in bytes")]
    HeaderLength,
    /// The JSON header would end past the body.
    #[error("the {HEADER_LENGTH} header says {length} bytes of JSON, but the body has only {body}")]
    HeaderPastBody { length: usize, body: usize },
    /// The V2 JSON (or the JSON header of a binary request) does not parse
    /// as an inference request.
    #[error("the inference request is not valid JSON of the Open Inference Protocol: {0}")]
    InferRequest(#[source] serde_json::Error),
    #[error("expected exactly one input tensor of shape [rows, {width}], got {count}")]
    InputCount { width: usize, count: usize },
    /// The input's shape is not `[rows, width]` with `rows` at least 0.
    #[error(
        "input '{name}' has shape {shape:?}; this model takes [rows, {width}] ({width} features: {})",
        .features.join(", ")
    )]
    Shape {
        name: String,
        shape: Vec<i64>,
        width: usize,
        features: Vec<String>,
    },
    #[error("input '{name}' has datatype {datatype}; send FP32 or FP64")]
    Datatype { name: String, datatype: String },
    #[error("binary_data_size must be a byte count")]
    BinarySizeNotCount,
    /// `binary_data_size` is not the length of what follows the JSON header.
    #[error(
        "input '{name}' announces {size} bytes of binary data but {sent} follow the JSON header"
    )]
    BinarySizeMismatch {
        name: String,
        size: u64,
        sent: usize,
    },
    /// The binary data is not the size the shape and datatype need
    /// (`needed`: `None` when no byte count could hold it).
    #[error(
        "input '{name}' of shape [{rows}, {width}] {datatype} needs {} of binary data, but {size} bytes were sent: the shape must match the data",
        .needed.map_or_else(|| "more bytes than can exist".to_owned(), |n| format!("{n} bytes"))
    )]
    BinaryShape {
        name: String,
        rows: u64,
        width: usize,
        datatype: String,
        needed: Option<u64>,
        size: u64,
    },
    /// The JSON `data` does not hold the values the shape declares
    /// (`declared`: `None` when no count could hold them).
    #[error(
        "input '{name}' has shape [{rows}, {width}] ({}) but its data has {sent}: the shape must match the data",
        .declared.map_or_else(|| "more values than can exist".to_owned(), |n| format!("{n} values"))
    )]
    JsonShape {
        name: String,
        rows: u64,
        width: usize,
        declared: Option<u64>,
        sent: u64,
    },
    #[error("input '{name}' has both data and binary_data_size; send one")]
    BothData { name: String },
    #[error("input '{name}' has no data (and no binary_data_size)")]
    NoData { name: String },
    /// More rows (or transactions) than one request may carry.
    #[error("more than {limit} {what}")]
    TooManyRows { limit: usize, what: &'static str },
    #[error("input '{input}': {number} is not a number we can read")]
    UnreadableNumber { input: String, number: String },
    #[error(
        "input '{input}': {number} is beyond the float32 range of an FP32 tensor; send the tensor as FP64"
    )]
    BeyondFloat32 { input: String, number: String },
    /// A leaf of the JSON `data` that is not a number (`found`, as JSON).
    #[error(
        "input '{input}': data must be numbers, found {found}; JSON has no NaN, so send missing values as binary tensor data or use POST /v1/models/<model>/score"
    )]
    NotNumber { input: String, found: String },
    #[error("unknown output '{name}'; the only output is '{OUTPUT}'")]
    UnknownOutput { name: String },
    /// The body of `POST /v1/models/<m>/score` does not parse.
    #[error(
        "expected {{\"rows\": [{{\"<feature>\": <number>, ...}}, ...]}} (or rows as arrays of numbers in feature order): {0}"
    )]
    ScoreBody(#[source] serde_json::Error),
    /// A row given by names, to a model whose features have none.
    #[error(
        "row {row}: this model's features have no names; send each row as an array of its {width} values in order"
    )]
    UnnamedFeatures { row: usize, width: usize },
    #[error(
        "row {row}: '{name}' is not a feature of this model; its features are {}",
        .features.join(", ")
    )]
    UnknownFeature {
        row: usize,
        name: String,
        features: Vec<String>,
    },
    #[error("row {row} has {values} values; the model has {width} features")]
    RowWidth {
        row: usize,
        values: usize,
        width: usize,
    },
    #[error("row {row}, feature '{feature}': {number} is not a number edgescore can read")]
    UnreadableFeature {
        row: usize,
        feature: String,
        number: String,
    },
    /// A feature value that is neither a number, a boolean nor null
    /// (`found`, as JSON).
    #[error("row {row}, feature '{feature}': expected a number, true/false or null, found {found}")]
    FeatureType {
        row: usize,
        feature: String,
        found: String,
    },
    /// The body of `POST /v1/pipelines/<p>/score` does not parse.
    #[error("expected {{\"transactions\": [{{\"<field>\": <value>, ...}}, ...]}}: {0}")]
    PipelineBody(#[source] serde_json::Error),
    #[error("\"transactions\" is empty")]
    NoTransactions,
}
