//! Signatures embedded in a `signature` custom section of a `.wasm`.

use edgescore_trust::{RefusalKind, TrustError};
use wasmparser::Validator;

use super::*;

/// A core module exporting nothing, with one function `() -> ()`.
fn core_module() -> Vec<u8> {
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    bytes.extend_from_slice(&[0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // type section
    bytes.extend_from_slice(&[0x03, 0x02, 0x01, 0x00]); // function section
    bytes.extend_from_slice(&[0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b]); // code section
    bytes
}

/// A component holding that core module.
fn component() -> Vec<u8> {
    let module = core_module();
    let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
    bytes.push(0x01); // core module section
    bytes.push(u8::try_from(module.len()).expect("a small module"));
    bytes.extend_from_slice(&module);
    bytes
}

fn validate(bytes: &[u8]) {
    // The workspace's wasmparser validates with its default features, the
    // component model among them.
    Validator::new()
        .validate_all(bytes)
        .expect("valid WebAssembly");
}

fn embed() -> SignOptions {
    SignOptions { embed: true }
}

#[test]
fn an_embedded_signature_round_trips_and_the_binary_stays_valid() {
    for (name, original) in [("model.wasm", component()), ("core.wasm", core_module())] {
        validate(&original);
        let scratch = Scratch::new();
        let wasm = scratch.path(name);
        std::fs::write(&wasm, &original).expect("written");
        let (alice, bob) = (key("alice"), key("bob"));
        let outcome = sign_artifact(&wasm, &alice, &embed()).expect("signed");
        assert_eq!(outcome.signature_file, wasm);
        let outcome = sign_artifact(&wasm, &bob, &embed()).expect("signed again");
        assert_eq!(outcome.signers, ["alice", "bob"]);
        assert!(!scratch.path(&format!("{name}.sig")).exists());

        let signed = std::fs::read(&wasm).expect("read");
        validate(&signed);
        assert!(signed.starts_with(&original), "the section is appended");
        let trust = scratch.trust(&bob.public_key().to_trust_toml());
        let verified = verify(&wasm, &trust).expect("accepted");
        assert_eq!(verified.signers, ["bob"]);
        assert_eq!(verified.files[0].name, name);

        // The digest covers the binary itself: one flipped byte is refused.
        let mut tampered = signed.clone();
        let last_code_byte = original.len() - 2;
        tampered[last_code_byte] ^= 0x01;
        std::fs::write(&wasm, &tampered).expect("written");
        let refusal = verify(&wasm, &trust).expect_err("refused");
        assert_eq!(refusal.kind(), RefusalKind::DigestMismatch, "{refusal}");
    }
}

#[test]
fn a_folder_whose_only_file_is_a_signed_wasm_verifies_through_it() {
    let scratch = Scratch::new();
    let dir = scratch.folder("3", &[("model.wasm", &component())]);
    let release = key("release");
    let outcome = sign_artifact(&dir, &release, &embed()).expect("signed");
    assert_eq!(outcome.signature_file, dir.join("model.wasm"));
    assert!(!dir.join("model.sig").exists());
    let trust = scratch.trust(&release.public_key().to_trust_toml());
    let verified = verify(&dir, &trust).expect("accepted");
    assert_eq!(verified.signature_file, dir.join("model.wasm"));
    // A second file is not covered by the embedded signature: unsigned.
    std::fs::write(dir.join("profile.json"), b"{}").expect("written");
    let refusal = verify(&dir, &trust).expect_err("refused");
    assert_eq!(refusal.kind(), RefusalKind::Unsigned, "{refusal}");
}

#[test]
fn embedding_is_refused_where_it_cannot_be_verified() {
    let scratch = Scratch::new();
    let release = key("release");
    let text = scratch.path("spec.toml");
    std::fs::write(&text, b"x = 1\n").expect("written");
    let error = sign_artifact(&text, &release, &embed()).expect_err("refused");
    assert!(matches!(error, TrustError::CannotEmbed { .. }), "{error}");

    let dir = scratch.folder("3", &pipeline_files());
    let error = sign_artifact(&dir, &release, &embed()).expect_err("refused");
    assert!(matches!(error, TrustError::CannotEmbed { .. }), "{error}");

    // A detached signature would go stale.
    let dir = scratch.folder("4", &[("model.wasm", &component())]);
    sign(&dir, &release);
    let error = sign_artifact(&dir, &release, &embed()).expect_err("refused");
    assert!(
        matches!(error, TrustError::DetachedSignatureExists { .. }),
        "{error}"
    );
}
