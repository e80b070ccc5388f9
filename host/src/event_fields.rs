//! Raw event values from CSV cells, Parquet values and JSON values, typed
//! by what the transform declares it reads. Every path (the server,
//! `edgescore transform`, `edgescore eval`) converts through here, so an
//! event means the same wherever it comes from.

use edgescore_models::transform::parse_rfc3339_ms;

use crate::bindings::transformer::exports::edgescore::scoring::transform::{
    Field, FieldSpec, FieldType, FieldValue,
};
use crate::table::Cell;

/// A CSV cell as a value of `spec`'s type; `None` for an empty cell (the
/// field is then absent). Booleans are `true`/`false`/`1`/`0`; timestamps
/// RFC 3339 or integer milliseconds since the epoch.
pub fn from_text(spec: &FieldSpec, cell: &str) -> Result<Option<FieldValue>, String> {
    let cell = cell.trim();
    if cell.is_empty() {
        return Ok(None);
    }
    let value = match spec.type_ {
        FieldType::Text => Some(FieldValue::Text(cell.to_owned())),
        FieldType::Number => cell
            .parse::<f64>()
            .ok()
            .filter(|x| !x.is_nan())
            .map(FieldValue::Number),
        FieldType::Integer => cell.parse::<i64>().ok().map(FieldValue::Integer),
        FieldType::Boolean => match cell.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(FieldValue::Boolean(true)),
            "false" | "0" => Some(FieldValue::Boolean(false)),
            _ => None,
        },
        FieldType::Timestamp => cell
            .parse::<i64>()
            .ok()
            .or_else(|| parse_rfc3339_ms(cell))
            .map(FieldValue::Timestamp),
    };
    value
        .map(Some)
        .ok_or_else(|| wrong_type(spec, &format!("{cell:?}")))
}

/// A table cell (CSV text or a typed Parquet value) as a value of `spec`'s
/// type; `None` when missing. Text goes through [`from_text`]; a typed
/// value is taken when it means the same as its text would: integers for
/// numbers, text and millisecond timestamps, integral numbers for
/// integers, 0/1 for booleans.
pub fn from_cell(spec: &FieldSpec, cell: &Cell) -> Result<Option<FieldValue>, String> {
    let converted = match (spec.type_, cell) {
        (_, Cell::Missing) => return Ok(None),
        (_, Cell::Text(text)) => return from_text(spec, text),
        (FieldType::Text, Cell::Integer(i)) => Some(FieldValue::Text(i.to_string())),
        (FieldType::Text, Cell::Boolean(b)) => Some(FieldValue::Text(b.to_string())),
        (FieldType::Number, Cell::Number(x)) => (!x.is_nan()).then_some(FieldValue::Number(*x)),
        (FieldType::Number, Cell::Integer(i)) => Some(FieldValue::Number(*i as f64)),
        (FieldType::Integer, Cell::Integer(i)) => Some(FieldValue::Integer(*i)),
        (FieldType::Integer, Cell::Number(x)) => {
            // pandas stores integer columns with nulls as floats.
            (x.fract() == 0.0 && x.abs() < 9.0e15).then_some(FieldValue::Integer(*x as i64))
        }
        (FieldType::Boolean, Cell::Boolean(b)) => Some(FieldValue::Boolean(*b)),
        (FieldType::Boolean, Cell::Integer(i @ (0 | 1))) => Some(FieldValue::Boolean(*i == 1)),
        (FieldType::Timestamp, Cell::Timestamp(ms) | Cell::Integer(ms)) => {
            Some(FieldValue::Timestamp(*ms))
        }
        _ => None,
    };
    converted.map(Some).ok_or_else(|| {
        let got = match cell {
            Cell::Timestamp(ms) => format!("the timestamp {}", cell_text(*ms)),
            Cell::Boolean(b) => format!("the boolean {b}"),
            Cell::Number(x) => format!("the number {x}"),
            other => other.to_text(),
        };
        wrong_type(spec, &got)
    })
}

fn cell_text(ms: i64) -> String {
    edgescore_models::transform::format_rfc3339_ms(ms)
}

/// A JSON value as a value of `spec`'s type; `None` for `null`.
pub fn from_json(
    spec: &FieldSpec,
    value: &serde_json::Value,
) -> Result<Option<FieldValue>, String> {
    use serde_json::Value;
    let converted = match (spec.type_, value) {
        (_, Value::Null) => return Ok(None),
        (FieldType::Text, Value::String(s)) => Some(FieldValue::Text(s.clone())),
        (FieldType::Number, Value::Number(n)) => n.as_f64().map(FieldValue::Number),
        (FieldType::Integer, Value::Number(n)) => n.as_i64().map(FieldValue::Integer),
        (FieldType::Boolean, Value::Bool(b)) => Some(FieldValue::Boolean(*b)),
        (FieldType::Timestamp, Value::Number(n)) => n.as_i64().map(FieldValue::Timestamp),
        (FieldType::Timestamp, Value::String(s)) => parse_rfc3339_ms(s).map(FieldValue::Timestamp),
        _ => None,
    };
    converted
        .map(Some)
        .ok_or_else(|| wrong_type(spec, &value.to_string()))
}

fn wrong_type(spec: &FieldSpec, got: &str) -> String {
    let expected = match spec.type_ {
        FieldType::Text => "a text",
        FieldType::Number => "a number",
        FieldType::Integer => "an integer",
        FieldType::Boolean => "a boolean (true or false)",
        FieldType::Timestamp => {
            "a timestamp (RFC 3339 like 2026-01-31T12:00:00Z, or milliseconds since the epoch)"
        }
    };
    format!("field '{}' must be {expected}, not {got}", spec.name)
}

/// One event from a JSON object: the transform's inputs, by name; other
/// keys are ignored (a transaction carries more than any one transform reads).
pub fn event_from_json(
    inputs: &[FieldSpec],
    object: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<Field>, String> {
    let mut event = Vec::with_capacity(inputs.len());
    for spec in inputs {
        if let Some(value) = object.get(&spec.name)
            && let Some(value) = from_json(spec, value)?
        {
            event.push(Field {
                name: spec.name.clone(),
                value,
            });
        }
    }
    Ok(event)
}
