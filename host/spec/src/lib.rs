//! Transform specs: the TOML a user writes instead of Rust, checked and
//! compiled into a [`TransformPlan`] for `edgescore build --transform`.
//!
//! ```toml
//! name = "fraud-features"
//! version = "1"
//! time = "timestamp"               # the event time; windows need it
//!
//! [inputs]
//! amount = { type = "number", required = true }
//! timestamp = { type = "timestamp", required = true }
//! card_id = { type = "text", required = true }
//! country = { type = "text", default = "unknown" }
//!
//! [entities.card]                  # a feature-store namespace
//! key = "card_id"                  # or a list: ["card_id", "country"]
//! value = "amount"                 # what `sum` adds
//! distinct = "country"             # what `distinct_count` counts
//!
//! [[features]]
//! name = "amount_log"
//! log1p = "amount"
//!
//! [[features]]
//! name = "card_txn_1h"
//! count = "card"
//! minutes = 60
//! ```
//!
//! Every feature names exactly one operation; its operand names an input or
//! an earlier feature. Every mistake (an unknown field, a type mismatch, a
//! window past the store's retention) is refused with the line and the
//! reason, before anything is built. The operations are listed in
//! [`OPERATIONS`] and documented in the README.

mod compile;
mod syntax;
#[cfg(test)]
mod tests;

use edgescore_models::transform::TransformPlan;

/// The longest window a spec may ask for: the embedded store's default
/// retention (7 days).
pub const MAX_WINDOW_MINUTES: i64 = 7 * 24 * 60;

/// Every operation a feature may name, as its key in the spec.
pub const OPERATIONS: &[&str] = &[
    "value",
    "standardize",
    "min_max",
    "log1p",
    "clip",
    "bucketize",
    "one_hot",
    "hash",
    "hour_of_day",
    "day_of_week",
    "ratio",
    "difference",
    "equal",
    "count",
    "sum",
    "distinct_count",
    "seconds_since_last",
];

/// A spec refused: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SpecError {
    /// 1-based line of the spec the problem is on.
    pub line: usize,
    pub message: String,
}

/// Parses and checks `text`, returning the plan the component runs.
pub fn compile(text: &str) -> Result<TransformPlan, SpecError> {
    let spec: syntax::Spec = toml::from_str(text).map_err(|e| SpecError {
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        message: e.message().trim().to_owned(),
    })?;
    compile::Compiler::new(text).compile(spec)
}

/// The 1-based line that byte `offset` of `text` is on.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
