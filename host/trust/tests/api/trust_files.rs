//! Trust files and key files that are refused, each naming the file.

use edgescore_trust::TrustError;

use super::*;

fn load(scratch: &Scratch, text: &str) -> Result<TrustStore, TrustError> {
    let path = scratch.trust_file("keys.toml", text);
    TrustStore::load(&[path])
}

#[test]
fn bad_trust_files_are_refused_naming_the_file() {
    let scratch = Scratch::new();
    let public = key("release").public_key();
    let cases = [
        (
            table(&public, "expires = \"2027-01-01T00:00:00Z\""),
            "expires",
        ),
        (
            "[[key]]\nid = \"x\"\npublic_key = \"rsa:AAAA\"\n".to_owned(),
            "ed25519:",
        ),
        (
            "[[key]]\nid = \"x\"\npublic_key = \"ed25519:%%%\"\n".to_owned(),
            "base64",
        ),
        (
            "[[key]]\nid = \"x\"\npublic_key = \"ed25519:AAAA\"\n".to_owned(),
            "32 bytes",
        ),
        (table(&public, "not_after = \"next year\""), "RFC 3339"),
        (
            table(
                &public,
                "not_before = \"2027-01-01T00:00:00Z\"\nnot_after = \"2026-01-01T00:00:00Z\"",
            ),
            "not_before",
        ),
        (
            format!("{}{}", table(&public, ""), table(&public, "")),
            "twice",
        ),
        ("# nothing\n".to_owned(), "no [[key]]"),
        ("[[key]\n".to_owned(), "keys.toml"),
    ];
    for (text, words) in cases {
        let error = load(&scratch, &text).expect_err("refused");
        let message = error.to_string();
        assert!(message.contains("keys.toml"), "{text}: {message}");
        assert!(message.contains(words), "{text}: {message}");
    }
    assert!(matches!(
        TrustStore::load(&[]),
        Err(TrustError::NoTrustFiles)
    ));
}

#[test]
fn the_same_id_in_two_files_is_refused() {
    let scratch = Scratch::new();
    let a = scratch.trust_file("a.toml", &key("release").public_key().to_trust_toml());
    let b = scratch.trust_file("b.toml", &key("release").public_key().to_trust_toml());
    let error = TrustStore::load(&[a, b]).expect_err("refused");
    assert!(
        matches!(error, TrustError::DuplicateKeyId { .. }),
        "{error}"
    );
}

#[test]
fn a_written_public_key_is_a_trust_file_and_a_secret_key_file_is_checked() {
    let scratch = Scratch::new();
    let release = key("release-2026");
    let public = scratch.path("release.pub");
    release.public_key().write(&public).expect("written");
    let trust = TrustStore::load(&[public]).expect("a .pub is a trust file");
    assert_eq!(trust.key_ids(), ["release-2026"]);

    let secret = scratch.path("bad.key");
    std::fs::write(&secret, r#"{"kind":"other","key_id":"a","secret_key":""}"#).expect("written");
    let error = SecretKey::read(&secret).expect_err("refused");
    assert!(matches!(error, TrustError::SecretKeyFile { .. }), "{error}");
}
