//! Each operation of a feature that reads its operands row by row (every
//! operation but the windows), turned into an [`Op`].

use edgescore_models::transform::{InputType, Op, Operand};
use toml::Spanned;

use super::{Compiler, Result};
use crate::syntax::FeatureSpec;

impl Compiler<'_> {
    /// An operand: an earlier feature by that name, else a numeric input.
    fn operand(&self, at: usize, feature: &str, op: &str, reference: &str) -> Result<Operand> {
        if let Some(&step) = self.step_index.get(reference) {
            return Ok(Operand::Step(step));
        }
        let Some(&input) = self.input_index.get(reference) else {
            return self.error(
                at,
                format!(
                    "feature '{feature}': `{op}` names '{reference}', which is neither an input nor an earlier feature"
                ),
            );
        };
        if self.inputs[input].ty == InputType::Text {
            return self.error(
                at,
                format!(
                    "feature '{feature}': `{op}` needs a number but input '{reference}' is text (use one_hot, hash or equal for text)"
                ),
            );
        }
        Ok(Operand::Input(input))
    }
    /// Two operands, for `ratio` and `difference`.
    fn pair(
        &self,
        at: usize,
        feature: &str,
        op: &str,
        refs: &[String],
    ) -> Result<(Operand, Operand)> {
        match refs {
            [a, b] => Ok((
                self.operand(at, feature, op, a)?,
                self.operand(at, feature, op, b)?,
            )),
            _ => self.error(
                at,
                format!(
                    "feature '{feature}': `{op}` takes two names, [a, b], not {}",
                    refs.len()
                ),
            ),
        }
    }
    /// The [`Op`] of operation `op` of feature `name`, its parameters checked.
    pub(super) fn operation(
        &mut self,
        name: &str,
        op: &str,
        at: usize,
        spec: &FeatureSpec,
    ) -> Result<Op> {
        let single = |s: &Option<Spanned<String>>| s.as_ref().map(|s| s.get_ref().clone());
        let number = |p: &Option<Spanned<f64>>| p.as_ref().map_or(f64::NAN, |p| *p.get_ref());
        let timestamp = [InputType::Timestamp];
        let categories = [InputType::Text, InputType::Integer, InputType::Boolean];
        let role = format!("feature '{name}': `{op}`");
        Ok(match op {
            "value" => {
                Op::Value(self.operand(at, name, op, &single(&spec.value).unwrap_or_default())?)
            }
            "log1p" => {
                Op::Log1p(self.operand(at, name, op, &single(&spec.log1p).unwrap_or_default())?)
            }
            "standardize" => {
                let std = number(&spec.std);
                if !(std.is_finite() && std > 0.0) {
                    return self.error(
                        at,
                        format!("{role} needs a positive, finite `std`, not {std}"),
                    );
                }
                let mean = number(&spec.mean);
                if !mean.is_finite() {
                    return self.error(at, format!("{role} needs a finite `mean`, not {mean}"));
                }
                Op::Standardize {
                    x: self.operand(
                        at,
                        name,
                        op,
                        &single(&spec.standardize).unwrap_or_default(),
                    )?,
                    mean,
                    std,
                }
            }
            "min_max" | "clip" => {
                let (min, max) = (number(&spec.min), number(&spec.max));
                let ordered = if op == "clip" { min <= max } else { min < max };
                if !ordered || !min.is_finite() || !max.is_finite() {
                    return self.error(
                        at,
                        format!("{role} needs finite `min` below `max`, not {min} and {max}"),
                    );
                }
                let reference = single(if op == "clip" {
                    &spec.clip
                } else {
                    &spec.min_max
                })
                .unwrap_or_default();
                let x = self.operand(at, name, op, &reference)?;
                if op == "clip" {
                    Op::Clip { x, min, max }
                } else {
                    Op::MinMax { x, min, max }
                }
            }
            "bucketize" => {
                let bounds = spec
                    .bounds
                    .as_ref()
                    .map(|b| b.get_ref().clone())
                    .unwrap_or_default();
                if bounds.is_empty()
                    || bounds.windows(2).any(|w| w[0] >= w[1])
                    || bounds.iter().any(|b| !b.is_finite())
                {
                    return self.error(
                        at,
                        format!("{role} needs finite `bounds` in strictly increasing order"),
                    );
                }
                Op::Bucketize {
                    x: self.operand(at, name, op, &single(&spec.bucketize).unwrap_or_default())?,
                    bounds,
                }
            }
            "hash" => {
                let buckets = spec.buckets.as_ref().map_or(0, |b| *b.get_ref());
                let Ok(buckets) = u32::try_from(buckets) else {
                    return self.error(
                        at,
                        format!("{role} needs `buckets` between 1 and {}", u32::MAX),
                    );
                };
                if buckets == 0 {
                    return self.error(at, format!("{role} needs at least 1 bucket"));
                }
                Op::Hash {
                    input: self.typed_input(
                        at,
                        &single(&spec.hash).unwrap_or_default(),
                        &categories,
                        &role,
                    )?,
                    buckets,
                }
            }
            "hour_of_day" => Op::HourOfDay(self.typed_input(
                at,
                &single(&spec.hour_of_day).unwrap_or_default(),
                &timestamp,
                &role,
            )?),
            "day_of_week" => Op::DayOfWeek(self.typed_input(
                at,
                &single(&spec.day_of_week).unwrap_or_default(),
                &timestamp,
                &role,
            )?),
            "ratio" | "difference" => {
                let refs = if op == "ratio" {
                    &spec.ratio
                } else {
                    &spec.difference
                };
                let refs = refs
                    .as_ref()
                    .map(|r| r.get_ref().clone())
                    .unwrap_or_default();
                let (a, b) = self.pair(at, name, op, &refs)?;
                if op == "ratio" {
                    Op::Ratio(a, b)
                } else {
                    Op::Difference(a, b)
                }
            }
            "equal" => {
                let refs = spec
                    .equal
                    .as_ref()
                    .map(|r| r.get_ref().clone())
                    .unwrap_or_default();
                let [a, b] = refs.as_slice() else {
                    return self.error(at, format!("{role} takes two input names, [a, b]"));
                };
                let all = [
                    InputType::Boolean,
                    InputType::Integer,
                    InputType::Number,
                    InputType::Text,
                    InputType::Timestamp,
                ];
                let (a, b) = (
                    self.typed_input(at, a, &all, &role)?,
                    self.typed_input(at, b, &all, &role)?,
                );
                if self.inputs[a].ty != self.inputs[b].ty {
                    return self.error(
                        at,
                        format!(
                            "{role} compares '{}' ({}) with '{}' ({}): both must have one type",
                            self.inputs[a].name,
                            self.inputs[a].ty.name(),
                            self.inputs[b].name,
                            self.inputs[b].ty.name()
                        ),
                    );
                }
                Op::Equal(a, b)
            }
            "count" | "sum" | "distinct_count" | "seconds_since_last" => {
                self.window(name, op, at, spec)?
            }
            other => {
                return self.error(at, format!("feature '{name}': unknown operation `{other}`"));
            }
        })
    }
    /// One 0/1 feature per category, named `<name>_<category>`.
    pub(super) fn one_hot(
        &mut self,
        name: &str,
        at: usize,
        spec: &FeatureSpec,
        emit: bool,
    ) -> Result<()> {
        let reference = spec
            .one_hot
            .as_ref()
            .map(|r| r.get_ref().clone())
            .unwrap_or_default();
        let input = self.typed_input(
            at,
            &reference,
            &[InputType::Text, InputType::Integer, InputType::Boolean],
            &format!("feature '{name}': `one_hot`"),
        )?;
        let categories = spec
            .categories
            .as_ref()
            .map(|c| c.get_ref().clone())
            .unwrap_or_default();
        if categories.is_empty() {
            return self.error(
                at,
                format!("feature '{name}': `one_hot` needs at least one category"),
            );
        }
        for category in categories {
            let op = Op::OneHot {
                input,
                category: category.clone(),
            };
            let default = spec.default.as_ref().map(|d| *d.get_ref());
            self.push_step(at, format!("{name}_{category}"), op, default, emit, false)?;
        }
        Ok(())
    }
}
