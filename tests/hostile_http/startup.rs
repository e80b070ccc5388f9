//! Starting and stopping: the demo registry of a crashed server removed by
//! the next, a taken port reported before the registry is read, alert-log
//! errors naming the file.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::{expect_continue, serve};

/// The demo registry of a server killed with SIGKILL is left behind; the
/// next demo server removes it (its owner is gone) and its own on exit.
/// That server describes its pipeline, creates the alert log only with the
/// first alert, and refuses an oversized `Expect: 100-continue` too.
#[test]
fn the_demo_pipeline_cleans_up_after_a_crash_and_describes_itself() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let temp = tmp.path().join("tmp");
    let work = tmp.path().join("work");
    for dir in [&temp, &work] {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    let demo_folders = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&temp)
            .expect("temp")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("edgescore-demo-registry-"))
            .collect();
        names.sort();
        names
    };
    let mut demo = serve();
    demo.current_dir(&work).env("TMPDIR", &temp);

    let mut crashed = demo.start();
    let crashed_pid = crashed.pid();
    let left = demo_folders();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        left[0].starts_with(&format!("edgescore-demo-registry-{crashed_pid}-")),
        "{left:?}"
    );
    crashed.kill();
    assert_eq!(demo_folders(), left, "a killed server cannot clean up");

    let server = demo.start();
    let now = demo_folders();
    assert_eq!(now.len(), 1, "{now:?}");
    assert!(
        now[0].starts_with(&format!("edgescore-demo-registry-{}-", server.pid())),
        "the crashed server's folder is gone: {now:?}"
    );

    let (status, pipeline) = server.get("/v1/pipelines/fraud");
    assert_eq!(status, 200, "{pipeline}");
    assert_eq!(pipeline["pipeline"], "fraud", "{pipeline}");
    assert_eq!(pipeline["serving"], 1, "a number: {pipeline}");
    assert_eq!(pipeline["decision"], json!({ "review": 0.5, "block": 0.9 }));
    assert_eq!(pipeline["reasons"], json!({ "top": 3 }));
    assert_eq!(
        pipeline["feature_store"]["namespaces"],
        json!(["card", "card-country", "card-device"])
    );
    let inputs = pipeline["inputs"].as_array().expect("inputs");
    assert!(
        inputs.contains(&json!({ "name": "card_id", "type": "text", "required": true })),
        "{pipeline}"
    );
    let features = pipeline["features"].as_array().expect("features");
    assert!(features.contains(&json!("card_txn_1h")), "{pipeline}");
    let (status, listing) = server.get("/v1/models");
    assert_eq!(status, 200, "{listing}");
    assert_eq!(listing["models"][0]["name"], "fraud", "{listing}");
    assert_eq!(listing["models"][0]["kind"], "pipeline", "{listing}");
    assert_eq!(listing["models"][0]["serving"], 1, "{listing}");
    assert_eq!(listing["models"][0]["features"], pipeline["features"]);

    let answer = expect_continue(server.addr(), "/v1/pipelines/fraud/score", 1 << 40, b"");
    assert!(
        answer.starts_with("HTTP/1.1 413") && answer.contains("max_body_bytes"),
        "{answer}"
    );

    // No alert yet: no alert log. The first block creates it.
    let alert_log = work.join("edgescore-alerts.jsonl");
    assert!(!alert_log.exists());
    let blocked = json!({"transactions": [{
        "timestamp": "2026-03-01T03:12:00Z", "card_id": "c00042", "amount": 1450.0,
        "merchant_id": "m40511", "merchant_category": "electronics", "channel": "online",
        "country": "NG", "home_country": "US", "device_id": "x91"}]});
    let (status, answer) = server.post_json("/v1/pipelines/fraud/score", &blocked);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][0]["decision"], "block", "{answer}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !alert_log.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(alert_log.exists(), "the first alert creates the alert log");

    drop(server);
    assert_eq!(demo_folders(), Vec::<String>::new(), "removed on exit");
}

/// A port already taken is reported first, before the registry is read
/// (which, with many versions to validate, takes long).
#[test]
fn a_taken_port_is_reported_before_the_registry_is_read() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = tmp.path().join("registry");
    let folder = registry.join("fraud").join("1");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(folder.join("model.wasm"), b"not a component").expect("write");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let addr = taken.local_addr().expect("addr").to_string();

    let output = serve()
        .listen(&addr)
        .arg("--registry")
        .arg(&registry)
        .current_dir(tmp.path())
        .output();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(!stderr.contains("loading the registry"), "{stderr}");
    assert!(!stderr.contains("rejected"), "{stderr}");
}

/// An alert log that cannot be written stops the server at startup with an
/// error that names the file.
#[test]
fn alert_log_errors_name_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = tmp.path().join("registry");
    std::fs::create_dir_all(&registry).expect("mkdir");
    let missing_folder = tmp.path().join("no-such-folder").join("alerts.jsonl");
    let a_folder = tmp.path().join("a-folder");
    std::fs::create_dir_all(&a_folder).expect("mkdir");
    for log in [&missing_folder, &a_folder] {
        let output = serve()
            .arg("--registry")
            .arg(&registry)
            .arg("--alert-log")
            .arg(log)
            .current_dir(tmp.path())
            .output();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!("the alert log {}", log.display())),
            "{stderr}"
        );
    }
    assert!(!missing_folder.parent().expect("parent").exists());
}
