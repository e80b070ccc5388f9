//! The `[[features]]` tables: each names one operation and only the
//! parameters that operation takes.

use toml::Spanned;

use super::{Compiler, Result};
use crate::OPERATIONS;
use crate::syntax::FeatureSpec;

impl Compiler<'_> {
    /// Checks one feature table and adds its step (or steps, for `one_hot`).
    pub(super) fn feature(&mut self, feature: &Spanned<FeatureSpec>) -> Result<()> {
        let at = feature.span().start;
        let spec = feature.get_ref();
        let Some(name) = &spec.name else {
            return self.error(at, "a feature has no `name`");
        };
        let name_at = name.span().start;
        let name = name.get_ref().clone();
        if name.trim().is_empty() {
            return self.error(name_at, "a feature's `name` must not be empty");
        }
        let operations = present_operations(spec);
        let (op_name, op_at) = match operations.as_slice() {
            [one] => *one,
            [] => {
                return self.error(
                    at,
                    format!(
                        "feature '{name}' names no operation: use one of {}",
                        OPERATIONS.join(", ")
                    ),
                );
            }
            [first, second, ..] => {
                return self.error(
                    second.1,
                    format!(
                        "feature '{name}' names two operations, `{}` and `{}`: use one per feature (a later feature can take this one's result)",
                        first.0, second.0
                    ),
                );
            }
        };
        self.check_parameters(&name, op_name, spec)?;
        let categorical_default = op_name == "hash";
        let categorical = match &spec.kind {
            None => categorical_default,
            Some(kind) => {
                match kind.get_ref().as_str() {
                    "numeric" => false,
                    "categorical" => true,
                    other => {
                        return self.error(
                        kind.span().start,
                        format!("feature '{name}': unknown kind '{other}', use numeric or categorical"),
                    );
                    }
                }
            }
        };
        // A default stands in for a missing value: NaN would be none, and
        // neither NaN nor an infinity survives the plan's JSON.
        if let Some(d) = &spec.default
            && !d.get_ref().is_finite()
        {
            return self.error(
                d.span().start,
                format!(
                    "feature '{name}': `default` must be a finite number, not {}",
                    d.get_ref()
                ),
            );
        }
        let default = spec.default.as_ref().map(|d| *d.get_ref());
        let emit = spec.emit.unwrap_or(true);

        if op_name == "one_hot" {
            return self.one_hot(&name, op_at, spec, emit);
        }
        let op = self.operation(&name, op_name, op_at, spec)?;
        self.push_step(name_at, name, op, default, emit, categorical)
    }
    /// Parameters given that the operation does not take, or required ones missing.
    fn check_parameters(&self, name: &str, op: &str, spec: &FeatureSpec) -> Result<()> {
        let (required, optional): (&[&str], &[&str]) = match op {
            "standardize" => (&["mean", "std"], &[]),
            "min_max" | "clip" => (&["min", "max"], &[]),
            "bucketize" => (&["bounds"], &[]),
            "one_hot" => (&["categories"], &[]),
            "hash" => (&["buckets"], &[]),
            "count" | "sum" | "distinct_count" => (&["minutes"], &[]),
            "seconds_since_last" => (&[], &["minutes"]),
            _ => (&[], &[]),
        };
        for (parameter, at) in present_parameters(spec) {
            if !required.contains(&parameter) && !optional.contains(&parameter) {
                return self.error(
                    at,
                    format!("feature '{name}': `{parameter}` does not apply to `{op}`"),
                );
            }
        }
        let given: Vec<&str> = present_parameters(spec).iter().map(|p| p.0).collect();
        if let Some(missing) = required.iter().find(|p| !given.contains(p)) {
            return self.error(
                present_operations(spec)[0].1,
                format!("feature '{name}': `{op}` needs `{missing}`"),
            );
        }
        Ok(())
    }
}

/// The operations a feature table names, with where each is.
fn present_operations(spec: &FeatureSpec) -> Vec<(&'static str, usize)> {
    let single = |s: &Option<Spanned<String>>| s.as_ref().map(|s| s.span().start);
    let pair = |s: &Option<Spanned<Vec<String>>>| s.as_ref().map(|s| s.span().start);
    [
        ("value", single(&spec.value)),
        ("standardize", single(&spec.standardize)),
        ("min_max", single(&spec.min_max)),
        ("log1p", single(&spec.log1p)),
        ("clip", single(&spec.clip)),
        ("bucketize", single(&spec.bucketize)),
        ("one_hot", single(&spec.one_hot)),
        ("hash", single(&spec.hash)),
        ("hour_of_day", single(&spec.hour_of_day)),
        ("day_of_week", single(&spec.day_of_week)),
        ("ratio", pair(&spec.ratio)),
        ("difference", pair(&spec.difference)),
        ("equal", pair(&spec.equal)),
        ("count", single(&spec.count)),
        ("sum", single(&spec.sum)),
        ("distinct_count", single(&spec.distinct_count)),
        ("seconds_since_last", single(&spec.seconds_since_last)),
    ]
    .into_iter()
    .filter_map(|(name, at)| at.map(|at| (name, at)))
    .collect()
}

/// The operation parameters a feature table gives, with where each is.
fn present_parameters(spec: &FeatureSpec) -> Vec<(&'static str, usize)> {
    let number = |p: &Option<Spanned<f64>>| p.as_ref().map(|p| p.span().start);
    [
        ("mean", number(&spec.mean)),
        ("std", number(&spec.std)),
        ("min", number(&spec.min)),
        ("max", number(&spec.max)),
        ("bounds", spec.bounds.as_ref().map(|p| p.span().start)),
        (
            "categories",
            spec.categories.as_ref().map(|p| p.span().start),
        ),
        ("buckets", spec.buckets.as_ref().map(|p| p.span().start)),
        ("minutes", spec.minutes.as_ref().map(|p| p.span().start)),
    ]
    .into_iter()
    .filter_map(|(name, at)| at.map(|at| (name, at)))
    .collect()
}
