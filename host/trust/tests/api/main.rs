//! The public API of `edgescore-trust`, as the server and the command line
//! use it.
//!
//! - `signing`: sign and verify directories and files, several signatures,
//!   every refusal kind (changed, added and removed files, untrusted,
//!   revoked, expired and not yet valid keys, bad signatures);
//! - `embedded`: signatures in a `signature` custom section, the binary
//!   still valid WebAssembly;
//! - `trust_files`: trust files that are refused, with the file named;
//! - `hostile`: arbitrary bundle bytes are refused, never a panic;
//! - `audit`: the audit log's chain and every tampering it finds;
//! - `independent`: our signatures checked by Python's `cryptography`.

mod audit;
mod embedded;
mod hostile;
mod independent;
mod signing;
mod trust_files;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use edgescore_trust::{
    PublicKey, Refusal, SecretKey, SignOptions, SignOutcome, TrustStore, Verified, sign_artifact,
    verify_artifact,
};

/// A scratch folder with keys and artifacts.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A version folder `name` holding `files` (relative name, content).
    fn folder(&self, name: &str, files: &[(&str, &[u8])]) -> PathBuf {
        let dir = self.path(name);
        for (file, bytes) in files {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("dir made");
            std::fs::write(&path, bytes).expect("file written");
        }
        dir
    }

    /// A trust file `name` with `tables` (TOML text).
    fn trust_file(&self, name: &str, tables: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, tables).expect("trust file written");
        path
    }

    /// The trust store of one trust file with `tables`.
    fn trust(&self, tables: &str) -> TrustStore {
        let path = self.trust_file("trust.toml", tables);
        TrustStore::load(&[path]).expect("trust file loads")
    }
}

/// A pipeline version folder's files.
fn pipeline_files() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("pipeline.toml", b"[pipeline]\nname = \"fraud\"\n" as &[u8]),
        ("model.wasm", b"\0asm\x01\0\0\0"),
        ("transform/features.wasm", b"\0asm\x0d\0\x01\0"),
        ("profile.json", b"{}"),
    ]
}

fn key(id: &str) -> SecretKey {
    SecretKey::generate(id).expect("key made")
}

/// `public`'s `[[key]]` table with `extra` lines.
fn table(public: &PublicKey, extra: &str) -> String {
    format!("{}{extra}\n", public.to_trust_toml())
}

fn sign(path: &Path, key: &SecretKey) -> SignOutcome {
    sign_artifact(path, key, &SignOptions::default()).expect("signed")
}

fn verify(path: &Path, trust: &TrustStore) -> Result<Verified, Refusal> {
    verify_artifact(path, trust, SystemTime::now())
}

/// `now` plus or minus whole days.
fn days_from_now(days: i64) -> SystemTime {
    let span = Duration::from_secs(days.unsigned_abs() * 86_400);
    if days >= 0 {
        SystemTime::now() + span
    } else {
        SystemTime::now() - span
    }
}

/// `at` as a trust file writes it.
fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}
