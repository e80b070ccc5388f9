//! Trust roots: the public keys whose signatures are accepted, read from
//! trust files (TOML `[[key]]` tables), with their validity windows and
//! revocations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

use crate::error::TrustError;
use crate::keys::{PublicKey, check_key_id, read_small};
use crate::time::parse_utc;

/// A trusted key with the rules its signatures are accepted under.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// The key (and its id).
    pub key: PublicKey,
    /// Signatures are refused (not yet valid) before this time.
    pub not_before: Option<SystemTime>,
    /// Signatures are refused (expired) after this time.
    pub not_after: Option<SystemTime>,
    /// Signatures are refused, whenever they were made.
    pub revoked: bool,
    /// Why the key was revoked, as the trust file says.
    pub revoked_reason: Option<String>,
    /// The trust file the key came from.
    pub source: PathBuf,
}

/// The keys of one or more trust files, by id.
#[derive(Debug, Clone)]
pub struct TrustStore {
    keys: BTreeMap<String, TrustedKey>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    #[serde(default)]
    key: Vec<KeyTable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyTable {
    id: String,
    public_key: String,
    not_before: Option<String>,
    not_after: Option<String>,
    #[serde(default)]
    revoked: bool,
    revoked_reason: Option<String>,
}

impl TrustStore {
    /// Reads trust files (TOML with `[[key]]` tables; a `.pub` written by
    /// keygen is one too). Several files merge; a duplicate id is an error.
    ///
    /// Each file must parse (an unknown field is an error naming the file)
    /// and hold at least one key; each key needs a valid id and an
    /// `ed25519:` public key, and its times (RFC 3339 strings in UTC, as
    /// `"2026-01-01T00:00:00Z"`) must have `not_before` before `not_after`.
    /// No file at all is [`TrustError::NoTrustFiles`].
    pub fn load(paths: &[PathBuf]) -> Result<TrustStore, TrustError> {
        if paths.is_empty() {
            return Err(TrustError::NoTrustFiles);
        }
        let mut keys: BTreeMap<String, TrustedKey> = BTreeMap::new();
        for path in paths {
            for key in read_trust_file(path)? {
                let id = key.key.key_id().to_owned();
                if let Some(first) = keys.get(&id) {
                    return Err(TrustError::DuplicateKeyId {
                        id,
                        first: first.source.clone(),
                        second: path.clone(),
                    });
                }
                keys.insert(id, key);
            }
        }
        Ok(TrustStore { keys })
    }

    /// The ids of the keys, sorted (revoked and expired ones included).
    pub fn key_ids(&self) -> Vec<String> {
        self.keys.keys().cloned().collect()
    }

    /// The key named `id`, if trusted.
    pub fn get(&self, id: &str) -> Option<&TrustedKey> {
        self.keys.get(id)
    }
}

/// The keys of one trust file.
fn read_trust_file(path: &Path) -> Result<Vec<TrustedKey>, TrustError> {
    let text = read_small(path)?;
    let file: TrustFile = toml::from_str(&text).map_err(|source| TrustError::TrustFile {
        path: path.to_owned(),
        source: Box::new(source),
    })?;
    if file.key.is_empty() {
        return Err(TrustError::EmptyTrustFile {
            path: path.to_owned(),
        });
    }
    let mut seen = BTreeMap::new();
    let mut keys = Vec::with_capacity(file.key.len());
    for table in file.key {
        if seen.insert(table.id.clone(), ()).is_some() {
            return Err(TrustError::DuplicateKeyId {
                id: table.id,
                first: path.to_owned(),
                second: path.to_owned(),
            });
        }
        keys.push(trusted_key(path, table)?);
    }
    Ok(keys)
}

fn trusted_key(path: &Path, table: KeyTable) -> Result<TrustedKey, TrustError> {
    check_key_id(&table.id)?;
    let bad = |reason: String| TrustError::TrustKey {
        path: path.to_owned(),
        id: table.id.clone(),
        reason,
    };
    let key = PublicKey::decode(&table.id, &table.public_key).map_err(&bad)?;
    let time = |field: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|text| {
                parse_utc(text).map_err(|e| {
                    bad(format!(
                        "{field} {text:?} is not an RFC 3339 time in UTC like \"2026-01-01T00:00:00Z\" ({e})"
                    ))
                })
            })
            .transpose()
    };
    let not_before = time("not_before", &table.not_before)?;
    let not_after = time("not_after", &table.not_after)?;
    if let (Some(start), Some(end)) = (not_before, not_after)
        && start >= end
    {
        return Err(bad("not_before is not before not_after".to_owned()));
    }
    Ok(TrustedKey {
        key,
        not_before,
        not_after,
        revoked: table.revoked,
        revoked_reason: table.revoked_reason,
        source: path.to_owned(),
    })
}
