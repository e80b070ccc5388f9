//! The audit log: JSON lines, each chained to the one before by its hash.
//!
//! - [`entry`]: what an entry holds and its line format;
//! - [`log`]: [`AuditLog`], appending (synced) from any thread;
//! - [`check`]: [`verify_audit_log`], finding the first line that breaks the chain.

pub mod check;
pub mod entry;
pub mod log;

pub use check::{AuditSummary, AuditViolation, verify_audit_log};
pub use entry::{AuditAction, AuditRecord};
pub use log::{AuditError, AuditLog};
