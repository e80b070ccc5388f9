//! Keys, signatures and trust files through the command line.

use super::*;

#[test]
fn two_keys_sign_and_either_trust_file_accepts_until_revoked() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let at = |name: &str| scratch.path().join(name);
    for id in ["alice", "bob"] {
        let out = edgescore(&["keygen", "--id", id, "--out", path_str(&at(id))]);
        succeeded("keygen", &out);
        assert!(stderr(&out).contains("trust file"), "{}", stderr(&out));
        assert!(at(&format!("{id}.key")).is_file() && at(&format!("{id}.pub")).is_file());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(at("alice.key"))
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = edgescore(&["keygen", "--id", "alice", "--out", path_str(&at("alice"))]);
    assert!(refused("keygen over a key", &again).contains("already exists"));

    let version = at("fraud/3");
    std::fs::create_dir_all(version.join("transform")).expect("dir made");
    std::fs::write(version.join("model.wasm"), b"\0asm\x01\0\0\0").expect("written");
    std::fs::write(version.join("transform/features.toml"), b"x = 1\n").expect("written");
    std::fs::write(version.join("pipeline.toml"), b"[pipeline]\n").expect("written");
    let sign = |key: &str| {
        edgescore(&[
            "sign",
            "--key",
            path_str(&at(&format!("{key}.key"))),
            path_str(&version),
        ])
    };
    succeeded("sign with alice", &sign("alice"));
    let signed = succeeded("sign with bob", &sign("bob"));
    assert!(signed.contains("model.sig"), "{signed}");
    assert!(signed.contains("signers: alice, bob"), "{signed}");

    let verify =
        |trust: &Path| edgescore(&["verify", "--trust", path_str(trust), path_str(&version)]);
    for id in ["alice", "bob"] {
        let out = succeeded("verify", &verify(&at(&format!("{id}.pub"))));
        assert!(out.contains(&format!("signed by {id}")), "{out}");
        assert!(out.contains("manifest sha256 "), "{out}");
    }

    // Alice's key revoked in the team's trust file: Bob's signature holds.
    let alice = std::fs::read_to_string(at("alice.pub")).expect("read");
    let bob = std::fs::read_to_string(at("bob.pub")).expect("read");
    let team = at("team.toml");
    std::fs::write(
        &team,
        format!("{alice}revoked = true\nrevoked_reason = \"laptop lost\"\n\n{bob}"),
    )
    .expect("written");
    let out = succeeded("verify with alice revoked", &verify(&team));
    assert!(out.contains("signed by bob"), "{out}");

    // Alice's revoked key alone: refused.
    let revoked = at("revoked.toml");
    std::fs::write(&revoked, format!("{alice}revoked = true\n")).expect("written");
    let err = refused("verify with only a revoked key", &verify(&revoked));
    assert!(err.contains("revoked"), "{err}");

    // A flipped byte: refused, naming the file.
    let file = version.join("transform/features.toml");
    std::fs::write(&file, b"x = 2\n").expect("written");
    let err = refused("verify a changed file", &verify(&team));
    assert!(err.contains("transform/features.toml"), "{err}");
    assert!(err.contains("digest_mismatch"), "{err}");
}

#[test]
fn an_unsigned_folder_and_a_bad_trust_file_are_refused() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let at = |name: &str| scratch.path().join(name);
    succeeded(
        "keygen",
        &edgescore(&["keygen", "--id", "ops", "--out", path_str(&at("ops"))]),
    );
    let version = at("3");
    std::fs::create_dir_all(&version).expect("dir made");
    std::fs::write(version.join("model.wasm"), b"\0asm\x01\0\0\0").expect("written");
    let out = edgescore(&[
        "verify",
        "--trust",
        path_str(&at("ops.pub")),
        path_str(&version),
    ]);
    let err = refused("verify unsigned", &out);
    assert!(
        err.contains("not signed") && err.contains("edgescore sign"),
        "{err}"
    );

    std::fs::write(at("bad.toml"), "[[key]]\nid = \"ops\"\ncolour = \"red\"\n").expect("written");
    let out = edgescore(&[
        "verify",
        "--trust",
        path_str(&at("bad.toml")),
        path_str(&version),
    ]);
    let err = refused("verify with a bad trust file", &out);
    assert!(err.contains("bad.toml") && err.contains("colour"), "{err}");
}

/// A component holding one core module with one function `() -> ()`.
fn tiny_component() -> Vec<u8> {
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    module.extend_from_slice(&[0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // types
    module.extend_from_slice(&[0x03, 0x02, 0x01, 0x00]); // functions
    module.extend_from_slice(&[0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b]); // code
    let mut component = b"\0asm\x0d\0\x01\0".to_vec();
    component.push(0x01); // a core module section
    component.push(u8::try_from(module.len()).expect("a small module"));
    component.extend_from_slice(&module);
    component
}

#[test]
fn an_embedded_signature_verifies_and_the_component_still_loads() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let at = |name: &str| scratch.path().join(name);
    succeeded(
        "keygen",
        &edgescore(&["keygen", "--id", "ops", "--out", path_str(&at("ops"))]),
    );
    let wasm = at("model.wasm");
    std::fs::write(&wasm, tiny_component()).expect("written");
    let out = edgescore(&[
        "sign",
        "--embed",
        "--key",
        path_str(&at("ops.key")),
        path_str(&wasm),
    ]);
    succeeded("sign --embed", &out);
    assert!(!at("model.wasm.sig").exists());
    let out = edgescore(&[
        "verify",
        "--trust",
        path_str(&at("ops.pub")),
        path_str(&wasm),
    ]);
    assert!(succeeded("verify embedded", &out).contains("signed by ops"));

    let signed = std::fs::read(&wasm).expect("read");
    assert!(
        signed.len() > tiny_component().len(),
        "the section is in the file"
    );
    let engine = wasmtime::Engine::default();
    wasmtime::component::Component::new(&engine, &signed)
        .expect("wasmtime loads a component carrying the signature section");
}
