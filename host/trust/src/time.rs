//! RFC 3339 times in UTC, as trust files and the audit log write them.

use std::time::SystemTime;

/// Reads `2026-01-01T00:00:00Z` (fractional seconds allowed, UTC only:
/// the time ends in `Z`).
pub(crate) fn parse_utc(text: &str) -> Result<SystemTime, humantime::TimestampError> {
    humantime::parse_rfc3339(text)
}

/// `at` as `2026-01-01T00:00:00.000Z` (UTC, milliseconds).
pub(crate) fn format_millis(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// `at` as `2026-01-01T00:00:00Z` (UTC, whole seconds), for messages.
pub(crate) fn format_seconds(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}
