//! What a pipeline decides from a score: allow, review or block by two
//! thresholds, and the reasons (the features that pushed the score up
//! most). The server, the offline commands and the browser decide through
//! here, so one transaction gets one decision and one set of reasons
//! wherever it is scored.

use serde::{Deserialize, Serialize};

/// Score thresholds of the decisions (`[decision]` of `pipeline.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// At or above: review.
    pub review: f64,
    /// At or above: block.
    pub block: f64,
}

/// What a pipeline decides about one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Review,
    Block,
}

impl Thresholds {
    /// Both finite, review at or below block; otherwise what is wrong.
    pub fn check(&self) -> Result<(), String> {
        let Self { review, block } = *self;
        if review.is_finite() && block.is_finite() && review <= block {
            Ok(())
        } else {
            Err(format!(
                "[decision] review ({review}) must be a number at or below block ({block})"
            ))
        }
    }

    pub fn decide(&self, score: f64) -> Decision {
        if score >= self.block {
            Decision::Block
        } else if score >= self.review {
            Decision::Review
        } else {
            Decision::Allow
        }
    }
}

impl Decision {
    pub fn name(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Review => "review",
            Self::Block => "block",
        }
    }
}

/// One feature's part in a score. As JSON (the server's answers, the
/// browser's): `{"feature", "value", "contribution"}`, a missing value
/// `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    pub feature: String,
    /// The feature's value (NaN: missing).
    #[serde(serialize_with = "missing_as_null")]
    pub value: f64,
    /// Its contribution to the raw margin (TreeSHAP, or the linear term).
    pub contribution: f64,
}

/// A feature value, `null` when missing (NaN).
fn missing_as_null<S: serde::Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_nan() {
        serializer.serialize_none()
    } else {
        serializer.serialize_f64(*value)
    }
}

/// The `top` features of `row` (named by `names`, in row order) with the
/// largest positive `contributions`, largest first; ties keep row order.
pub fn top_reasons<'a>(
    names: impl IntoIterator<Item = &'a str>,
    row: &[f64],
    contributions: &[f64],
    top: usize,
) -> Vec<Reason> {
    let names: Vec<&str> = names.into_iter().collect();
    let mut order: Vec<usize> = (0..names.len())
        .filter(|&f| contributions.get(f).is_some_and(|c| *c > 0.0))
        .collect();
    order.sort_by(|&a, &b| contributions[b].total_cmp(&contributions[a]));
    order
        .into_iter()
        .take(top)
        .map(|f| Reason {
            feature: names[f].to_owned(),
            value: row[f],
            contribution: contributions[f],
        })
        .collect()
}
