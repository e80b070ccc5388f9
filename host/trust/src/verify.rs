//! [`verify_artifact`]: whether an artifact is signed by a trusted key, as
//! it is on disk now.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::artifact::{Located, Resource, locate};
use crate::bundle::{self, KeySignature, PAYLOAD_TYPE, pae};
use crate::digest::{hex, sha256};
use crate::refusal::{Mismatch, Refusal, SignatureIssue, SignatureProblem};
use crate::statement;
use crate::trust_store::TrustStore;

/// An artifact whose signature was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Key ids whose signatures were accepted (in the bundle's order).
    pub signers: Vec<String>,
    /// Hex SHA-256 of the signed statement payload: names exactly what was signed.
    pub manifest_sha256: String,
    /// The files the statement lists (equal to those on disk), sorted by name.
    pub files: Vec<FileDigest>,
    /// Where the accepted bundle was: the detached file, or the `.wasm`
    /// carrying it in a custom section.
    pub signature_file: PathBuf,
}

/// One signed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    /// The path relative to the artifact, `/`-separated (a single file: its name).
    pub name: String,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// Verifies the artifact at `path` (a directory, or a file) against
/// `trust` at time `now`.
///
/// The bundle is found (detached, else embedded; none: [`Refusal::Unsigned`])
/// and decoded (any defect: [`Refusal::Malformed`]); the files on disk must
/// be exactly those the signed statement lists, with the same SHA-256
/// ([`Refusal::DigestMismatch`] otherwise). Then the artifact is accepted
/// if at least one signature verifies (Ed25519, strict) over the DSSE PAE
/// of that same statement under a trusted key that is not revoked and
/// whose `[not_before, not_after]` holds `now`; if none does,
/// [`Refusal::Rejected`] lists every signature's problem. Never panics,
/// whatever the bytes of the files.
pub fn verify_artifact(
    path: &Path,
    trust: &TrustStore,
    now: SystemTime,
) -> Result<Verified, Refusal> {
    let unreadable = |source| Refusal::Unreadable {
        artifact: path.to_owned(),
        source,
    };
    let (bundle_path, bundle_bytes, on_disk) = match locate(path).map_err(unreadable)? {
        Located::Unsigned { looked_for } => {
            return Err(Refusal::Unsigned {
                artifact: path.to_owned(),
                looked_for,
            });
        }
        Located::Detached {
            bundle_path,
            bundle,
            resources,
        } => (bundle_path, bundle, resources),
        Located::Embedded {
            wasm,
            bundles,
            resources,
        } => match <[Vec<u8>; 1]>::try_from(bundles) {
            Ok([bundle]) => (wasm, bundle, resources),
            Err(bundles) => {
                return Err(Refusal::Malformed {
                    artifact: path.to_owned(),
                    bundle: wasm,
                    reason: format!(
                        "it has {} `signature` custom sections, not one",
                        bundles.len()
                    ),
                });
            }
        },
    };
    let malformed = |reason: String| Refusal::Malformed {
        artifact: path.to_owned(),
        bundle: bundle_path.clone(),
        reason,
    };
    let parsed = bundle::decode(&bundle_bytes).map_err(malformed)?;
    let signed = statement::decode(&parsed.payload).map_err(malformed)?;
    let mismatches = compare(&signed, &on_disk);
    if !mismatches.is_empty() {
        return Err(Refusal::DigestMismatch {
            artifact: path.to_owned(),
            mismatches,
        });
    }
    if parsed.signatures.is_empty() {
        return Err(Refusal::NoSignatures {
            artifact: path.to_owned(),
            bundle: bundle_path,
        });
    }
    let message = pae(PAYLOAD_TYPE, &parsed.payload);
    let mut signers = Vec::new();
    let mut problems = Vec::new();
    for signature in &parsed.signatures {
        match judge(signature, &message, trust, now) {
            Ok(()) if !signers.contains(&signature.key_id) => {
                signers.push(signature.key_id.clone());
            }
            Ok(()) => {}
            Err(issue) => problems.push(SignatureProblem {
                key_id: signature.key_id.clone(),
                issue,
            }),
        }
    }
    if signers.is_empty() {
        return Err(Refusal::Rejected {
            artifact: path.to_owned(),
            problems,
        });
    }
    Ok(Verified {
        signers,
        manifest_sha256: hex(&sha256(&parsed.payload)),
        files: signed
            .into_iter()
            .map(|r| FileDigest {
                name: r.name,
                sha256: r.sha256,
            })
            .collect(),
        signature_file: bundle_path,
    })
}

/// Whether one signature is accepted at `now`, or why not.
fn judge(
    signature: &KeySignature,
    message: &[u8],
    trust: &TrustStore,
    now: SystemTime,
) -> Result<(), SignatureIssue> {
    let key = trust
        .get(&signature.key_id)
        .ok_or(SignatureIssue::UntrustedKey)?;
    if !key.key.verifies(message, &signature.signature) {
        return Err(SignatureIssue::BadSignature);
    }
    if key.revoked {
        return Err(SignatureIssue::Revoked {
            reason: key.revoked_reason.clone(),
        });
    }
    if let Some(not_before) = key.not_before
        && now < not_before
    {
        return Err(SignatureIssue::NotYetValid { not_before });
    }
    if let Some(not_after) = key.not_after
        && now > not_after
    {
        return Err(SignatureIssue::Expired { not_after });
    }
    Ok(())
}

/// The differences between the signed list and the files on disk, in name order.
fn compare(signed: &[Resource], on_disk: &[Resource]) -> Vec<Mismatch> {
    let signed: BTreeMap<&str, &str> = signed
        .iter()
        .map(|r| (r.name.as_str(), r.sha256.as_str()))
        .collect();
    let disk: BTreeMap<&str, &str> = on_disk
        .iter()
        .map(|r| (r.name.as_str(), r.sha256.as_str()))
        .collect();
    let mut names: Vec<&str> = signed.keys().chain(disk.keys()).copied().collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| match (signed.get(name), disk.get(name)) {
            (Some(s), Some(d)) if s == d => None,
            (Some(s), Some(d)) => Some(Mismatch::Changed {
                name: name.to_owned(),
                signed_sha256: (*s).to_owned(),
                actual_sha256: (*d).to_owned(),
            }),
            (Some(_), None) => Some(Mismatch::Missing {
                name: name.to_owned(),
            }),
            (None, _) => Some(Mismatch::Unlisted {
                name: name.to_owned(),
            }),
        })
        .collect()
}
