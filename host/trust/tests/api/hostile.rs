//! Hostile bundles and binaries: refused with a reason, never a panic.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use edgescore_trust::RefusalKind;

use super::*;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Verifies `dir` with `bundle` as its model.sig: accepted only as signed.
fn check(dir: &Path, bundle: &[u8], trust: &TrustStore) {
    std::fs::write(dir.join("model.sig"), bundle).expect("written");
    if let Ok(verified) = verify(dir, trust) {
        assert_eq!(verified.signers, ["release"]);
    }
}

#[test]
fn mutated_bundles_never_panic() {
    let scratch = Scratch::new();
    let dir = scratch.folder("3", &pipeline_files());
    let release = key("release");
    sign(&dir, &release);
    let trust = scratch.trust(&release.public_key().to_trust_toml());
    let good = std::fs::read(dir.join("model.sig")).expect("read");
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let mut bytes = good.clone();
        for _ in 0..1 + noise.below(4) {
            let at = noise.below(bytes.len());
            match noise.below(3) {
                0 => bytes[at] = noise.next() as u8,
                1 => bytes.truncate(at),
                _ => bytes.insert(at, b"{}[]\",:0\\"[noise.below(9)]),
            }
            if bytes.is_empty() {
                break;
            }
        }
        check(&dir, &bytes, &trust);
    }
    for cut in 0..good.len() {
        check(&dir, &good[..cut], &trust);
    }
}

#[test]
fn crafted_statements_are_malformed_or_refused() {
    let scratch = Scratch::new();
    let dir = scratch.folder("3", &pipeline_files());
    let release = key("release");
    let trust = scratch.trust(&release.public_key().to_trust_toml());
    let sig = STANDARD.encode([0u8; 64]);
    let envelope = |payload: &[u8], payload_type: &str, sig: &str| {
        format!(
            r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{{"payload":"{}","payloadType":"{payload_type}","signatures":[{{"keyid":"release","sig":"{sig}"}}]}}}}"#,
            STANDARD.encode(payload)
        )
    };
    let in_toto = "application/vnd.in-toto+json";
    let statement = |resources: &str, subject: &str| {
        format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"3","digest":{{"sha256":"{subject}"}}}}],"predicateType":"https://model_signing/signature/v1.0","predicate":{{"serialization":{{"method":"files","hash_type":"sha256","allow_symlinks":false}},"resources":[{resources}]}}}}"#
        )
    };
    let zeros = "0".repeat(64);
    let cases: Vec<(String, RefusalKind)> = vec![
        (String::new(), RefusalKind::Malformed),
        ("null".to_owned(), RefusalKind::Malformed),
        ("[]".to_owned(), RefusalKind::Malformed),
        (envelope(b"{}", "text/plain", &sig), RefusalKind::Malformed),
        (envelope(b"not json", in_toto, &sig), RefusalKind::Malformed),
        (envelope(b"{}", in_toto, "%%%"), RefusalKind::Malformed),
        (envelope(b"{}", in_toto, "AAAA"), RefusalKind::Malformed),
        (
            envelope(statement("", &zeros).as_bytes(), in_toto, &sig),
            RefusalKind::Malformed,
        ),
        (
            envelope(
                statement(
                    r#"{"name":"../../etc/passwd","algorithm":"sha256","digest":"zz"}"#,
                    &zeros,
                )
                .as_bytes(),
                in_toto,
                &sig,
            ),
            RefusalKind::Malformed,
        ),
        (
            envelope(
                statement(
                    &format!(r#"{{"name":"model.wasm","algorithm":"sha256","digest":"{zeros}"}}"#),
                    &zeros,
                )
                .as_bytes(),
                in_toto,
                &sig,
            ),
            RefusalKind::Malformed,
        ),
        (
            format!(
                r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{{"payload":"","payloadType":"{in_toto}","signatures":[{}]}}}}"#,
                vec![r#"{"keyid":"x","sig":"AAAA"}"#; 100].join(",")
            ),
            RefusalKind::Malformed,
        ),
    ];
    for (bundle, kind) in cases {
        std::fs::write(dir.join("model.sig"), &bundle).expect("written");
        let refusal = verify(&dir, &trust).expect_err("refused");
        assert_eq!(refusal.kind(), kind, "{bundle}: {refusal}");
    }
}

#[test]
fn a_forged_statement_over_the_real_files_is_a_bad_signature() {
    let scratch = Scratch::new();
    let dir = scratch.folder("3", &pipeline_files());
    let release = key("release");
    sign(&dir, &release);
    let trust = scratch.trust(&release.public_key().to_trust_toml());
    // Another folder, signed: its signature moved onto this folder's statement.
    let other = scratch.folder("4", &[("model.wasm", b"\0asm\x01\0\0\0other" as &[u8])]);
    sign(&other, &release);
    let ours: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("model.sig")).expect("read")).expect("json");
    let mut theirs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(other.join("model.sig")).expect("read"))
            .expect("json");
    theirs["dsseEnvelope"]["payload"] = ours["dsseEnvelope"]["payload"].clone();
    std::fs::write(
        dir.join("model.sig"),
        serde_json::to_vec(&theirs).expect("json"),
    )
    .expect("written");
    let refusal = verify(&dir, &trust).expect_err("refused");
    assert_eq!(refusal.kind(), RefusalKind::BadSignature, "{refusal}");
}

#[test]
fn hostile_wasm_binaries_never_panic() {
    let scratch = Scratch::new();
    let trust = scratch.trust(&key("release").public_key().to_trust_toml());
    let wasm = scratch.path("model.wasm");
    let mut noise = Noise(42);
    for round in 0..2000 {
        let mut bytes = b"\0asm\x01\0\0\0".to_vec();
        for _ in 0..noise.below(24) {
            // Mostly custom sections (id 0), some named `signature`.
            let byte = match noise.below(4) {
                0 => 0,
                1 => b"\x09signature"[noise.below(10)],
                _ => noise.next() as u8,
            };
            bytes.push(byte);
        }
        std::fs::write(&wasm, &bytes).expect("written");
        let refusal = verify(&wasm, &trust).expect_err("never accepted");
        assert!(
            matches!(
                refusal.kind(),
                RefusalKind::Unsigned | RefusalKind::Malformed
            ),
            "round {round}: {refusal}"
        );
    }
}
