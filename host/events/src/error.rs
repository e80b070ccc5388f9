//! Why an event is refused ([`EventError`]), and the wording its
//! messages share: a value of the wrong type, a text too long, a field
//! that is not a scalar, and long values cut short when repeated.

use serde_json::Value;

use crate::{FieldSpec, InputType};

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// A value, a field or the event's shape is wrong (the message names
    /// the field and says what it must be).
    #[error("{0}")]
    Invalid(String),
    /// The event time is further ahead of the reference clock than the
    /// pipeline allows.
    #[error("{0}")]
    AheadOfClock(String),
}

/// How much of a refused value an error message repeats.
pub(super) const SHOWN_CHARS: usize = 64;

/// A value of `spec` that is not of its type; `got` says what it is.
pub(super) fn wrong_type(spec: &FieldSpec, got: &str) -> String {
    let expected = match spec.ty {
        InputType::Text => "a text",
        InputType::Number => "a number",
        InputType::Integer => "an integer",
        InputType::Boolean => "a boolean (true or false)",
        InputType::Timestamp => {
            "a timestamp (RFC 3339 like 2026-01-31T12:00:00Z, or an integer in the pipeline's timestamp_unit)"
        }
    };
    format!("field '{}' must be {expected}, not {got}", spec.name)
}

/// A text of `bytes` bytes in field `name`, over `limit`.
pub(super) fn too_long(name: &str, bytes: usize, limit: usize) -> String {
    format!(
        "field '{}' is {bytes} bytes long, over the limit of {limit} bytes for a text (max_text_bytes): send a shorter value",
        shown(name)
    )
}

/// Field `name` holds an array or an object, not a scalar.
pub(super) fn not_scalar(name: &str, value: &Value) -> String {
    let kind = if value.is_array() {
        "an array"
    } else {
        "an object"
    };
    format!(
        "field '{}' is {kind}; an event's fields are numbers, texts, booleans or null",
        shown(name)
    )
}

/// `text`, cut to its first characters when long (messages never echo a
/// whole megabyte back).
pub(super) fn shown(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}… ({} bytes)", &text[..at], text.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(100_000);
        let cut = shown(&long);
        assert!(cut.len() < 100 && cut.ends_with("(100000 bytes)"), "{cut}");
        assert_eq!(shown("short"), "short");
    }
}
