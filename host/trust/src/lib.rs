//! Signed artifacts and the audit log.
//!
//! - [`keys`]: Ed25519 keys and their files; [`trust_store`]: the trust
//!   roots; [`sign`] and [`verify`]: signing and verifying an artifact
//!   ([`artifact`]: what one is; [`refusal`]: why one is refused);
//! - [`audit`]: the hash-chained audit log.
//!
//! No wasmtime, no tokio and no other edgescore crate: the server, the
//! stream and the command line all call these.
//!
//! # Formats
//!
//! **Secret key file** `<name>.key` (mode 0600, never overwritten): JSON
//! `{"kind":"edgescore-ed25519-secret-key","key_id":"...","secret_key":"<base64 of the 32-byte RFC 8032 secret key>"}`.
//! **Public key file** `<name>.pub`: a trust file with one `[[key]]` table.
//! A key id is 1 to 128 ASCII letters, digits, `.`, `_`, `-` or `@`.
//!
//! **Trust file** (TOML; unknown fields are errors naming the file; several
//! files merge, and an id given twice is an error):
//!
//! ```toml
//! [[key]]
//! id = "release-2026"
//! public_key = "ed25519:<base64 of the 32-byte key>"
//! not_before = "2026-01-01T00:00:00Z"   # optional: before it, signatures are refused (not yet valid)
//! not_after  = "2027-01-01T00:00:00Z"   # optional: after it, signatures are refused (expired)
//! revoked = true                        # optional, default false: its signatures are refused
//! revoked_reason = "laptop lost"        # optional
//! ```
//!
//! Times are RFC 3339 strings in UTC (ending in `Z`).
//!
//! **Artifact**: (a) a directory (a registry version folder: `model.wasm`,
//! or `pipeline.toml`, components and `profile.json`): its detached
//! signature is `<dir>/model.sig`, covering every regular file under the
//! directory, recursively, except `model.sig` itself (a symbolic link in it
//! is refused as malformed); (b) a single file: the detached signature
//! `<file>.sig`; (c) a `.wasm` signed with `embed`: a custom section named
//! `signature` (as wasmsign2 names it) holding the same bundle JSON, whose
//! digest covers the module or component without any `signature` custom
//! section. A directory without `model.sig` whose only file is a `.wasm`
//! with an embedded signature is verified through that signature. A
//! detached signature, when present, is the one verified.
//!
//! **Bundle** (after the OpenSSF Model Signing spec: a Sigstore bundle v0.3
//! with a DSSE envelope around an in-toto statement):
//!
//! ```json
//! {"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",
//!  "verificationMaterial":{"publicKey":{"hint":"<key id of the first signer>"}},
//!  "dsseEnvelope":{"payload":"<base64 of the statement JSON>","payloadType":"application/vnd.in-toto+json",
//!    "signatures":[{"keyid":"<key id>","sig":"<base64 Ed25519 signature over PAE(payloadType, payload)>"}]}}
//! ```
//!
//! PAE is DSSE's: `"DSSEv1" SP len(type) SP type SP len(body) SP body`,
//! lengths in ASCII decimal of bytes. The statement:
//!
//! ```json
//! {"_type":"https://in-toto.io/Statement/v1",
//!  "subject":[{"name":"<artifact base name>","digest":{"sha256":"<root digest>"}}],
//!  "predicateType":"https://model_signing/signature/v1.0",
//!  "predicate":{"serialization":{"method":"files","hash_type":"sha256","allow_symlinks":false},
//!    "resources":[{"name":"model.wasm","algorithm":"sha256","digest":"<hex>"}]}}
//! ```
//!
//! Resources are sorted by name (a path relative to the artifact,
//! `/`-separated; a single file's own name). The root digest is the SHA-256
//! of `<name>\0<hex digest>\n` for each resource in that order.
//!
//! Several signatures: signing an artifact whose bundle's statement still
//! matches its files adds a signature (replacing one by the same key id);
//! if the files changed, the old signatures are void and the new bundle
//! holds only the new one ([`SignOutcome::replaced_stale`]).
//!
//! **Verification** ([`verify_artifact`]): no signature is
//! [`RefusalKind::Unsigned`]; a bundle or statement that does not parse,
//! a wrong payload type or bad base64 is [`RefusalKind::Malformed`]; a
//! file changed, missing or not listed is [`RefusalKind::DigestMismatch`]
//! (naming the file and both digests). Otherwise the artifact is accepted
//! iff at least one signature over that statement verifies under a trusted
//! key that is not revoked and is within `[not_before, not_after]` now; if
//! none is, the refusal lists each signature's problem and its kind is the
//! most specific: revoked, then expired (or not yet valid), then a bad
//! signature, then an untrusted key.
//!
//! **Audit log** (JSON lines, [`AuditLog`]): each line is
//! `{"seq":N,"at":"<RFC 3339 UTC, ms>","actor":"...","action":"load","model":"...","version":N,"details":{...},"prev":"<hex>"}`
//! (`model` and `version` left out when absent), `prev` being the hex
//! SHA-256 of the previous line's exact bytes without its newline (64 zeros
//! on the first line). [`verify_audit_log`] finds an edited, removed or
//! reordered line, and a removed first line; removing the last lines can be
//! detected only against a head recorded before
//! ([`AuditSummary::head_sha256`]).

pub mod artifact;
pub mod audit;
mod bundle;
mod digest;
pub mod error;
pub mod keys;
pub mod refusal;
pub mod sign;
mod statement;
mod time;
pub mod trust_store;
pub mod verify;
mod wasm;

pub use artifact::{ArtifactError, DIRECTORY_SIGNATURE_FILE};
pub use audit::{
    AuditAction, AuditError, AuditLog, AuditRecord, AuditSummary, AuditViolation, verify_audit_log,
};
pub use error::TrustError;
pub use keys::{PublicKey, SecretKey};
pub use refusal::{Mismatch, Refusal, RefusalKind, SignatureIssue, SignatureProblem};
pub use sign::{SignOptions, SignOutcome, sign_artifact};
pub use trust_store::{TrustStore, TrustedKey};
pub use verify::{FileDigest, Verified, verify_artifact};
pub use wasm::WasmError;
