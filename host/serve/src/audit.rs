//! The server's audit trail: every load, rejection, swap, routing change
//! (canary included), promotion, rollback and admin call, appended to the
//! hash-chained log of [`edgescore_trust::AuditLog`] (`audit_log = "..."`).
//!
//! Who: the name of the admin token for what an admin asked for
//! ([`crate::admin_tokens`]); for what the server did by itself,
//! [`actor::REGISTRY`] (a version folder appeared or changed on disk),
//! [`actor::CANARY_GUARD`] (the automatic rollback of a failing canary) or
//! [`actor::SERVER`] (start-up). What: the model, the version, and in
//! `details` the artifact hashes and the keys that signed it. When: the
//! entry's time.
//!
//! An entry is synced to disk before the action it records is answered, so
//! an acknowledged admin call is in the log. A write that fails is logged
//! and counted (`edgescore_audit_write_failures_total`); it does not undo
//! the action, which has already happened.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

use edgescore_trust::{AuditAction, AuditLog, AuditRecord};

use crate::app::AppState;
use crate::loaded_version::LoadedVersion;

/// Actors that are not admin tokens.
pub mod actor {
    /// The registry, reacting to files on disk.
    pub const REGISTRY: &str = "registry";
    /// The automatic rollback of a canary that fails too often.
    pub const CANARY_GUARD: &str = "canary-guard";
    /// The server itself (start-up).
    pub const SERVER: &str = "server";
    /// An admin call without a valid token.
    pub const UNAUTHENTICATED: &str = "unauthenticated";
}

/// Where audit entries go: nowhere when no audit log is configured.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    log: Option<Arc<AuditLog>>,
    failures: Arc<std::sync::atomic::AtomicU64>,
}

impl Audit {
    /// Entries appended to `log`.
    pub fn to_log(log: AuditLog) -> Self {
        Self {
            log: Some(Arc::new(log)),
            failures: Arc::default(),
        }
    }

    /// Whether entries are kept.
    pub fn is_on(&self) -> bool {
        self.log.is_some()
    }

    /// Appends one entry (synced); a failure is logged and counted.
    pub fn record(
        &self,
        actor: &str,
        action: AuditAction,
        model: Option<&str>,
        version: Option<u64>,
        details: Value,
    ) {
        let Some(log) = &self.log else {
            return;
        };
        let record = AuditRecord {
            actor: actor.to_owned(),
            action,
            model: model.map(str::to_owned),
            version,
            details,
        };
        if let Err(e) = log.append(&record) {
            self.failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(
                "audit log {}: cannot append {action:?} of {}: {e}",
                log.path().display(),
                model.unwrap_or("-")
            );
        }
    }

    /// Entries that could not be written.
    pub fn failures(&self) -> u64 {
        self.failures.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// What identifies a version in the audit log: its hashes and signers.
pub fn version_details(version: &LoadedVersion) -> Value {
    json!({
        "sha256": version.sha256,
        "version_sha256": version.version_sha256(),
        "signers": version.signature.as_ref().map(|s| &s.signers),
        "manifest_sha256": version.signature.as_ref().map(|s| &s.manifest_sha256),
    })
}

/// Records every call of an admin route (the repository's load and unload,
/// `/admin/...`) after it is answered and before the answer leaves: the
/// method, the path, the status and the token's name (or
/// [`actor::UNAUTHENTICATED`]).
pub async fn record_admin_calls(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let is_admin = path.starts_with("/admin/")
        || (path.starts_with("/v2/repository/models/")
            && (path.ends_with("/load") || path.ends_with("/unload")));
    if !is_admin || !state.audit.is_on() {
        return next.run(request).await;
    }
    let method = request.method().to_string();
    let actor = state
        .admin_tokens
        .identify(request.headers())
        .unwrap_or_else(|| actor::UNAUTHENTICATED.to_owned());
    let response = next.run(request).await;
    let model = path
        .strip_prefix("/admin/models/")
        .or_else(|| path.strip_prefix("/v2/repository/models/"))
        .and_then(|rest| rest.split('/').next())
        .map(str::to_owned);
    let audit = state.audit.clone();
    let status = response.status().as_u16();
    // Synced off the async workers.
    let recorded = tokio::task::spawn_blocking(move || {
        audit.record(
            &actor,
            AuditAction::Admin,
            model.as_deref(),
            None,
            json!({ "method": method, "path": path, "status": status }),
        );
    })
    .await;
    if let Err(e) = recorded {
        tracing::error!("audit log: the admin call's entry failed: {e}");
    }
    response
}
