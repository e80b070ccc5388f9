//! Raw event values from CSV cells, Parquet values and JSON values, typed
//! by what the transform declares it reads and checked by one set of
//! rules ([`EventRules`]). Every path (the server, `edgescore transform`,
//! `edgescore eval`) converts through here, before any transform runs, so
//! an event means the same wherever it comes from, and what one path
//! refuses every path refuses, with the same reason.
//!
//! The rules, for every source alike:
//!
//! - missing is missing: an empty cell or text (blanks around a value are
//!   dropped), JSON `null` and a Parquet null; the transform's default then
//!   applies, and a required field is refused;
//! - a number is a finite float64: `inf`, `NaN` and a value past the
//!   float64 range (`1e400`) are refused, never read as missing or infinite;
//! - an integer is an integer, or a number with no fraction within ±2^53;
//! - a timestamp is RFC 3339 text of a date and time that exist
//!   (`2026-02-30` is refused, not read as 2 March), a typed Parquet
//!   timestamp, or an integer in the unit the pipeline declares
//!   (`[events] timestamp_unit`); with no declared unit an integer is
//!   refused, as seconds, milliseconds and microseconds look alike;
//! - a text is at most `max_text_bytes` bytes;
//! - the event time is at most `max_skew_seconds` ahead of the reference
//!   clock (the server's clock online; offline, the clock when the run
//!   started), so one event dated in the future cannot blind an entity's
//!   windows; an integer in a larger unit than declared lands far ahead
//!   and is refused by the same rule, and an integer event time before
//!   2000 (one in a smaller unit: seconds read as milliseconds) is refused;
//! - a JSON event has at most `max_fields` fields, each once, each a
//!   number, text, boolean or null, and only fields the transform reads
//!   (unless `allow_unknown_fields`: a typo such as `merchant_categroy`
//!   must not silently fall back to a default). A file's other columns are
//!   not fields of its events: they are carried to the output.

use std::collections::HashSet;
use std::fmt;

use edgescore_models::transform::{format_rfc3339_ms, parse_rfc3339_ms};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bindings::transformer::exports::edgescore::scoring::transform::{
    Field, FieldSpec, FieldType, FieldValue,
};
use crate::cell::Cell;

/// The longest text value, in bytes, when nothing else is configured (the
/// server's `max_text_bytes`; offline runs use it too).
pub const DEFAULT_MAX_TEXT_BYTES: usize = 1024;
/// The most fields a JSON event may have when nothing else is configured
/// (the server's `max_fields_per_event`).
pub const DEFAULT_MAX_FIELDS: usize = 256;
/// How far ahead of the reference clock an event time may be, by default.
pub const DEFAULT_MAX_SKEW_SECONDS: u32 = 300;

/// Integers at most this far from zero are exact in a float64.
const EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;
/// How much of a refused value an error message repeats.
const SHOWN_CHARS: usize = 64;

/// The unit of integer timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TimeUnit {
    #[serde(rename = "s")]
    Seconds,
    #[serde(rename = "ms")]
    Milliseconds,
    #[serde(rename = "us")]
    Microseconds,
    #[serde(rename = "ns")]
    Nanoseconds,
}

impl TimeUnit {
    pub fn name(self) -> &'static str {
        match self {
            Self::Seconds => "s",
            Self::Milliseconds => "ms",
            Self::Microseconds => "us",
            Self::Nanoseconds => "ns",
        }
    }

    /// `value` of this unit in milliseconds (sub-millisecond parts dropped
    /// toward the past); `None` past the range of milliseconds in an `i64`.
    fn to_ms(self, value: i64) -> Option<i64> {
        match self {
            Self::Seconds => value.checked_mul(1000),
            Self::Milliseconds => Some(value),
            Self::Microseconds => Some(value.div_euclid(1000)),
            Self::Nanoseconds => Some(value.div_euclid(1_000_000)),
        }
    }
}

/// How a pipeline's events are read: its `[events]` table in
/// `pipeline.toml` (the same online and offline) and the text and field
/// limits (the server's config online, the defaults offline).
///
/// ```toml
/// [events]
/// max_skew_seconds = 300        # the event time may be this far ahead of the clock
/// timestamp_unit = "ms"         # integer timestamps' unit: s, ms, us or ns; none: refused
/// allow_unknown_fields = false  # true: fields the transform does not read are ignored
/// time = "timestamp"            # the event time, when the transform has several timestamps
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventRules {
    /// An event time more than this ahead of the reference clock is refused.
    pub max_skew_seconds: u32,
    /// What an integer timestamp counts; `None`: integer timestamps are refused.
    pub timestamp_unit: Option<TimeUnit>,
    /// Whether a JSON event's fields that the transform does not read are
    /// ignored (by default they are refused).
    pub allow_unknown_fields: bool,
    /// The input holding the event time; by default the transform's only
    /// timestamp input.
    pub time: Option<String>,
    /// The longest text value, in bytes (the server's `max_text_bytes`).
    #[serde(skip)]
    pub max_text_bytes: usize,
    /// The most fields a JSON event may have (`max_fields_per_event`).
    #[serde(skip)]
    pub max_fields: usize,
}

impl Default for EventRules {
    fn default() -> Self {
        Self {
            max_skew_seconds: DEFAULT_MAX_SKEW_SECONDS,
            timestamp_unit: None,
            allow_unknown_fields: false,
            time: None,
            max_text_bytes: DEFAULT_MAX_TEXT_BYTES,
            max_fields: DEFAULT_MAX_FIELDS,
        }
    }
}

impl EventRules {
    /// Checks the rules fit a transform reading `inputs`: `time` names a
    /// timestamp input, or the transform has at most one (otherwise which
    /// one the skew rule checks is not known).
    pub fn check(&self, inputs: &[FieldSpec]) -> Result<(), String> {
        let clock = Clock {
            now_ms: 0,
            name: "",
        };
        EventReader::new(inputs, self, clock)?;
        let timestamps: Vec<&str> = inputs
            .iter()
            .filter(|i| i.type_ == FieldType::Timestamp)
            .map(|i| i.name.as_str())
            .collect();
        if self.time.is_none() && timestamps.len() > 1 {
            return Err(format!(
                "the transform has several timestamp inputs ({}): name the event time with [events] time = \"<input>\"",
                timestamps.join(", ")
            ));
        }
        Ok(())
    }
}

/// The clock event times are checked against, and what to call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Milliseconds since the Unix epoch.
    pub now_ms: i64,
    /// For messages: "the server's clock".
    pub name: &'static str,
}

impl Clock {
    /// The system clock now.
    pub fn system(name: &'static str) -> Self {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self { now_ms, name }
    }
}

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

/// Reads the events of one transform by one set of rules against one clock.
#[derive(Debug, Clone)]
pub struct EventReader<'a> {
    inputs: &'a [FieldSpec],
    rules: &'a EventRules,
    time: Option<usize>,
    clock: Clock,
}

impl<'a> EventReader<'a> {
    /// A reader of events with `inputs`, by `rules`, against `clock`.
    /// Refused when `rules.time` names no timestamp input. With no `time`
    /// named, the event time is the only timestamp input; a transform with
    /// several has none (a pipeline must name one: [`EventRules::check`]).
    pub fn new(
        inputs: &'a [FieldSpec],
        rules: &'a EventRules,
        clock: Clock,
    ) -> Result<Self, String> {
        let timestamps: Vec<usize> = (0..inputs.len())
            .filter(|&i| inputs[i].type_ == FieldType::Timestamp)
            .collect();
        let time = match (&rules.time, timestamps.as_slice()) {
            (Some(name), _) => Some(
                timestamps
                    .iter()
                    .copied()
                    .find(|&i| inputs[i].name == *name)
                    .ok_or_else(|| {
                        format!(
                            "[events] time names '{name}', which is not a timestamp input of the transform"
                        )
                    })?,
            ),
            (None, [only]) => Some(*only),
            (None, _) => None,
        };
        Ok(Self {
            inputs,
            rules,
            time,
            clock,
        })
    }

    pub fn inputs(&self) -> &'a [FieldSpec] {
        self.inputs
    }

    /// The input holding the event time (what the skew rule checks and an
    /// offline run sorts by).
    pub fn time(&self) -> Option<usize> {
        self.time
    }

    /// Input `input`'s value from text (a CSV cell); `None` when empty.
    /// Booleans are `true`/`false`/`1`/`0`.
    pub fn from_text(&self, input: usize, text: &str) -> Result<Option<FieldValue>, EventError> {
        let spec = &self.inputs[input];
        self.check_length(spec, text).map_err(EventError::Invalid)?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let value = match spec.type_ {
            FieldType::Text => Some(FieldValue::Text(text.to_owned())),
            FieldType::Number => {
                return number(spec, text.parse::<f64>().ok(), text)
                    .map(Some)
                    .map_err(EventError::Invalid);
            }
            FieldType::Integer => match text.parse::<i64>() {
                Ok(i) => Some(FieldValue::Integer(i)),
                Err(_) => text.parse::<f64>().ok().and_then(integral),
            },
            FieldType::Boolean => match text.to_ascii_lowercase().as_str() {
                "true" | "1" => Some(FieldValue::Boolean(true)),
                "false" | "0" => Some(FieldValue::Boolean(false)),
                _ => None,
            },
            FieldType::Timestamp => {
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
    pub fn from_cell(&self, input: usize, cell: &Cell) -> Result<Option<FieldValue>, EventError> {
        let spec = &self.inputs[input];
        let converted = match (spec.type_, cell) {
            (_, Cell::Missing) => return Ok(None),
            (_, Cell::Text(text)) => return self.from_text(input, text),
            (FieldType::Text, Cell::Integer(i)) => Some(FieldValue::Text(i.to_string())),
            (FieldType::Text, Cell::Boolean(b)) => Some(FieldValue::Text(b.to_string())),
            (FieldType::Number, Cell::Number(x)) => {
                return number(spec, Some(*x), &x.to_string())
                    .map(Some)
                    .map_err(EventError::Invalid);
            }
            (FieldType::Number, Cell::Integer(i)) => Some(FieldValue::Number(*i as f64)),
            (FieldType::Integer, Cell::Integer(i)) => Some(FieldValue::Integer(*i)),
            // pandas stores integer columns with nulls as floats.
            (FieldType::Integer, Cell::Number(x)) => integral(*x),
            (FieldType::Boolean, Cell::Boolean(b)) => Some(FieldValue::Boolean(*b)),
            (FieldType::Boolean, Cell::Integer(i @ (0 | 1))) => Some(FieldValue::Boolean(*i == 1)),
            (FieldType::Timestamp, Cell::Timestamp(ms)) => {
                return self.checked_time(spec, *ms, None).map(Some);
            }
            (FieldType::Timestamp, Cell::Integer(i)) => {
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
    pub fn from_json(&self, input: usize, value: &Value) -> Result<Option<FieldValue>, EventError> {
        let spec = &self.inputs[input];
        if let Value::String(s) = value {
            self.check_length(spec, s).map_err(EventError::Invalid)?;
            if s.trim().is_empty() {
                return Ok(None);
            }
        }
        let converted = match (spec.type_, value) {
            (_, Value::Null) => return Ok(None),
            (_, Value::Array(_) | Value::Object(_)) => {
                return Err(EventError::Invalid(not_scalar(&spec.name, value)));
            }
            (FieldType::Text, Value::String(s)) => Some(FieldValue::Text(s.trim().to_owned())),
            (FieldType::Number, Value::Number(n)) => {
                return number(spec, n.as_f64(), &n.to_string())
                    .map(Some)
                    .map_err(EventError::Invalid);
            }
            (FieldType::Integer, Value::Number(n)) => n
                .as_i64()
                .map(FieldValue::Integer)
                .or_else(|| n.as_f64().and_then(integral)),
            (FieldType::Boolean, Value::Bool(b)) => Some(FieldValue::Boolean(*b)),
            (FieldType::Timestamp, Value::Number(n)) => match n.as_i64() {
                Some(i) => return self.integer_time(spec, i).map(Some),
                None => None,
            },
            (FieldType::Timestamp, Value::String(s)) => {
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

    /// One event from its inputs' values (`values[i]` is input `i`'s, as
    /// the `from_*` functions read it): every required input present.
    pub fn event(&self, values: Vec<Option<FieldValue>>) -> Result<Vec<Field>, EventError> {
        let mut event = Vec::with_capacity(values.len());
        for (spec, value) in self.inputs.iter().zip(values) {
            match value {
                Some(value) => event.push(Field {
                    name: spec.name.clone(),
                    value,
                }),
                None if spec.required => {
                    return Err(EventError::Invalid(format!(
                        "required field '{}' is missing (or empty, or null): give it a value",
                        spec.name
                    )));
                }
                None => {}
            }
        }
        Ok(event)
    }

    /// One event from a JSON object of its fields, by the rules.
    pub fn event_from_json(&self, object: &JsonEvent) -> Result<Vec<Field>, EventError> {
        let fields = &object.0;
        if fields.len() > self.rules.max_fields {
            return Err(EventError::Invalid(format!(
                "it has {} fields, more than the limit of {} (max_fields_per_event)",
                fields.len(),
                self.rules.max_fields
            )));
        }
        let mut values: Vec<Option<FieldValue>> = vec![None; self.inputs.len()];
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

    fn check_length(&self, spec: &FieldSpec, text: &str) -> Result<(), String> {
        if text.len() > self.rules.max_text_bytes {
            return Err(too_long(&spec.name, text.len(), self.rules.max_text_bytes));
        }
        Ok(())
    }

    /// An integer timestamp, in the declared unit.
    fn integer_time(&self, spec: &FieldSpec, value: i64) -> Result<FieldValue, EventError> {
        let Some(unit) = self.rules.timestamp_unit else {
            return Err(EventError::Invalid(format!(
                "field '{}' is the integer {value}, but integer timestamps need a unit (seconds, milliseconds and microseconds look alike): send RFC 3339 text such as 2026-01-31T12:00:00Z, or declare the unit in the pipeline's [events] timestamp_unit (s, ms, us or ns)",
                spec.name
            )));
        };
        let ms = unit.to_ms(value).ok_or_else(|| {
            EventError::Invalid(format!(
                "field '{}' is the integer {value}, which as a time in {} is past the range of timestamps",
                spec.name,
                unit.name()
            ))
        })?;
        self.checked_time(spec, ms, Some(unit))
    }

    fn text_time(&self, spec: &FieldSpec, text: &str) -> Result<FieldValue, EventError> {
        let ms = parse_rfc3339_ms(text).ok_or_else(|| {
            EventError::Invalid(format!(
                "field '{}' must be an RFC 3339 date and time that exists, such as 2026-01-31T12:00:00Z, not {:?}",
                spec.name,
                shown(text)
            ))
        })?;
        self.checked_time(spec, ms, None)
    }

    /// A timestamp of the event time is checked against the clock; any
    /// other timestamp input is taken as it is.
    fn checked_time(
        &self,
        spec: &FieldSpec,
        ms: i64,
        unit: Option<TimeUnit>,
    ) -> Result<FieldValue, EventError> {
        let is_time = self.time.is_some_and(|t| self.inputs[t].name == spec.name);
        if let Some(unit) = unit
            && is_time
            && ms < EARLIEST_INTEGER_TIME_MS
        {
            return Err(EventError::Invalid(format!(
                "field '{}' is {}, before 2000, read in {} (the pipeline's timestamp_unit): an integer event time that early is taken for one in another unit (seconds read as milliseconds land in January 1970); send it in {} or as RFC 3339 text",
                spec.name,
                readable_time(ms),
                unit.name(),
                unit.name()
            )));
        }
        let limit = i64::from(self.rules.max_skew_seconds) * 1000;
        let ahead = ms.saturating_sub(self.clock.now_ms);
        if !is_time || ahead <= limit {
            return Ok(FieldValue::Timestamp(ms));
        }
        let hint = unit.map_or_else(String::new, |u| {
            format!(
                " (integers are read in {}, the pipeline's timestamp_unit: is this one in another unit?)",
                u.name()
            )
        });
        Err(EventError::AheadOfClock(format!(
            "field '{}' is {}, {} s ahead of {} ({}); an event more than {} s ahead is refused (max_skew_seconds in the pipeline's [events]): send the time the event happened, in UTC{hint}",
            spec.name,
            readable_time(ms),
            ahead / 1000,
            self.clock.name,
            readable_time(self.clock.now_ms),
            self.rules.max_skew_seconds
        )))
    }
}

/// 2000-01-01T00:00:00Z: an integer event time before it is taken for one
/// in a smaller unit than declared (seconds read as milliseconds).
const EARLIEST_INTEGER_TIME_MS: i64 = 946_684_800_000;

/// `ms` in RFC 3339 when its year has four digits, else the number.
fn readable_time(ms: i64) -> String {
    if (-62_167_219_200_000..=253_402_300_799_999).contains(&ms) {
        format_rfc3339_ms(ms)
    } else {
        format!("{ms} ms after 1970")
    }
}

/// A finite number, or why not.
fn number(spec: &FieldSpec, parsed: Option<f64>, text: &str) -> Result<FieldValue, String> {
    match parsed {
        Some(x) if x.is_finite() => Ok(FieldValue::Number(x)),
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
fn integral(x: f64) -> Option<FieldValue> {
    (x.fract() == 0.0 && x.abs() <= EXACT_INTEGER).then_some(FieldValue::Integer(x as i64))
}

fn wrong_type(spec: &FieldSpec, got: &str) -> String {
    let expected = match spec.type_ {
        FieldType::Text => "a text",
        FieldType::Number => "a number",
        FieldType::Integer => "an integer",
        FieldType::Boolean => "a boolean (true or false)",
        FieldType::Timestamp => {
            "a timestamp (RFC 3339 like 2026-01-31T12:00:00Z, or an integer in the pipeline's timestamp_unit)"
        }
    };
    format!("field '{}' must be {expected}, not {got}", spec.name)
}

fn too_long(name: &str, bytes: usize, limit: usize) -> String {
    format!(
        "field '{}' is {bytes} bytes long, over the limit of {limit} bytes for a text (max_text_bytes): send a shorter value",
        shown(name)
    )
}

fn not_scalar(name: &str, value: &Value) -> String {
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
fn shown(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}… ({} bytes)", &text[..at], text.len()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(name: &str, type_: FieldType, required: bool) -> FieldSpec {
        FieldSpec {
            name: name.into(),
            type_,
            required,
        }
    }

    /// What a value reads as: taken (as what, in `Debug` form: the WIT
    /// type has no `PartialEq`), missing, or refused (with a phrase of why).
    #[derive(Debug, PartialEq)]
    enum Read {
        Is(String),
        Missing,
        Refused(&'static str),
    }

    fn is(value: FieldValue) -> Read {
        Read::Is(format!("{value:?}"))
    }

    fn outcome(got: Result<Option<FieldValue>, EventError>, phrase: &'static str) -> Read {
        match got {
            Ok(Some(v)) => is(v),
            Ok(None) => Read::Missing,
            Err(e) if e.to_string().contains(phrase) => Read::Refused(phrase),
            Err(e) => panic!("refused, but not for {phrase:?}: {e}"),
        }
    }

    /// One value of one type through every source: JSON, CSV text and a
    /// Parquet cell read alike.
    #[test]
    fn every_source_reads_a_value_by_the_same_rule() {
        use FieldType::{Boolean, Integer, Number, Text, Timestamp};
        use FieldValue as V;
        let now = 1_795_257_000_000; // 2026-11-21T10:30:00Z
        let clock = Clock {
            now_ms: now,
            name: "the test clock",
        };
        let refused = |phrase| Read::Refused(phrase);
        let long = "x".repeat(1025);
        let now_text = now.to_string();
        // (type, JSON, CSV text, cell, expected)
        #[rustfmt::skip]
        let cases: Vec<(FieldType, Value, &str, Cell, Read)> = vec![
            (Number, json!(1e39), "1e39", Cell::Number(1e39), is(V::Number(1e39))),
            (Number, json!(-0.0), "-0.0", Cell::Number(-0.0), is(V::Number(-0.0))),
            (Number, json!(7), "7", Cell::Integer(7), is(V::Number(7.0))),
            (Number, Value::Null, "", Cell::Missing, Read::Missing),
            (Number, json!(""), " ", Cell::Text(String::new()), Read::Missing),
            (Number, json!("inf"), "inf", Cell::Number(f64::INFINITY), refused("'n' must be")),
            (Number, json!("NaN"), "NaN", Cell::Number(f64::NAN), refused("'n' must be")),
            (Number, json!("-inf"), "1e400", Cell::Number(f64::NEG_INFINITY), refused("'n' must be")),
            (Integer, json!(12), "12", Cell::Integer(12), is(V::Integer(12))),
            (Integer, json!(12.0), "12.0", Cell::Number(12.0), is(V::Integer(12))),
            (Integer, json!(12.5), "12.5", Cell::Number(12.5), refused("must be an integer")),
            (Integer, json!(1e300), "1e300", Cell::Number(1e300), refused("must be an integer")),
            (Boolean, json!(true), "TRUE", Cell::Boolean(true), is(V::Boolean(true))),
            (Boolean, json!("yes"), "yes", Cell::Text("yes".into()), refused("must be a boolean")),
            (Text, json!(" c1 "), " c1 ", Cell::Text("c1".into()), is(V::Text("c1".into()))),
            (Text, json!(long), &long, Cell::Text(long.clone()), refused("max_text_bytes")),
            (Timestamp, json!("2026-11-21T10:30:00Z"), "2026-11-21T10:30:00Z", Cell::Timestamp(now), is(V::Timestamp(now))),
            (Timestamp, json!("2026-02-30T10:30:00Z"), "2026-02-30T10:30:00Z", Cell::Text("2026-02-30T10:30:00Z".into()), refused("exists")),
            (Timestamp, json!(now / 1000), "1795257000", Cell::Integer(now / 1000), is(V::Timestamp(now))),
            (Timestamp, json!(now), &now_text, Cell::Integer(now), refused("is this one in another unit")),
            (Timestamp, json!("9999-12-31T23:59:59Z"), "9999-12-31T23:59:59Z", Cell::Timestamp(253_402_300_799_000), refused("ahead of the test clock")),
            (Timestamp, json!("2026-11-21T10:34:59Z"), "2026-11-21T10:34:59Z", Cell::Timestamp(now + 299_000), is(V::Timestamp(now + 299_000))),
        ];
        let rules = EventRules {
            timestamp_unit: Some(TimeUnit::Seconds),
            ..EventRules::default()
        };
        for (type_, json_value, text, cell, expected) in cases {
            let inputs = [spec(
                if type_ == Timestamp { "t" } else { "n" },
                type_,
                false,
            )];
            let reader = EventReader::new(&inputs, &rules, clock).expect("reader");
            let phrase = match &expected {
                Read::Refused(p) => p,
                _ => "",
            };
            let from_json = outcome(reader.from_json(0, &json_value), phrase);
            let from_text = outcome(reader.from_text(0, text), phrase);
            let from_cell = outcome(reader.from_cell(0, &cell), phrase);
            assert_eq!(from_json, expected, "JSON {json_value}");
            assert_eq!(from_text, expected, "text {text:?}");
            assert_eq!(from_cell, expected, "cell {cell:?}");
        }
        // Without a declared unit an integer timestamp is refused everywhere.
        let inputs = [spec("t", Timestamp, true)];
        let rules = EventRules::default();
        let reader = EventReader::new(&inputs, &rules, clock).expect("reader");
        let phrase = "integer timestamps need a unit";
        assert_eq!(
            outcome(reader.from_json(0, &json!(now)), phrase),
            refused(phrase)
        );
        assert_eq!(
            outcome(reader.from_text(0, "1795257000000"), phrase),
            refused(phrase)
        );
        assert_eq!(
            outcome(reader.from_cell(0, &Cell::Integer(now)), phrase),
            refused(phrase)
        );
    }

    /// A JSON event: unknown fields refused (or ignored when allowed), too
    /// many fields refused, a required field missing refused.
    #[test]
    fn json_events_carry_only_what_the_transform_reads() {
        let inputs = [
            spec("card_id", FieldType::Text, true),
            spec("merchant_category", FieldType::Text, false),
        ];
        let clock = Clock::system("the test clock");
        let event = |text: &str| serde_json::from_str::<JsonEvent>(text).expect("JSON");
        let strict = EventRules::default();
        let reader = EventReader::new(&inputs, &strict, clock).expect("reader");
        let typo = event(r#"{"card_id": "c1", "merchant_categroy": "travel"}"#);
        let e = reader.event_from_json(&typo).expect_err("typo");
        assert!(
            e.to_string().contains("did you mean 'merchant_category'"),
            "{e}"
        );
        let e = reader
            .event_from_json(&event(r#"{"card_id": ""}"#))
            .expect_err("empty id");
        assert!(e.to_string().contains("required field 'card_id'"), "{e}");
        let lenient = EventRules {
            allow_unknown_fields: true,
            max_fields: 2,
            ..EventRules::default()
        };
        let reader = EventReader::new(&inputs, &lenient, clock).expect("reader");
        let taken = reader.event_from_json(&typo).expect("extras ignored");
        assert_eq!(taken.len(), 1);
        let e = reader
            .event_from_json(&event(r#"{"card_id": "c1", "a": 1, "b": 2}"#))
            .expect_err("three fields");
        assert!(e.to_string().contains("max_fields_per_event"), "{e}");
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("merchant_category", "merchant_categroy"), 2);
        assert_eq!(edit_distance("amount", "amount"), 0);
        assert_eq!(edit_distance("amount", "amounts"), 1);
        assert_eq!(edit_distance("a", "abcdef"), usize::MAX);
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(100_000);
        let cut = shown(&long);
        assert!(cut.len() < 100 && cut.ends_with("(100000 bytes)"), "{cut}");
        assert_eq!(shown("short"), "short");
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

    #[test]
    fn units_convert_to_milliseconds() {
        assert_eq!(
            TimeUnit::Seconds.to_ms(1_767_225_600),
            Some(1_767_225_600_000)
        );
        assert_eq!(TimeUnit::Microseconds.to_ms(1_500), Some(1));
        assert_eq!(TimeUnit::Nanoseconds.to_ms(-1), Some(-1));
        assert_eq!(TimeUnit::Seconds.to_ms(i64::MAX), None);
    }

    #[test]
    fn the_time_input_is_the_only_timestamp_or_the_named_one() {
        let inputs = [
            spec("at", FieldType::Timestamp, true),
            spec("issued", FieldType::Timestamp, false),
        ];
        let clock = Clock {
            now_ms: 0,
            name: "the test clock",
        };
        let rules = EventRules::default();
        let several = rules.check(&inputs).expect_err("ambiguous");
        assert!(several.contains("[events] time"), "{several}");
        let unchecked = EventReader::new(&inputs, &rules, clock).expect("a bare transform");
        assert_eq!(unchecked.time(), None);
        let named = EventRules {
            time: Some("issued".into()),
            ..EventRules::default()
        };
        let reader = EventReader::new(&inputs, &named, clock).expect("named");
        assert_eq!(reader.time(), Some(1));
        let wrong = EventRules {
            time: Some("nope".into()),
            ..EventRules::default()
        };
        assert!(EventReader::new(&inputs, &wrong, clock).is_err());
        let rules = EventRules::default();
        let one = EventReader::new(&inputs[..1], &rules, clock).expect("one");
        assert_eq!(one.time(), Some(0));
    }
}
