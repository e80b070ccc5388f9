//! Errors of the model core: loading a model, and scoring rows with it.

use crate::Format;

/// A model file could not be turned into an evaluator.
///
/// Every variant names the format and says what was wrong, so the message can
/// be shown to the person who supplied the file as it is.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The bytes match none of the formats edgescore reads.
    #[error(
        "unrecognised model format: expected XGBoost JSON, a LightGBM text model, \
         an ONNX model, an edgescore linear JSON model or an edgescore compact model ({hint})"
    )]
    UnknownFormat { hint: String },

    /// The file is not valid JSON (XGBoost or linear format).
    #[error("{format} model is not valid JSON: {source}")]
    Json {
        format: Format,
        #[source]
        source: serde_json::Error,
    },

    /// The file parsed but a field is missing, malformed or inconsistent.
    #[error("invalid {format} model: {reason}")]
    Invalid { format: Format, reason: String },

    /// The model is well formed but uses something edgescore does not score.
    #[error("unsupported {format} model: {what}")]
    Unsupported { format: Format, what: String },
}

impl ModelError {
    pub(crate) fn invalid(format: Format, reason: impl Into<String>) -> Self {
        Self::Invalid {
            format,
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported(format: Format, what: impl Into<String>) -> Self {
        Self::Unsupported {
            format,
            what: what.into(),
        }
    }
}

/// Rows could not be scored. Always the caller's input, never the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoreError {
    /// The flat row-major buffer is not a whole number of rows.
    #[error(
        "got {values} feature values, which is not a whole number of rows of {features} features"
    )]
    Shape { values: usize, features: usize },

    /// The output buffer does not have one slot per row.
    #[error("output has room for {got} scores but the batch has {rows} rows")]
    OutputLength { rows: usize, got: usize },

    /// A missing value (NaN) where the model has no way to handle one.
    /// `row` is zero-based within the batch passed to `score`.
    #[error(
        "row {row}: feature '{feature}' is missing and this linear model has no imputation value for it"
    )]
    Missing { row: usize, feature: String },

    /// The model refuses a row, as its reference library does (an ONNX
    /// OneHotEncoder's unknown category, a missing value into a Binarizer).
    /// `row` is zero-based within the batch passed to `score`.
    #[error("row {row}: {reason}")]
    Refused { row: usize, reason: String },

    /// Per-feature contributions cannot be computed for this model.
    #[error("per-feature contributions are not available: {0}")]
    NoContributions(String),
}

impl ScoreError {
    /// The error of a batch that starts `before` rows into a larger one,
    /// with its row counted from the larger batch's start.
    pub fn with_rows_before(self, before: usize) -> Self {
        match self {
            ScoreError::Missing { row, feature } => ScoreError::Missing {
                row: row + before,
                feature,
            },
            ScoreError::Refused { row, reason } => ScoreError::Refused {
                row: row + before,
                reason,
            },
            other => other,
        }
    }
}
