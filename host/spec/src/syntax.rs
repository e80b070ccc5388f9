//! What a transform spec file may contain, as read by serde. Values that can
//! be wrong keep their span so errors can name the line.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Spec {
    pub(super) name: Spanned<String>,
    pub(super) version: Spanned<String>,
    pub(super) time: Option<Spanned<String>>,
    pub(super) inputs: Spanned<BTreeMap<Spanned<String>, Spanned<InputSpec>>>,
    #[serde(default)]
    pub(super) entities: BTreeMap<Spanned<String>, Spanned<EntitySpec>>,
    #[serde(default)]
    pub(super) features: Vec<Spanned<FeatureSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InputSpec {
    #[serde(rename = "type")]
    pub(super) ty: Spanned<String>,
    #[serde(default)]
    pub(super) required: bool,
    pub(super) default: Option<Spanned<toml::Value>>,
}

/// One field name or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(super) fn names(&self) -> Vec<&str> {
        match self {
            Self::One(name) => vec![name],
            Self::Many(names) => names.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EntitySpec {
    pub(super) key: Spanned<OneOrMany>,
    pub(super) value: Option<Spanned<String>>,
    pub(super) distinct: Option<Spanned<String>>,
}

/// One `[[features]]` table: a name, exactly one operation and its parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FeatureSpec {
    pub(super) name: Option<Spanned<String>>,
    // Operations (exactly one).
    pub(super) value: Option<Spanned<String>>,
    pub(super) standardize: Option<Spanned<String>>,
    pub(super) min_max: Option<Spanned<String>>,
    pub(super) log1p: Option<Spanned<String>>,
    pub(super) clip: Option<Spanned<String>>,
    pub(super) bucketize: Option<Spanned<String>>,
    pub(super) one_hot: Option<Spanned<String>>,
    pub(super) hash: Option<Spanned<String>>,
    pub(super) hour_of_day: Option<Spanned<String>>,
    pub(super) day_of_week: Option<Spanned<String>>,
    pub(super) ratio: Option<Spanned<Vec<String>>>,
    pub(super) difference: Option<Spanned<Vec<String>>>,
    pub(super) equal: Option<Spanned<Vec<String>>>,
    pub(super) count: Option<Spanned<String>>,
    pub(super) sum: Option<Spanned<String>>,
    pub(super) distinct_count: Option<Spanned<String>>,
    pub(super) seconds_since_last: Option<Spanned<String>>,
    // Parameters.
    pub(super) mean: Option<Spanned<f64>>,
    pub(super) std: Option<Spanned<f64>>,
    pub(super) min: Option<Spanned<f64>>,
    pub(super) max: Option<Spanned<f64>>,
    pub(super) bounds: Option<Spanned<Vec<f64>>>,
    pub(super) categories: Option<Spanned<Vec<String>>>,
    pub(super) buckets: Option<Spanned<i64>>,
    pub(super) minutes: Option<Spanned<i64>>,
    // Common settings.
    pub(super) default: Option<Spanned<f64>>,
    pub(super) emit: Option<bool>,
    pub(super) kind: Option<Spanned<String>>,
}
