//! Signature checks of version folders, before anything in them is
//! compiled (`trust = [...]` in the server's config, `--trust` on the
//! command line; `edgescore sign` signs a folder).
//!
//! With trust roots configured, a version folder loads only if its
//! detached signature (`model.sig`, see [`edgescore_trust`]) lists every
//! file in it with its SHA-256 and carries a signature by a trusted key
//! that is neither revoked nor outside its validity window *now*. A folder
//! that fails is rejected with the reason (in `GET /v1/models/<m>`,
//! `/v2/repository/index`, the log and `edgescore_signature_refusals_total`)
//! and the version serving before keeps serving.
//!
//! The keys are checked when a version is loaded: a version loaded under a
//! key that expires or is revoked later serves until the next restart (or
//! until its folder changes), as a Kubernetes admission check would.

use std::path::Path;
use std::time::SystemTime;

use edgescore_trust::{Refusal, TrustStore, verify_artifact};

/// A version folder's detached signature (written by `edgescore sign`).
pub use edgescore_trust::DIRECTORY_SIGNATURE_FILE as SIGNATURE_FILE;

/// Who signed a version, as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBy {
    /// The ids of the trusted keys whose signatures were accepted.
    pub signers: Vec<String>,
    /// SHA-256 (hex) of the signed statement: the list of files and digests.
    pub manifest_sha256: String,
}

/// Verifies the version folder `dir` against `trust`, now: who signed it,
/// or why it may not load.
pub fn verify_version(trust: &TrustStore, dir: &Path) -> Result<SignedBy, Refusal> {
    let verified = verify_artifact(dir, trust, SystemTime::now())?;
    Ok(SignedBy {
        signers: verified.signers,
        manifest_sha256: verified.manifest_sha256,
    })
}

/// The loud line a server (or stream) prints when it checks no signatures.
pub const UNCHECKED_WARNING: &str = "signatures are NOT checked: any model or pipeline \
     placed in the registry will be compiled and served. Give trust roots with \
     `trust = [\"keys.toml\"]` in the config or --trust <FILE> (see `edgescore keygen`, \
     `edgescore sign`)";
