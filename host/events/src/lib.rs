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
//!
//! The code map: [`EventRules`] (the `[events]` table and its defaults,
//! `rules.rs`), [`EventReader`] (one transform's events by those rules,
//! `reader.rs`), one value from any source (`values.rs`), timestamps and
//! the [`Clock`] they are checked against (`timestamps.rs`), a JSON event
//! and its fields (`json_event.rs`), why an event is refused
//! ([`EventError`] and the wording its messages share, `error.rs`), and a
//! user's name or cell as every crate's messages quote it ([`quote`]).

mod cell;
mod error;
mod json_event;
pub mod quote;
mod reader;
mod rules;
mod timestamps;
mod values;

pub use edgescore_models::transform::{EventValue, InputType};

pub use self::cell::Cell;
pub use self::error::EventError;
pub use self::json_event::JsonEvent;
pub use self::reader::EventReader;
pub use self::rules::{
    DEFAULT_MAX_FIELDS, DEFAULT_MAX_SKEW_SECONDS, DEFAULT_MAX_TEXT_BYTES, EventRules,
};
pub use self::timestamps::{Clock, TimeUnit};

/// One input field a transform reads (the WIT `field-spec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: String,
    pub ty: InputType,
    /// Whether an event without the field is refused (otherwise the
    /// transform's default for it applies).
    pub required: bool,
}

/// A raw event read for a transform: its present fields' names and values,
/// in the transform's input order (the WIT `event`).
pub type Event = Vec<(String, EventValue)>;

#[cfg(test)]
mod tests;
