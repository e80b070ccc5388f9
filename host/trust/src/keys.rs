//! Ed25519 keys and their files: the secret key file `<name>.key` (JSON,
//! mode 0600) and the public key file `<name>.pub` (a trust file with one
//! `[[key]]` table).

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::error::TrustError;

/// The `kind` of a secret key file.
const SECRET_KEY_KIND: &str = "edgescore-ed25519-secret-key";
/// The prefix of a public key in a trust file.
pub(crate) const PUBLIC_KEY_PREFIX: &str = "ed25519:";
/// A key is a few hundred bytes, a trust file a few per key: more than
/// this is neither.
const MAX_KEY_FILE_BYTES: u64 = 1 << 20;

/// An Ed25519 signing key with its id. `Debug` shows the id and the public
/// key, never the secret.
pub struct SecretKey {
    key_id: String,
    signing: SigningKey,
}

/// An Ed25519 public key with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key_id: String,
    verifying: VerifyingKey,
}

/// The secret key file, as written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretKeyFile {
    kind: String,
    key_id: String,
    secret_key: String,
}

impl SecretKey {
    /// A new key named `key_id`, from 32 bytes of the operating system's
    /// random source. The id: 1 to 128 letters, digits, `.`, `_`, `-` or `@`.
    pub fn generate(key_id: &str) -> Result<SecretKey, TrustError> {
        check_key_id(key_id)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| TrustError::Random {
            reason: e.to_string(),
        })?;
        let key = SecretKey::from_seed(key_id, &seed);
        seed.fill(0);
        Ok(key)
    }

    /// The key from the 32-byte seed RFC 8032 calls the secret key.
    pub(crate) fn from_seed(key_id: &str, seed: &[u8; 32]) -> SecretKey {
        SecretKey {
            key_id: key_id.to_owned(),
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// Reads a secret key file written by [`SecretKey::write`].
    pub fn read(path: &Path) -> Result<SecretKey, TrustError> {
        let bad = |reason: String| TrustError::SecretKeyFile {
            path: path.to_owned(),
            reason,
        };
        let text = read_small(path)?;
        let file: SecretKeyFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if file.kind != SECRET_KEY_KIND {
            return Err(bad(format!(
                "its kind is {:?}, not {SECRET_KEY_KIND:?}",
                file.kind
            )));
        }
        check_key_id(&file.key_id)?;
        let seed = STANDARD
            .decode(file.secret_key.trim())
            .map_err(|e| bad(format!("secret_key is not base64: {e}")))?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| bad("secret_key is not 32 bytes".to_owned()))?;
        Ok(SecretKey::from_seed(&file.key_id, &seed))
    }

    /// Writes the key file at `path` (created with mode 0600 on unix).
    /// Refuses to replace an existing file: [`TrustError::Exists`].
    pub fn write(&self, path: &Path) -> Result<(), TrustError> {
        let file = SecretKeyFile {
            kind: SECRET_KEY_KIND.to_owned(),
            key_id: self.key_id.clone(),
            secret_key: STANDARD.encode(self.signing.to_bytes()),
        };
        let mut text = serde_json::to_string(&file).map_err(|e| TrustError::Write {
            path: path.to_owned(),
            source: std::io::Error::other(e),
        })?;
        text.push('\n');
        write_new(path, text.as_bytes(), 0o600)
    }

    /// The key's id, as signatures name it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public half, with the same id.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key_id: self.key_id.clone(),
            verifying: self.signing.verifying_key(),
        }
    }

    /// The Ed25519 signature of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("key_id", &self.key_id)
            .field("public_key", &self.public_key().encoded())
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// The key from its trust-file form `ed25519:<base64 of 32 bytes>`.
    pub(crate) fn decode(key_id: &str, text: &str) -> Result<PublicKey, String> {
        let Some(b64) = text.strip_prefix(PUBLIC_KEY_PREFIX) else {
            return Err(format!(
                "public_key must start with {PUBLIC_KEY_PREFIX:?} (the only algorithm)"
            ));
        };
        let bytes = STANDARD
            .decode(b64.trim())
            .map_err(|e| format!("public_key is not base64: {e}"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "public_key is not 32 bytes".to_owned())?;
        let verifying = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| "public_key is not a valid Ed25519 point".to_owned())?;
        Ok(PublicKey {
            key_id: key_id.to_owned(),
            verifying,
        })
    }

    /// The key's id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The key as a trust file writes it: `ed25519:<base64>`.
    pub fn encoded(&self) -> String {
        format!(
            "{PUBLIC_KEY_PREFIX}{}",
            STANDARD.encode(self.verifying.as_bytes())
        )
    }

    /// A `[[key]]` table for a trust file (id, public_key), ready to paste.
    pub fn to_trust_toml(&self) -> String {
        // Key ids are checked to need no escaping (see `check_key_id`).
        format!(
            "[[key]]\nid = \"{}\"\npublic_key = \"{}\"\n",
            self.key_id,
            self.encoded()
        )
    }

    /// Writes [`PublicKey::to_trust_toml`] to `path`, a trust file by itself.
    /// Refuses to replace an existing file: [`TrustError::Exists`].
    pub fn write(&self, path: &Path) -> Result<(), TrustError> {
        write_new(path, self.to_trust_toml().as_bytes(), 0o644)
    }

    /// Whether `signature` is this key's signature of `message`, under the
    /// strict rules (no small-order keys, canonical signatures only).
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.verifying
            .verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    }
}

/// Refuses a key id that is empty, longer than 128 bytes or holds anything
/// but ASCII letters, digits, `.`, `_`, `-` and `@`.
pub(crate) fn check_key_id(id: &str) -> Result<(), TrustError> {
    let fine = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if fine {
        Ok(())
    } else {
        Err(TrustError::BadKeyId { id: id.to_owned() })
    }
}

/// Reads a key or trust file, refusing one too large to be one.
pub(crate) fn read_small(path: &Path) -> Result<String, TrustError> {
    let read = |source| TrustError::Read {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read)?.len();
    if len > MAX_KEY_FILE_BYTES {
        return Err(read(std::io::Error::other(format!(
            "{len} bytes is too large for a key or trust file"
        ))));
    }
    std::fs::read_to_string(path).map_err(read)
}

/// Creates `path` with `bytes` (and `mode` on unix), never replacing a file.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TrustError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            TrustError::Exists {
                path: path.to_owned(),
            }
        } else {
            TrustError::Write {
                path: path.to_owned(),
                source,
            }
        }
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|source| TrustError::Write {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 section 7.1, TEST 1: the secret key, its public key, and
    /// the signature of the empty message.
    const RFC8032_SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const RFC8032_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const RFC8032_SIGNATURE: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn rfc8032_test_1_through_the_key_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("rfc.key");
        let file = format!(
            r#"{{"kind":"edgescore-ed25519-secret-key","key_id":"rfc8032-1","secret_key":"{}"}}"#,
            STANDARD.encode(unhex(RFC8032_SECRET))
        );
        std::fs::write(&path, file).expect("key file written");
        let key = SecretKey::read(&path).expect("key file read");
        let public = key.public_key();
        assert_eq!(
            public.encoded(),
            format!("ed25519:{}", STANDARD.encode(unhex(RFC8032_PUBLIC)))
        );
        let signature = key.sign(b"");
        assert_eq!(signature.to_vec(), unhex(RFC8032_SIGNATURE));
        assert!(public.verifies(b"", &signature));
        assert!(!public.verifies(b"x", &signature));
    }

    #[test]
    fn a_key_file_round_trips_private_and_never_overwritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("k.key");
        let key = SecretKey::generate("release-2026").expect("key made");
        key.write(&path).expect("written");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let back = SecretKey::read(&path).expect("read back");
        assert_eq!(back.public_key(), key.public_key());
        assert!(matches!(key.write(&path), Err(TrustError::Exists { .. })));
        let debug = format!("{key:?}");
        let secret = STANDARD.encode(key.signing.to_bytes());
        assert!(!debug.contains(&secret), "{debug}");
    }

    #[test]
    fn bad_key_ids_are_refused() {
        for id in ["", "a b", "x\"y", "é", &"a".repeat(129)] {
            assert!(SecretKey::generate(id).is_err(), "{id:?}");
        }
    }
}
