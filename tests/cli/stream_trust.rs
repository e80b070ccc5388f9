//! `edgescore stream --trust`: the pipeline folder is checked before
//! anything in it is compiled, and before any broker is reached. An
//! unsigned or tampered folder stops the stream with the reason; a signed
//! one goes on to connect.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edgescore_test_support::repo_root;

use crate::{edgescore, path_str};

/// The fraud pipeline's files, copied into `dir`.
fn fraud_pipeline(dir: &Path) {
    let example = repo_root().join("examples/fraud");
    for file in [
        "pipeline.toml",
        "transform.toml",
        "profile.json",
        "model/xgboost.json",
    ] {
        let to = dir.join(file);
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
        std::fs::copy(example.join(file), &to).expect("copy");
    }
}

/// `edgescore stream` on `pipeline` with `trust`, against a broker that is
/// not there.
fn stream(pipeline: &Path, trust: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_edgescore"));
    command.args([
        "stream",
        "--brokers",
        "127.0.0.1:9",
        "--topic",
        "transactions",
        "--group",
        "fraud",
        "--pipeline",
        path_str(pipeline),
        "--trust",
        path_str(trust),
    ]);
    command
}

#[test]
fn stream_refuses_unsigned_and_tampered_pipelines_before_reaching_the_broker() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let prefix = tmp.path().join("release");
    let out = edgescore(&["keygen", "--id", "release", "--out", path_str(&prefix)]);
    assert!(out.status.success(), "keygen: {out:?}");
    let trust = tmp.path().join("release.pub");
    let key = tmp.path().join("release.key");
    let pipeline = tmp.path().join("fraud");
    fraud_pipeline(&pipeline);

    let unsigned = stream(&pipeline, &trust).output().expect("runs");
    let stderr = String::from_utf8_lossy(&unsigned.stderr);
    assert!(!unsigned.status.success(), "an unsigned pipeline streamed");
    assert!(
        stderr.contains("signature refused (unsigned)"),
        "the reason: {stderr}"
    );

    let signed = edgescore(&["sign", "--key", path_str(&key), path_str(&pipeline)]);
    assert!(signed.status.success(), "sign: {signed:?}");
    // A byte of the model changed after signing.
    let model = pipeline.join("model/xgboost.json");
    let mut bytes = std::fs::read(&model).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x20;
    std::fs::write(&model, &bytes).expect("write");
    let tampered = stream(&pipeline, &trust).output().expect("runs");
    let stderr = String::from_utf8_lossy(&tampered.stderr);
    assert!(!tampered.status.success(), "a tampered pipeline streamed");
    assert!(
        stderr.contains("digest_mismatch") && stderr.contains("model/xgboost.json"),
        "the reason names the file: {stderr}"
    );

    // Put right, it is accepted and the stream goes on to the broker.
    bytes[last] ^= 0x20;
    std::fs::write(&model, &bytes).expect("write");
    let log = tmp.path().join("stream.log");
    let mut child = stream(&pipeline, &trust)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let accepted = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("signed by release") {
            break true;
        }
        if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(accepted, "the signed pipeline was not accepted: {text}");
    assert!(!text.contains("signature refused"), "{text}");
}
