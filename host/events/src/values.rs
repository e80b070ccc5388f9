//! One input's value from any source (a CSV cell, a typed Parquet
//! value, a JSON value), read by one rule per type.

use edgescore_models::transform::format_rfc3339_ms;
use serde_json::Value;

use super::error::{not_scalar, shown, wrong_type};
use super::{EventError, EventReader};
use crate::{Cell, EventValue, FieldSpec, InputType};

/// Integers at most this far from zero are exact in a float64.
const EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

impl EventReader<'_> {
    /// Input `input`'s value from text (a CSV cell); `None` when empty.
    /// Booleans are `true`/`false`/`1`/`0`.
    pub fn from_text(&self, input: usize, text: &str) -> Result<Option<EventValue>, EventError> {
        let spec = &self.inputs[input];
        self.check_length(spec, text).map_err(EventError::Invalid)?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let value = match spec.ty {
            InputType::Text => Some(EventValue::Text(text.to_owned())),
            InputType::Number => {
                return number(spec, text.parse::<f64>().ok(), text)
                    .map(Some)
                    .map_err(EventError::Invalid);
            }
            InputType::Integer => match text.parse::<i64>() {
                Ok(i) => Some(EventValue::Integer(i)),
                Err(_) => text.parse::<f64>().ok().and_then(integral),
            },
            InputType::Boolean => match text.to_ascii_lowercase().as_str() {
                "true" | "1" => Some(EventValue::Boolean(true)),
                "false" | "0" => Some(EventValue::Boolean(false)),
                _ => None,
            },
            InputType::Timestamp => {
                return match text.parse::<i64>() {
                    Ok(i) => self.integer_time(spec, i).map(Some),
                    Err(_) => self.text_time(spec, text).map(Some),
                };
            }
        };
        value
            .map(Some)
            .ok_or_else(|| EventError::Invalid(wrong_type(spec, &format!("{:?}", shown(text)))))
    }

    /// Input `input`'s value from a table cell (CSV text or a typed Parquet
    /// value); `None` when missing. Text goes through
    /// [`EventReader::from_text`]; a typed value is taken when it means the
    /// same as its text would.
    pub fn from_cell(&self, input: usize, cell: &Cell) -> Result<Option<EventValue>, EventError> {
        let spec = &self.inputs[input];
        let converted = match (spec.ty, cell) {
            (_, Cell::Missing) => return Ok(None),
            (_, Cell::Text(text)) => return self.from_text(input, text),
            (InputType::Text, Cell::Integer(i)) => Some(EventValue::Text(i.to_string())),
            (InputType::Text, Cell::Boolean(b)) => Some(EventValue::Text(b.to_string())),
            (InputType::Number, Cell::Number(x)) => {
                return number(spec, Some(*x), &x.to_string())
                    .map(Some)
                    .map_err(EventError::Invalid);
            }
            (InputType::Number, Cell::Integer(i)) => Some(EventValue::Number(*i as f64)),
            (InputType::Integer, Cell::Integer(i)) => Some(EventValue::Integer(*i)),
            // pandas stores integer columns with nulls as floats.
            (InputType::Integer, Cell::Number(x)) => integral(*x),
            (InputType::Boolean, Cell::Boolean(b)) => Some(EventValue::Boolean(*b)),
            (InputType::Boolean, Cell::Integer(i @ (0 | 1))) => Some(EventValue::Boolean(*i == 1)),
            (InputType::Timestamp, Cell::Timestamp(ms)) => {
                return self.checked_time(spec, *ms, None).map(Some);
            }
            (InputType::Timestamp, Cell::Integer(i)) => {
                return self.integer_time(spec, *i).map(Some);
            }
            _ => None,
        };
        converted.map(Some).ok_or_else(|| {
            let got = match cell {
                Cell::Timestamp(ms) => format!("the timestamp {}", format_rfc3339_ms(*ms)),
                Cell::Boolean(b) => format!("the boolean {b}"),
                Cell::Number(x) => format!("the number {x}"),
                other => shown(&other.to_text()),
            };
            EventError::Invalid(wrong_type(spec, &got))
        })
    }

    /// Input `input`'s value from JSON; `None` for `null` or an empty text.
    pub fn from_json(&self, input: usize, value: &Value) -> Result<Option<EventValue>, EventError> {
        let spec = &self.inputs[input];
        if let Value::String(s) = value {
            self.check_length(spec, s).map_err(EventError::Invalid)?;
            if s.trim().is_empty() {
                return Ok(None);
            }
        }
        let converted = match (spec.ty, value) {
            (_, Value::Null) => return Ok(None),
            (_, Value::Array(_) | Value::Object(_)) => {
                return Err(EventError::Invalid(not_scalar(&spec.name, value)));
            }
            (InputType::Text, Value::String(s)) => Some(EventValue::Text(s.trim().to_owned())),
            (InputType::Number, Value::Number(n)) => {
                return number(spec, n.as_f64(), &n.to_string())
                    .map(Some)
                    .map_err(EventError::Invalid);
            }
            (InputType::Integer, Value::Number(n)) => n
                .as_i64()
                .map(EventValue::Integer)
                .or_else(|| n.as_f64().and_then(integral)),
            (InputType::Boolean, Value::Bool(b)) => Some(EventValue::Boolean(*b)),
            (InputType::Timestamp, Value::Number(n)) => match n.as_i64() {
                Some(i) => return self.integer_time(spec, i).map(Some),
                None => None,
            },
            (InputType::Timestamp, Value::String(s)) => {
                return self.text_time(spec, s.trim()).map(Some);
            }
            _ => None,
        };
        converted.map(Some).ok_or_else(|| {
            let got = match value {
                Value::String(s) => format!("the text {:?}", shown(s)),
                other => shown(&other.to_string()),
            };
            EventError::Invalid(wrong_type(spec, &got))
        })
    }
}

/// A finite number, or why not.
fn number(spec: &FieldSpec, parsed: Option<f64>, text: &str) -> Result<EventValue, String> {
    match parsed {
        Some(x) if x.is_finite() => Ok(EventValue::Number(x)),
        Some(x) if x.is_nan() => Err(format!(
            "field '{}' must be a finite number, not {:?} (leave it empty or null when it is missing)",
            spec.name,
            shown(text)
        )),
        Some(_) => Err(format!(
            "field '{}' must be a finite number, not {:?} (infinite, or past the float64 range of ±1.8e308)",
            spec.name,
            shown(text)
        )),
        None => Err(wrong_type(spec, &format!("{:?}", shown(text)))),
    }
}

/// A float that is an integer within the range where floats are exact.
fn integral(x: f64) -> Option<EventValue> {
    (x.fract() == 0.0 && x.abs() <= EXACT_INTEGER).then_some(EventValue::Integer(x as i64))
}
