//! One audit entry and its line:
//! `{"seq":N,"at":"<RFC 3339 UTC, ms>","actor":"...","action":"load","model":"...","version":N,"details":{...},"prev":"<hex>"}`
//! (`model` and `version` left out when absent), where `prev` is the hex
//! SHA-256 of the previous line's exact bytes without its newline, and 64
//! zeros on the first line.

use serde::{Deserialize, Serialize};

/// The `prev` of the first line.
pub const FIRST_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, as an entry records it (its `action`, in snake case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Startup,
    Load,
    Reject,
    Swap,
    Routing,
    Promote,
    Rollback,
    Unload,
    Admin,
}

/// What an entry records; the log adds `seq`, `at` and `prev`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Who: an admin token's name, or the part of the server that acted.
    pub actor: String,
    pub action: AuditAction,
    pub model: Option<String>,
    pub version: Option<u64>,
    /// Anything else worth keeping (hashes, signers, reasons).
    pub details: serde_json::Value,
}

/// An entry as written, fields in line order.
#[derive(Serialize)]
pub(crate) struct EntryLine<'a> {
    pub(crate) seq: u64,
    pub(crate) at: &'a str,
    pub(crate) actor: &'a str,
    pub(crate) action: AuditAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version: Option<u64>,
    pub(crate) details: &'a serde_json::Value,
    pub(crate) prev: &'a str,
}

/// An entry as read back: exactly these fields, each of its type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ParsedEntry {
    pub(crate) seq: u64,
    pub(crate) at: String,
    // Read to check the line is an entry; the chain does not need them.
    #[serde(rename = "actor")]
    _actor: String,
    #[serde(rename = "action")]
    _action: AuditAction,
    #[serde(rename = "model", default)]
    _model: Option<String>,
    #[serde(rename = "version", default)]
    _version: Option<u64>,
    #[serde(rename = "details")]
    _details: serde_json::Value,
    pub(crate) prev: String,
}
