//! The `[events]` rules of a pipeline ([`EventRules`]) and their defaults.

use serde::Deserialize;

use super::{Clock, EventReader, TimeUnit};
use crate::{FieldSpec, InputType};

/// The longest text value, in bytes, when nothing else is configured (the
/// server's `max_text_bytes`; offline runs use it too).
pub const DEFAULT_MAX_TEXT_BYTES: usize = 1024;
/// The most fields a JSON event may have when nothing else is configured
/// (the server's `max_fields_per_event`).
pub const DEFAULT_MAX_FIELDS: usize = 256;
/// How far ahead of the reference clock an event time may be, by default.
pub const DEFAULT_MAX_SKEW_SECONDS: u32 = 300;

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
            .filter(|i| i.ty == InputType::Timestamp)
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
