//! Our signatures and digests, checked by an implementation we did not
//! write: Python's `cryptography` (OpenSSL's Ed25519) and `hashlib`.
//! Skipped, saying why, where that package is missing; with
//! `EDGESCORE_REQUIRE_PY_CRYPTO=1` its absence fails instead.

use std::process::Command;

use super::*;

/// Verifies a bundle from first principles: the PAE, the Ed25519
/// signature, every file's SHA-256 and the subject's root digest.
const CHECK: &str = r#"
import base64, hashlib, json, os, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

bundle_path, trust_path, folder = sys.argv[1:4]
bundle = json.load(open(bundle_path))
public = None
for line in open(trust_path):
    if line.startswith("public_key"):
        public = base64.b64decode(line.split('"')[1].removeprefix("ed25519:"))
env = bundle["dsseEnvelope"]
payload = base64.b64decode(env["payload"])
ptype = env["payloadType"].encode()
pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
sig = base64.b64decode(env["signatures"][0]["sig"])
Ed25519PublicKey.from_public_bytes(public).verify(sig, pae)
statement = json.loads(payload)
root = hashlib.sha256()
for r in statement["predicate"]["resources"]:
    data = open(os.path.join(folder, r["name"]), "rb").read()
    assert hashlib.sha256(data).hexdigest() == r["digest"], r["name"]
    root.update(r["name"].encode() + b"\0" + r["digest"].encode() + b"\n")
assert statement["subject"][0]["digest"]["sha256"] == root.hexdigest()
print("verified by python cryptography")
"#;

fn python_has_cryptography() -> Result<(), String> {
    match Command::new("python3")
        .args(["-c", "import cryptography"])
        .output()
    {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "python3 cannot import cryptography: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("python3 does not run: {e}")),
    }
}

#[test]
fn python_cryptography_verifies_our_signature() {
    if let Err(why) = python_has_cryptography() {
        assert!(
            std::env::var_os("EDGESCORE_REQUIRE_PY_CRYPTO").is_none_or(|v| v != "1"),
            "EDGESCORE_REQUIRE_PY_CRYPTO=1 but {why}"
        );
        eprintln!("skipped: {why} (pip install cryptography to run this check)");
        return;
    }
    let scratch = Scratch::new();
    let dir = scratch.folder("3", &pipeline_files());
    let release = key("release");
    sign(&dir, &release);
    let public = scratch.path("release.pub");
    release.public_key().write(&public).expect("written");
    let out = Command::new("python3")
        .args(["-c", CHECK])
        .arg(dir.join("model.sig"))
        .arg(&public)
        .arg(&dir)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python rejected our bundle: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // And it rejects a signature over another statement.
    let mut bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("model.sig")).expect("read")).expect("json");
    let sig = bundle["dsseEnvelope"]["signatures"][0]["sig"]
        .as_str()
        .expect("a signature")
        .to_owned();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = format!("{flipped}{}", &sig[1..]).into();
    let tampered = scratch.path("tampered.sig");
    std::fs::write(&tampered, serde_json::to_vec(&bundle).expect("json")).expect("written");
    let out = Command::new("python3")
        .args(["-c", CHECK])
        .arg(&tampered)
        .arg(&public)
        .arg(&dir)
        .output()
        .expect("python3 runs");
    assert!(!out.status.success(), "python accepted a flipped signature");
}
