//! Detached signatures of folders and files: accepted and refused.

use edgescore_trust::{Mismatch, Refusal, RefusalKind, SignatureIssue, TrustStore};

use super::*;

#[test]
fn a_signed_folder_verifies_with_every_file_listed() {
    let scratch = Scratch::new();
    let dir = scratch.folder("3", &pipeline_files());
    let release = key("release");
    let outcome = sign(&dir, &release);
    assert_eq!(outcome.signature_file, dir.join("model.sig"));
    assert_eq!(outcome.signers, ["release"]);
    assert!(!outcome.replaced_stale);

    let trust = scratch.trust(&release.public_key().to_trust_toml());
    let verified = verify(&dir, &trust).expect("accepted");
    assert_eq!(verified.signers, ["release"]);
    let names: Vec<&str> = verified.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "model.wasm",
            "pipeline.toml",
            "profile.json",
            "transform/features.wasm"
        ]
    );
    assert_eq!(verified.manifest_sha256.len(), 64);
    assert_eq!(verified.signature_file, dir.join("model.sig"));
}

#[test]
fn a_second_key_adds_a_signature_and_either_key_is_enough() {
    let scratch = Scratch::new();
    let dir = scratch.folder("3", &pipeline_files());
    let (alice, bob) = (key("alice"), key("bob"));
    let first = verify_manifest_after(&dir, &alice);
    let outcome = sign(&dir, &bob);
    assert_eq!(outcome.signers, ["alice", "bob"]);
    assert!(!outcome.replaced_stale);
    // Signing again with a key replaces its own signature, keeping the other.
    assert_eq!(sign(&dir, &alice).signers, ["bob", "alice"]);

    let only_alice = scratch.trust(&alice.public_key().to_trust_toml());
    let verified = verify(&dir, &only_alice).expect("accepted by alice");
    assert_eq!(verified.signers, ["alice"]);
    assert_eq!(
        verified.manifest_sha256, first,
        "the statement is unchanged"
    );
    let both = scratch.trust(&format!(
        "{}{}",
        alice.public_key().to_trust_toml(),
        bob.public_key().to_trust_toml()
    ));
    assert_eq!(
        verify(&dir, &both).expect("accepted").signers,
        ["bob", "alice"]
    );
    // Bob's key revoked: still accepted through Alice's signature.
    let revoked_bob = scratch.trust(&format!(
        "{}{}",
        alice.public_key().to_trust_toml(),
        table(&bob.public_key(), "revoked = true")
    ));
    assert_eq!(
        verify(&dir, &revoked_bob).expect("accepted").signers,
        ["alice"]
    );
}

/// Signs `dir` with `key` alone and returns the manifest hash it verifies with.
fn verify_manifest_after(dir: &Path, key: &SecretKey) -> String {
    sign(dir, key);
    let scratch = Scratch::new();
    let trust = scratch.trust(&key.public_key().to_trust_toml());
    verify(dir, &trust).expect("accepted").manifest_sha256
}

#[test]
fn signing_changed_files_voids_the_old_signatures() {
    let scratch = Scratch::new();
    let dir = scratch.folder("3", &pipeline_files());
    let (alice, bob) = (key("alice"), key("bob"));
    sign(&dir, &alice);
    std::fs::write(dir.join("profile.json"), b"{\"changed\": true}").expect("written");
    let outcome = sign(&dir, &bob);
    assert!(outcome.replaced_stale);
    assert_eq!(outcome.signers, ["bob"]);
    let alice_only = scratch.trust(&alice.public_key().to_trust_toml());
    let refusal = verify(&dir, &alice_only).expect_err("alice's signature is gone");
    assert_eq!(refusal.kind(), RefusalKind::UntrustedKey, "{refusal}");
}

#[test]
fn a_flipped_byte_is_a_digest_mismatch_naming_the_file_and_both_digests() {
    let scratch = Scratch::new();
    let dir = scratch.folder("3", &pipeline_files());
    let release = key("release");
    sign(&dir, &release);
    let trust = scratch.trust(&release.public_key().to_trust_toml());
    let signed = verify(&dir, &trust).expect("accepted");
    let file = dir.join("transform/features.wasm");
    let mut bytes = std::fs::read(&file).expect("read");
    bytes[5] ^= 0x01;
    std::fs::write(&file, &bytes).expect("written");

    let refusal = verify(&dir, &trust).expect_err("refused");
    assert_eq!(refusal.kind(), RefusalKind::DigestMismatch);
    let Refusal::DigestMismatch { mismatches, .. } = &refusal else {
        panic!("not a digest mismatch: {refusal}");
    };
    let signed_digest = &signed
        .files
        .iter()
        .find(|f| f.name == "transform/features.wasm")
        .expect("listed")
        .sha256;
    assert!(matches!(
        &mismatches[..],
        [Mismatch::Changed { name, signed_sha256, .. }]
            if name == "transform/features.wasm" && signed_sha256 == signed_digest
    ));
    let message = refusal.to_string();
    assert!(message.contains("transform/features.wasm"), "{message}");
    assert!(message.contains(signed_digest.as_str()), "{message}");
}

#[test]
fn an_added_or_removed_file_is_a_digest_mismatch() {
    let scratch = Scratch::new();
    let dir = scratch.folder("3", &pipeline_files());
    let release = key("release");
    sign(&dir, &release);
    let trust = scratch.trust(&release.public_key().to_trust_toml());

    std::fs::write(dir.join("extra.so"), b"payload").expect("written");
    let refusal = verify(&dir, &trust).expect_err("refused");
    assert_eq!(refusal.kind(), RefusalKind::DigestMismatch);
    assert!(
        refusal.to_string().contains("extra.so is not covered"),
        "{refusal}"
    );
    std::fs::remove_file(dir.join("extra.so")).expect("removed");

    std::fs::remove_file(dir.join("profile.json")).expect("removed");
    let refusal = verify(&dir, &trust).expect_err("refused");
    assert_eq!(refusal.kind(), RefusalKind::DigestMismatch);
    assert!(
        refusal
            .to_string()
            .contains("profile.json was signed but is missing"),
        "{refusal}"
    );
}

#[test]
fn an_unsigned_folder_is_refused_as_unsigned() {
    let scratch = Scratch::new();
    let dir = scratch.folder("3", &pipeline_files());
    let trust = scratch.trust(&key("release").public_key().to_trust_toml());
    let refusal = verify(&dir, &trust).expect_err("refused");
    assert_eq!(refusal.kind(), RefusalKind::Unsigned);
    assert_eq!(refusal.kind().as_str(), "unsigned");
    assert!(refusal.to_string().contains("edgescore sign"), "{refusal}");
}

#[test]
fn a_key_outside_the_trust_files_is_untrusted() {
    let scratch = Scratch::new();
    let dir = scratch.folder("3", &pipeline_files());
    sign(&dir, &key("stranger"));
    let trust = scratch.trust(&key("release").public_key().to_trust_toml());
    let refusal = verify(&dir, &trust).expect_err("refused");
    assert_eq!(refusal.kind(), RefusalKind::UntrustedKey);
    assert!(refusal.to_string().contains("\"stranger\""), "{refusal}");
}

#[test]
fn a_key_of_the_same_id_but_other_bytes_is_a_bad_signature() {
    let scratch = Scratch::new();
    let dir = scratch.folder("3", &pipeline_files());
    sign(&dir, &key("release"));
    let impostor = key("release");
    let trust = scratch.trust(&impostor.public_key().to_trust_toml());
    let refusal = verify(&dir, &trust).expect_err("refused");
    assert_eq!(refusal.kind(), RefusalKind::BadSignature, "{refusal}");
}

#[test]
fn revoked_expired_and_not_yet_valid_keys_are_refused() {
    let scratch = Scratch::new();
    let dir = scratch.folder("3", &pipeline_files());
    let release = key("release");
    sign(&dir, &release);
    let public = release.public_key();
    let cases = [
        (
            "revoked = true\nrevoked_reason = \"laptop lost\"".to_owned(),
            RefusalKind::RevokedKey,
            "laptop lost",
        ),
        (
            format!("not_after = \"{}\"", rfc3339(days_from_now(-1))),
            RefusalKind::ExpiredKey,
            "expired",
        ),
        (
            format!("not_before = \"{}\"", rfc3339(days_from_now(1))),
            RefusalKind::ExpiredKey,
            "not valid before",
        ),
    ];
    for (extra, kind, words) in cases {
        let trust = scratch.trust(&table(&public, &extra));
        let refusal = verify(&dir, &trust).expect_err("refused");
        assert_eq!(refusal.kind(), kind, "{extra}: {refusal}");
        assert!(refusal.to_string().contains(words), "{refusal}");
    }
    // Within its window, the key is accepted.
    let window = format!(
        "not_before = \"{}\"\nnot_after = \"{}\"",
        rfc3339(days_from_now(-1)),
        rfc3339(days_from_now(1))
    );
    verify(&dir, &scratch.trust(&table(&public, &window))).expect("accepted in its window");
}

#[test]
fn the_most_specific_problem_names_the_refusal() {
    let scratch = Scratch::new();
    let dir = scratch.folder("3", &pipeline_files());
    let (stranger, old, lost) = (key("stranger"), key("old"), key("lost"));
    for signer in [&stranger, &old, &lost] {
        sign(&dir, signer);
    }
    let tables = format!(
        "{}{}",
        table(
            &old.public_key(),
            &format!("not_after = \"{}\"", rfc3339(days_from_now(-1)))
        ),
        table(&lost.public_key(), "revoked = true")
    );
    let refusal = verify(&dir, &scratch.trust(&tables)).expect_err("refused");
    assert_eq!(refusal.kind(), RefusalKind::RevokedKey);
    let Refusal::Rejected { problems, .. } = &refusal else {
        panic!("not rejected: {refusal}");
    };
    let issues: Vec<(&str, &SignatureIssue)> = problems
        .iter()
        .map(|p| (p.key_id.as_str(), &p.issue))
        .collect();
    assert!(matches!(
        &issues[..],
        [
            ("stranger", SignatureIssue::UntrustedKey),
            ("old", SignatureIssue::Expired { .. }),
            ("lost", SignatureIssue::Revoked { reason: None }),
        ]
    ));
}

#[test]
fn a_single_file_is_signed_beside_itself() {
    let scratch = Scratch::new();
    let spec = scratch.path("features.toml");
    std::fs::write(&spec, b"[inputs]\namount = \"float\"\n").expect("written");
    let release = key("release");
    let outcome = sign(&spec, &release);
    assert_eq!(outcome.signature_file, scratch.path("features.toml.sig"));
    let trust = scratch.trust(&release.public_key().to_trust_toml());
    let verified = verify(&spec, &trust).expect("accepted");
    assert_eq!(verified.files[0].name, "features.toml");
    std::fs::write(&spec, b"[inputs]\namount = \"int\"\n").expect("written");
    assert_eq!(
        verify(&spec, &trust).expect_err("refused").kind(),
        RefusalKind::DigestMismatch
    );
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_in_a_folder_is_refused_when_signing_and_verifying() {
    let scratch = Scratch::new();
    let dir = scratch.folder("3", &pipeline_files());
    let release = key("release");
    sign(&dir, &release);
    let trust = scratch.trust(&release.public_key().to_trust_toml());
    std::os::unix::fs::symlink("/etc/passwd", dir.join("link")).expect("link made");
    let refusal = verify(&dir, &trust).expect_err("refused");
    assert_eq!(refusal.kind(), RefusalKind::Malformed, "{refusal}");
    assert!(refusal.to_string().contains("symbolic link"), "{refusal}");
    let error = sign_artifact(&dir, &release, &SignOptions::default()).expect_err("refused");
    assert!(error.to_string().contains("symbolic link"), "{error}");
}

#[test]
fn refusal_kinds_have_their_metric_names() {
    let names: Vec<&str> = [
        RefusalKind::Unsigned,
        RefusalKind::UntrustedKey,
        RefusalKind::RevokedKey,
        RefusalKind::ExpiredKey,
        RefusalKind::BadSignature,
        RefusalKind::DigestMismatch,
        RefusalKind::Malformed,
    ]
    .into_iter()
    .map(RefusalKind::as_str)
    .collect();
    assert_eq!(
        names,
        [
            "unsigned",
            "untrusted_key",
            "revoked_key",
            "expired_key",
            "bad_signature",
            "digest_mismatch",
            "malformed"
        ]
    );
    // The store's ids, sorted.
    let scratch = Scratch::new();
    let tables = format!(
        "{}{}",
        key("b").public_key().to_trust_toml(),
        key("a").public_key().to_trust_toml()
    );
    let trust: TrustStore = scratch.trust(&tables);
    assert_eq!(trust.key_ids(), ["a", "b"]);
}
