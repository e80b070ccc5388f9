//! Raw event values from CSV cells and JSON values, typed by what the
//! transform declares it reads. Every path (the server, `edgescore
//! transform`, `edgescore eval`) converts through here, so an event means
//! the same wherever it comes from.

use edgescore_models::transform::parse_rfc3339_ms;

use crate::bindings::transformer::exports::edgescore::scoring::transform::{
    Field, FieldSpec, FieldType, FieldValue,
};

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
