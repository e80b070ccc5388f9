//! [`TrustError`]: why a key, a trust file or a signing failed.

use std::path::PathBuf;

use crate::artifact::ArtifactError;

/// Why a key could not be made, read or written, a trust file could not be
/// loaded, or an artifact could not be signed. Each message names the file
/// and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A key file would have replaced an existing file.
    #[error(
        "{} already exists: key files are never overwritten; choose another name or move the old file away first",
        path.display()
    )]
    Exists { path: PathBuf },
    /// The random source of the operating system failed.
    #[error("cannot get random bytes from the operating system for a new key: {reason}")]
    Random { reason: String },
    /// A secret key file is not one.
    #[error(
        "{} is not an edgescore secret key file ({reason}); give a .key written by `edgescore keygen`",
        path.display()
    )]
    SecretKeyFile { path: PathBuf, reason: String },
    /// A key id that cannot be used.
    #[error("{id:?} is not a key id: use 1 to 128 ASCII letters, digits, '.', '_', '-' or '@'")]
    BadKeyId { id: String },
    /// A trust file is not valid TOML of `[[key]]` tables (an unknown field included).
    #[error("{} is not a valid trust file: {source}", path.display())]
    TrustFile {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    /// One `[[key]]` table of a trust file is wrong.
    #[error("{}: key {id:?}: {reason}; fix that [[key]] table", path.display())]
    TrustKey {
        path: PathBuf,
        id: String,
        reason: String,
    },
    /// A trust file holds no key.
    #[error(
        "{} holds no [[key]] table: add the public keys to trust (a .pub written by `edgescore keygen` is one)",
        path.display()
    )]
    EmptyTrustFile { path: PathBuf },
    /// Two keys with one id, in one trust file or two.
    #[error(
        "key id {id:?} is given twice ({} and {}): ids name keys in signatures, so each must be unique; remove or rename one",
        first.display(),
        second.display()
    )]
    DuplicateKeyId {
        id: String,
        first: PathBuf,
        second: PathBuf,
    },
    /// No trust file was given.
    #[error("no trust file given: give at least one (a .pub written by `edgescore keygen` is one)")]
    NoTrustFiles,
    /// The artifact to sign cannot be read as one.
    #[error("cannot sign: {0}")]
    Artifact(#[source] ArtifactError),
    /// `embed` was asked for an artifact that is not one `.wasm`.
    #[error(
        "cannot embed a signature in {}: {reason}; sign it without --embed (a detached signature)",
        path.display()
    )]
    CannotEmbed { path: PathBuf, reason: String },
    /// `embed` was asked where a detached signature exists, which would then be stale.
    #[error(
        "cannot embed a signature in {}: it has the detached signature {}, which verification reads first and which embedding would make stale; sign without --embed, or remove {} first",
        path.display(),
        detached.display(),
        detached.display()
    )]
    DetachedSignatureExists { path: PathBuf, detached: PathBuf },
    /// An existing signature bundle cannot be read, so it cannot be added to.
    #[error(
        "cannot add a signature to {}: the existing bundle is malformed ({reason}); remove it and sign again with every key",
        path.display()
    )]
    ExistingBundle { path: PathBuf, reason: String },
}
