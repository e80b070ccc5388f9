//! [`Refusal`]: why an artifact's signature is not accepted, and its
//! [`RefusalKind`] (a metric label).

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::artifact::ArtifactError;
use crate::time::format_seconds;

/// Why an artifact may not be used. Its message is a full sentence naming
/// the artifact, what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No signature at all: no detached bundle, none embedded.
    #[error(
        "{} is not signed: there is no {} (nor a signature embedded in a .wasm); sign it with `edgescore sign --key <KEYFILE> {}`, or deploy a signed copy",
        artifact.display(),
        looked_for.display(),
        artifact.display()
    )]
    Unsigned {
        artifact: PathBuf,
        looked_for: PathBuf,
    },
    /// A bundle with an empty list of signatures.
    #[error(
        "{} is not signed: its signature bundle {} holds no signature; sign it with `edgescore sign --key <KEYFILE> {}`",
        artifact.display(),
        bundle.display(),
        artifact.display()
    )]
    NoSignatures { artifact: PathBuf, bundle: PathBuf },
    /// The artifact's files cannot be read as an artifact.
    #[error("{} cannot be verified: {source}; fix that and sign it again", artifact.display())]
    Unreadable {
        artifact: PathBuf,
        #[source]
        source: ArtifactError,
    },
    /// The bundle is not a valid bundle of a valid statement.
    #[error(
        "{} cannot be verified: its signature bundle {} is malformed ({reason}); sign it again with `edgescore sign`",
        artifact.display(),
        bundle.display()
    )]
    Malformed {
        artifact: PathBuf,
        /// The bundle file (the `.wasm` itself when embedded).
        bundle: PathBuf,
        reason: String,
    },
    /// The files on disk are not the files the statement lists.
    #[error(
        "{} does not match its signature: {}; the signed files were changed after signing: deploy the files as signed, or review the change and sign again",
        artifact.display(),
        list(mismatches)
    )]
    DigestMismatch {
        artifact: PathBuf,
        /// Every difference, in file-name order (never empty).
        mismatches: Vec<Mismatch>,
    },
    /// No signature was accepted: what was wrong with each.
    #[error(
        "{} is not signed by a trusted key: {}; {}",
        artifact.display(),
        list(problems),
        advice(problems)
    )]
    Rejected {
        artifact: PathBuf,
        /// One per signature of the bundle (never empty).
        problems: Vec<SignatureProblem>,
    },
}

/// The kinds of refusal, most specific last among the key problems.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RefusalKind {
    Unsigned,
    UntrustedKey,
    RevokedKey,
    ExpiredKey,
    BadSignature,
    DigestMismatch,
    Malformed,
}

impl RefusalKind {
    /// The kind's name, a Prometheus label: `unsigned`, `untrusted_key`,
    /// `revoked_key`, `expired_key`, `bad_signature`, `digest_mismatch`, `malformed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalKind::Unsigned => "unsigned",
            RefusalKind::UntrustedKey => "untrusted_key",
            RefusalKind::RevokedKey => "revoked_key",
            RefusalKind::ExpiredKey => "expired_key",
            RefusalKind::BadSignature => "bad_signature",
            RefusalKind::DigestMismatch => "digest_mismatch",
            RefusalKind::Malformed => "malformed",
        }
    }
}

impl Refusal {
    /// What kind of refusal this is. For [`Refusal::Rejected`], the most
    /// specific of the signatures' problems: a revoked key, then an expired
    /// (or not yet valid) one, then a bad signature, then an untrusted key.
    pub fn kind(&self) -> RefusalKind {
        match self {
            Refusal::Unsigned { .. } | Refusal::NoSignatures { .. } => RefusalKind::Unsigned,
            Refusal::Unreadable { .. } | Refusal::Malformed { .. } => RefusalKind::Malformed,
            Refusal::DigestMismatch { .. } => RefusalKind::DigestMismatch,
            Refusal::Rejected { problems, .. } => problems
                .iter()
                .map(|p| p.issue.clone())
                .max_by_key(SignatureIssue::specificity)
                .map_or(RefusalKind::UntrustedKey, |issue| issue.kind()),
        }
    }
}

/// One difference between the statement and the files on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// A signed file whose content changed.
    Changed {
        name: String,
        signed_sha256: String,
        actual_sha256: String,
    },
    /// A signed file that is not there.
    Missing { name: String },
    /// A file that the signature does not cover (added after signing).
    Unlisted { name: String },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Changed {
                name,
                signed_sha256,
                actual_sha256,
            } => write!(
                f,
                "{name} has SHA-256 {actual_sha256} but {signed_sha256} was signed"
            ),
            Mismatch::Missing { name } => write!(f, "{name} was signed but is missing"),
            Mismatch::Unlisted { name } => write!(
                f,
                "{name} is not covered by the signature (added after signing)"
            ),
        }
    }
}

/// What was wrong with one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureProblem {
    /// The key id the signature names (empty if it names none).
    pub key_id: String,
    pub issue: SignatureIssue,
}

/// Why one signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureIssue {
    /// Its key is in no trust file.
    UntrustedKey,
    /// It does not verify under the trusted key of its id.
    BadSignature,
    /// Its key is revoked.
    Revoked { reason: Option<String> },
    /// Its key is not valid yet.
    NotYetValid { not_before: SystemTime },
    /// Its key has expired.
    Expired { not_after: SystemTime },
}

impl SignatureIssue {
    /// The refusal kind this problem alone gives.
    pub fn kind(&self) -> RefusalKind {
        match self {
            SignatureIssue::UntrustedKey => RefusalKind::UntrustedKey,
            SignatureIssue::BadSignature => RefusalKind::BadSignature,
            SignatureIssue::Revoked { .. } => RefusalKind::RevokedKey,
            SignatureIssue::NotYetValid { .. } | SignatureIssue::Expired { .. } => {
                RefusalKind::ExpiredKey
            }
        }
    }

    /// Higher is more specific: what [`Refusal::kind`] reports first.
    fn specificity(&self) -> u8 {
        match self {
            SignatureIssue::UntrustedKey => 0,
            SignatureIssue::BadSignature => 1,
            SignatureIssue::NotYetValid { .. } | SignatureIssue::Expired { .. } => 2,
            SignatureIssue::Revoked { .. } => 3,
        }
    }
}

impl fmt::Display for SignatureProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key_id.is_empty() {
            f.write_str("a signature naming no key id")?;
        } else {
            write!(f, "the signature by key {:?}", self.key_id)?;
        }
        match &self.issue {
            SignatureIssue::UntrustedKey => f.write_str(" is by a key in no trust file"),
            SignatureIssue::BadSignature => f.write_str(
                " does not verify (the statement was altered, or another key signed it)",
            ),
            SignatureIssue::Revoked { reason: None } => f.write_str(" is by a revoked key"),
            SignatureIssue::Revoked {
                reason: Some(reason),
            } => write!(f, " is by a revoked key ({reason})"),
            SignatureIssue::NotYetValid { not_before } => write!(
                f,
                " is by a key not valid before {}",
                format_seconds(*not_before)
            ),
            SignatureIssue::Expired { not_after } => write!(
                f,
                " is by a key that expired at {}",
                format_seconds(*not_after)
            ),
        }
    }
}

/// At most the first three items, then how many more.
fn list<T: fmt::Display>(items: &[T]) -> String {
    let mut text = items
        .iter()
        .take(3)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > 3 {
        text.push_str(&format!("; and {} more", items.len() - 3));
    }
    text
}

/// What to do about the most specific problem.
fn advice(problems: &[SignatureProblem]) -> &'static str {
    let most = problems
        .iter()
        .map(|p| &p.issue)
        .max_by_key(|issue| issue.specificity());
    match most.map(SignatureIssue::kind) {
        Some(RefusalKind::RevokedKey) => "sign it again with a key that is trusted and not revoked",
        Some(RefusalKind::ExpiredKey) => {
            "sign it again with a currently valid key, or correct the key's not_before/not_after in the trust file"
        }
        Some(RefusalKind::BadSignature) => {
            "the bundle was altered or signed with a different key of that id: sign it again"
        }
        _ => {
            "add the signer's public key (its .pub) to the trust files, or sign it with a trusted key"
        }
    }
}
