//! The `[inputs]` table and the `time` key: each input's type and
//! default, and the lookups later checks make by input name.

use edgescore_models::transform::{EventValue, InputPlan, InputType, parse_rfc3339_ms};
use toml::Spanned;

use super::{Compiler, Result};
use crate::syntax::InputSpec;

impl Compiler<'_> {
    /// Declares input `name`: a known type, a default of that type, and
    /// not both required and defaulted.
    pub(super) fn input(
        &mut self,
        name: &Spanned<String>,
        input: &Spanned<InputSpec>,
    ) -> Result<()> {
        let ty = match input.get_ref().ty.get_ref().as_str() {
            "boolean" => InputType::Boolean,
            "integer" => InputType::Integer,
            "number" => InputType::Number,
            "text" => InputType::Text,
            "timestamp" => InputType::Timestamp,
            other => {
                return self.error(
                    input.get_ref().ty.span().start,
                    format!(
                        "input '{}' has unknown type '{other}': use boolean, integer, number, text or timestamp",
                        name.get_ref()
                    ),
                );
            }
        };
        let default = match &input.get_ref().default {
            None => None,
            Some(value) => Some(self.default_value(name.get_ref(), ty, value)?),
        };
        if input.get_ref().required && default.is_some() {
            return self.error(
                input.span().start,
                format!(
                    "input '{}' is required and has a default: a required field never uses its default; drop one",
                    name.get_ref()
                ),
            );
        }
        self.input_index
            .insert(name.get_ref().clone(), self.inputs.len());
        self.inputs.push(InputPlan {
            name: name.get_ref().clone(),
            ty,
            required: input.get_ref().required,
            default,
        });
        Ok(())
    }

    /// `value` as a default of an input of type `ty`.
    fn default_value(
        &self,
        name: &str,
        ty: InputType,
        value: &Spanned<toml::Value>,
    ) -> Result<EventValue> {
        let converted = match (ty, value.get_ref()) {
            (InputType::Boolean, toml::Value::Boolean(b)) => Some(EventValue::Boolean(*b)),
            (InputType::Integer, toml::Value::Integer(i)) => Some(EventValue::Integer(*i)),
            // NaN and the infinities are no number an event may carry.
            (InputType::Number, toml::Value::Float(x)) if x.is_finite() => {
                Some(EventValue::Number(*x))
            }
            (InputType::Number, toml::Value::Integer(i)) => Some(EventValue::Number(*i as f64)),
            (InputType::Text, toml::Value::String(s)) => Some(EventValue::Text(s.clone())),
            (InputType::Timestamp, toml::Value::Integer(_)) => {
                return self.error(
                    value.span().start,
                    format!(
                        "the default of input '{name}' is an integer, which names no unit: give a time as RFC 3339 text, such as \"2026-01-01T00:00:00Z\""
                    ),
                );
            }
            (InputType::Timestamp, toml::Value::String(s)) => {
                parse_rfc3339_ms(s).map(EventValue::Timestamp)
            }
            (InputType::Timestamp, toml::Value::Datetime(d)) => {
                parse_rfc3339_ms(&d.to_string()).map(EventValue::Timestamp)
            }
            _ => None,
        };
        match converted {
            Some(v) => Ok(v),
            None => self.error(
                value.span().start,
                format!(
                    "the default of input '{name}' is {}, which is not a {}",
                    value.get_ref(),
                    ty.name()
                ),
            ),
        }
    }

    /// The index of the event time input: a required timestamp.
    pub(super) fn time_input(&self, time: &Spanned<String>) -> Result<usize> {
        let at = time.span().start;
        let Some(&index) = self.input_index.get(time.get_ref()) else {
            return self.error(
                at,
                format!("`time` names '{}', which is not an input", time.get_ref()),
            );
        };
        let input = &self.inputs[index];
        if input.ty != InputType::Timestamp {
            return self.error(
                at,
                format!(
                    "`time` names '{}', which is a {}: the event time must be a timestamp",
                    input.name,
                    input.ty.name()
                ),
            );
        }
        if !input.required {
            return self.error(
                at,
                format!(
                    "the time input '{}' must be required (windows need every event's time)",
                    input.name
                ),
            );
        }
        Ok(index)
    }

    /// The input `name` refers to, checked to be one of `types`.
    pub(super) fn typed_input(
        &self,
        at: usize,
        name: &str,
        types: &[InputType],
        role: &str,
    ) -> Result<usize> {
        let Some(&index) = self.input_index.get(name) else {
            return self.error(at, format!("{role} names '{name}', which is not an input"));
        };
        let ty = self.inputs[index].ty;
        if !types.contains(&ty) {
            let wanted: Vec<_> = types.iter().map(|t| t.name()).collect();
            return self.error(
                at,
                format!(
                    "{role} needs {} but input '{name}' is a {}",
                    wanted.join(" or "),
                    ty.name()
                ),
            );
        }
        Ok(index)
    }
}
