//! Signed versions and the audit trail, as an operator runs them: keys made
//! and versions signed by the `edgescore` command itself, a server started
//! with `--trust` and `--audit-log`, and clients scoring all along.
//!
//! - an unsigned version, one signed by an untrusted key, one with a byte
//!   flipped after signing, one signed by a revoked key and one by an
//!   expired key are each refused with the reason (in `/v1/models/<m>`,
//!   `/v2/repository/index` and `/metrics`) while the version before keeps
//!   serving, with no failed request;
//! - a version signed by a trusted key and an untrusted one serves, and
//!   names its trusted signer;
//! - the audit log holds every load, rejection, swap and admin call with
//!   the admin token's name, and `edgescore audit verify` accepts it;
//! - without trust roots the server says loudly that it checks nothing.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use edgescore_test_support::server::Client;
use serde_json::{Value, json};

use crate::{registry_with_fraud, serve, write_version};

const ALICE: &str = "alice-admin-token";

fn edgescore(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(args)
        .output()
        .expect("runs edgescore")
}

/// `edgescore keygen --id <id>`: the secret key file; the public key's
/// trust table is `<dir>/<id>.pub`.
fn keygen(dir: &Path, id: &str) -> std::path::PathBuf {
    let prefix = dir.join(id);
    let out = edgescore(&[
        "keygen".as_ref(),
        "--id".as_ref(),
        id.as_ref(),
        "--out".as_ref(),
        prefix.as_os_str(),
    ]);
    assert!(out.status.success(), "keygen: {out:?}");
    dir.join(format!("{id}.key"))
}

/// `edgescore sign --key <key> <folder>`.
fn sign(key: &Path, folder: &Path) {
    let out = edgescore(&[
        "sign".as_ref(),
        "--key".as_ref(),
        key.as_os_str(),
        folder.as_os_str(),
    ]);
    assert!(out.status.success(), "sign: {out:?}");
}

fn version_entry(server: &Client, version: u64) -> Value {
    let (_, status) = server.get("/v1/models/fraud");
    status["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| v["version"] == version)
        .cloned()
        .unwrap_or_else(|| panic!("version {version} is not listed: {status}"))
}

fn load(server: &Client) -> Value {
    let (status, text) = server.request(
        "POST",
        "/v2/repository/models/fraud/load",
        &[("authorization", &format!("Bearer {ALICE}"))],
        Vec::new(),
    );
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).expect("json")
}

#[test]
fn unsigned_untrusted_tampered_revoked_and_expired_versions_are_refused_under_load() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys");
    std::fs::create_dir_all(&keys).expect("mkdir");
    let release = keygen(&keys, "release");
    let rogue = keygen(&keys, "rogue");
    let lost = keygen(&keys, "lost-laptop");
    let old = keygen(&keys, "old-2020");
    let public = |id: &str| std::fs::read_to_string(keys.join(format!("{id}.pub"))).expect("pub");
    // The trust roots: release; lost-laptop revoked; old-2020 expired.
    // rogue is not in them.
    let trust = tmp.path().join("trust.toml");
    std::fs::write(
        &trust,
        format!(
            "{}\n{}revoked = true\nrevoked_reason = \"the laptop was lost\"\n\n{}not_after = \"2021-01-01T00:00:00Z\"\n",
            public("release"),
            public("lost-laptop"),
            public("old-2020"),
        ),
    )
    .expect("trust file");

    let registry = tmp.path().join("registry");
    let component = registry_with_fraud(&registry);
    let folder = |v: u64| registry.join("fraud").join(v.to_string());
    sign(&release, &folder(1));

    let audit_log = tmp.path().join("audit.jsonl");
    let config = tmp.path().join("serve.toml");
    std::fs::write(
        &config,
        format!("poll_interval_ms = 100\nsettle_ms = 300\n[admin_tokens]\nalice = \"{ALICE}\"\n"),
    )
    .expect("config");
    let server = serve(&tmp.path().join("cache"))
        .arg("--registry")
        .arg(&registry)
        .arg("--config")
        .arg(&config)
        .arg("--trust")
        .arg(&trust)
        .arg("--audit-log")
        .arg(&audit_log)
        .start();
    let client = Client::new(server.base_url());
    assert_eq!(version_entry(&client, 1)["signers"], json!(["release"]));

    // Clients scoring all along.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (base, stop, done, failures) = (
                server.base_url().to_owned(),
                stop.clone(),
                done.clone(),
                failures.clone(),
            );
            std::thread::spawn(move || {
                let client = Client::new(&base);
                let row = json!({ "rows": [{ "amount": 950.0, "hour": 3 }] });
                while !stop.load(Ordering::Relaxed) {
                    let (status, body) = client.post_json("/v1/models/fraud/score", &row);
                    if status != 200 {
                        failures
                            .lock()
                            .expect("lock")
                            .push(format!("{status}: {body}"));
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    // Each refused, with its reason; version 1 keeps serving.
    let refused: [(u64, &str, &str); 5] = [
        (2, "unsigned", "model.sig"),
        (3, "untrusted_key", "rogue"),
        (4, "digest_mismatch", "model.wasm"),
        (5, "revoked_key", "the laptop was lost"),
        (6, "expired_key", "old-2020"),
    ];
    // Each version is made in a staging folder (written, signed, in one
    // case tampered with) and moved into the registry whole, as a
    // deployer does.
    let staging = tmp.path().join("staging");
    let stage = |version: u64, signers: &[&Path]| {
        write_version(&staging, version, &component);
        let staged = staging.join("fraud").join(version.to_string());
        for key in signers {
            sign(key, &staged);
        }
        staged
    };
    let deploy = |staged: &Path, version: u64| {
        std::fs::rename(staged, folder(version)).expect("moved into the registry");
    };
    for (version, kind, named) in refused {
        let staged = match version {
            2 => stage(2, &[]),
            3 => stage(3, &[&rogue]),
            4 => {
                let staged = stage(4, &[&release]);
                let path = staged.join("model.wasm");
                let mut bytes = std::fs::read(&path).expect("read");
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0x01;
                std::fs::write(&path, bytes).expect("flip a byte");
                staged
            }
            5 => stage(5, &[&lost]),
            _ => stage(6, &[&old]),
        };
        deploy(&staged, version);
        let answer = load(&client);
        assert_eq!(answer["serving"], 1, "version {version} ({kind}): {answer}");
        let entry = version_entry(&client, version);
        assert_eq!(entry["status"], "rejected", "{entry}");
        let reason = entry["reason"].as_str().expect("a reason");
        assert!(
            reason.contains(kind) && reason.contains(named),
            "version {version}: the reason should say {kind} and name {named}: {reason}"
        );
        let (_, index) = client.post("/v2/repository/index", Vec::new());
        let indexed = index
            .as_array()
            .expect("index")
            .iter()
            .find(|v| v["version"].as_str().and_then(|s| s.parse::<u64>().ok()) == Some(version))
            .cloned()
            .expect("indexed");
        assert_eq!(indexed["state"], "UNAVAILABLE", "{indexed}");
        assert_eq!(indexed["reason"], reason, "{indexed}");
        let metrics = client.metrics();
        let series =
            format!("edgescore_signature_refusals_total{{model=\"fraud\",reason=\"{kind}\"}} 1");
        assert!(
            metrics.lines().any(|l| l == series),
            "{series} missing from /metrics"
        );
    }

    // Signed by a trusted key and an untrusted one: it serves, and names
    // the trusted signer.
    deploy(&stage(7, &[&rogue, &release]), 7);
    assert_eq!(load(&client)["serving"], 7);
    assert_eq!(version_entry(&client, 7)["signers"], json!(["release"]));

    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("client thread");
    }
    let failures = failures.lock().expect("lock");
    assert!(
        failures.is_empty(),
        "{} failed requests, first: {}",
        failures.len(),
        failures[0]
    );
    assert!(done.load(Ordering::Relaxed) > 50, "too few requests");
    assert!(
        client
            .metrics()
            .lines()
            .any(|l| l == "edgescore_signatures_checked 1")
    );

    // The audit trail: intact, and it says who did what.
    let verified = edgescore(&["audit".as_ref(), "verify".as_ref(), audit_log.as_os_str()]);
    assert!(verified.status.success(), "audit verify: {verified:?}");
    let entries: Vec<Value> = std::fs::read_to_string(&audit_log)
        .expect("audit log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let has = |action: &str, actor: &str, version: Option<u64>| {
        entries.iter().any(|e| {
            e["action"] == action
                && e["actor"] == actor
                && version.is_none_or(|v| e["version"] == v)
        })
    };
    assert!(has("startup", "server", None));
    assert!(has("load", "registry", Some(1)) && has("load", "registry", Some(7)));
    for (version, _, _) in refused {
        assert!(
            has("reject", "registry", Some(version)),
            "no reject of {version}"
        );
    }
    assert!(has("swap", "registry", Some(7)));
    assert!(
        entries.iter().any(|e| e["action"] == "admin"
            && e["actor"] == "alice"
            && e["details"]["path"] == "/v2/repository/models/fraud/load"),
        "the admin calls are recorded with the token's name"
    );
    let loaded_7 = entries
        .iter()
        .find(|e| e["action"] == "load" && e["version"] == 7)
        .expect("load of 7");
    assert_eq!(loaded_7["details"]["signers"], json!(["release"]));
    assert!(
        loaded_7["details"]["sha256"]
            .as_str()
            .is_some_and(|h| h.len() == 64)
    );
}

#[test]
fn without_trust_roots_the_server_says_that_it_checks_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = tmp.path().join("registry");
    registry_with_fraud(&registry);
    let stderr = tmp.path().join("stderr.log");
    let server = serve(&tmp.path().join("cache"))
        .arg("--registry")
        .arg(&registry)
        .stderr_to(&stderr)
        .start();
    let (status, _) = server.post_json(
        "/v1/models/fraud/score",
        &json!({ "rows": [{ "amount": 1.0 }] }),
    );
    assert_eq!(
        status, 200,
        "an unsigned version serves without trust roots"
    );
    let logged = std::fs::read_to_string(&stderr).expect("stderr");
    assert!(
        logged.contains("signatures are NOT checked"),
        "no warning in: {logged}"
    );
    assert!(
        server
            .metrics()
            .lines()
            .any(|l| l == "edgescore_signatures_checked 0")
    );
}
