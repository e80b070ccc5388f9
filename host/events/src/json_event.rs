//! A JSON event ([`JsonEvent`]): its fields parsed in order, each once,
//! and read by the rules into an event of the transform's inputs.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{SHOWN_CHARS, not_scalar, shown, too_long};
use super::{EventError, EventReader};
use crate::{Event, EventValue};

/// A JSON object of event fields, in the order given. A key given twice is
/// refused while parsing: which value was meant cannot be known.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonEvent(pub Vec<(String, Value)>);

impl<'de> Deserialize<'de> for JsonEvent {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;

        impl<'de> Visitor<'de> for Fields {
            type Value = JsonEvent;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of event fields")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonEvent, A::Error> {
                let mut fields = Vec::new();
                let mut seen = HashSet::new();
                while let Some(name) = map.next_key::<String>()? {
                    if !seen.insert(name.clone()) {
                        return Err(de::Error::custom(format_args!(
                            "field '{}' is given twice in one event: give each field once",
                            shown(&name)
                        )));
                    }
                    let value: Value = map.next_value()?;
                    fields.push((name, value));
                }
                Ok(JsonEvent(fields))
            }
        }

        deserializer.deserialize_map(Fields)
    }
}

impl Serialize for JsonEvent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl EventReader<'_> {
    /// One event from a JSON object of its fields, by the rules.
    pub fn event_from_json(&self, object: &JsonEvent) -> Result<Event, EventError> {
        let fields = &object.0;
        if fields.len() > self.rules.max_fields {
            return Err(EventError::Invalid(format!(
                "it has {} fields, more than the limit of {} (max_fields_per_event)",
                fields.len(),
                self.rules.max_fields
            )));
        }
        let mut values: Vec<Option<EventValue>> = vec![None; self.inputs.len()];
        for (name, value) in fields {
            match self.inputs.iter().position(|i| i.name == *name) {
                Some(input) => {
                    values[input] = self.from_json(input, value)?;
                }
                None if self.rules.allow_unknown_fields => {
                    // Ignored, but bounded like any field: it is logged with alerts.
                    if let Value::String(s) = value
                        && s.len() > self.rules.max_text_bytes
                    {
                        return Err(EventError::Invalid(too_long(
                            name,
                            s.len(),
                            self.rules.max_text_bytes,
                        )));
                    }
                    if matches!(value, Value::Array(_) | Value::Object(_)) {
                        return Err(EventError::Invalid(not_scalar(name, value)));
                    }
                }
                None => return Err(EventError::Invalid(self.unknown_field(name))),
            }
        }
        self.event(values)
    }

    /// Why field `name` is unknown, with the nearest input name it may mean.
    fn unknown_field(&self, name: &str) -> String {
        let known: Vec<&str> = self.inputs.iter().map(|i| i.name.as_str()).collect();
        let near = known
            .iter()
            .copied()
            .filter(|k| edit_distance(k, name) <= 2)
            .min_by_key(|k| edit_distance(k, name));
        let hint = near.map_or_else(String::new, |k| format!(" (did you mean '{k}'?)"));
        format!(
            "unknown field '{}'{hint}: the transform reads {}; fix the name, or set allow_unknown_fields = true in the pipeline's [events] to ignore fields it does not read",
            shown(name),
            known.join(", ")
        )
    }
}

/// Levenshtein distance, for "did you mean" (names are short).
fn edit_distance(a: &str, b: &str) -> usize {
    if a.len().abs_diff(b.len()) > 2 || b.len() > SHOWN_CHARS {
        return usize::MAX;
    }
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("merchant_category", "merchant_categroy"), 2);
        assert_eq!(edit_distance("amount", "amount"), 0);
        assert_eq!(edit_distance("amount", "amounts"), 1);
        assert_eq!(edit_distance("a", "abcdef"), usize::MAX);
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let e = serde_json::from_str::<JsonEvent>(r#"{"a": 1, "b": 2, "a": 3}"#)
            .expect_err("duplicate");
        assert!(e.to_string().contains("field 'a' is given twice"), "{e}");
        let ok: JsonEvent = serde_json::from_str(r#"{"a": 1, "b": "x"}"#).expect("parses");
        assert_eq!(
            serde_json::to_string(&ok).expect("json"),
            r#"{"a":1,"b":"x"}"#
        );
    }
}
