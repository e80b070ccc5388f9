//! Timestamps: the unit of integer ones ([`TimeUnit`]), the [`Clock`] an
//! event time is checked against, and how an [`EventReader`] reads a
//! timestamp from an integer or RFC 3339 text and refuses an event time
//! too far ahead of the clock (or, as an integer, before 2000).

use edgescore_models::transform::{format_rfc3339_ms, parse_rfc3339_ms};
use serde::Deserialize;

use super::error::shown;
use super::{EventError, EventReader};
use crate::{EventValue, FieldSpec};

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
    /// The unit as `timestamp_unit` spells it: `s`, `ms`, `us` or `ns`.
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

impl EventReader<'_> {
    /// An integer timestamp, in the declared unit.
    pub(super) fn integer_time(
        &self,
        spec: &FieldSpec,
        value: i64,
    ) -> Result<EventValue, EventError> {
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

    /// A timestamp from RFC 3339 text of a date and time that exist.
    pub(super) fn text_time(&self, spec: &FieldSpec, text: &str) -> Result<EventValue, EventError> {
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
    pub(super) fn checked_time(
        &self,
        spec: &FieldSpec,
        ms: i64,
        unit: Option<TimeUnit>,
    ) -> Result<EventValue, EventError> {
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
            return Ok(EventValue::Timestamp(ms));
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
