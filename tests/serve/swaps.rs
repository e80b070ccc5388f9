//! Versions swap under concurrent load without a failed request (served as
//! components, and natively with dynamic batching), and a version written
//! to disk serves without an API call, never half written.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgescore_test_support::server::Client;
use serde_json::{Value, json};

use crate::{Fixture, TOKEN, scored_by, write_version};

#[test]
fn versions_swap_under_load_without_a_failed_request() {
    swap_under_load("");
}

/// The same on the native backend with dynamic batching: a version
/// dropped with requests in its batch queue answers them first.
#[test]
fn batched_native_versions_swap_under_load_without_a_failed_request() {
    swap_under_load(
        "[models.fraud]\nbackend = \"native\"\nmax_batch_rows = 16\nmax_queue_delay_us = 300\n",
    );
}

fn swap_under_load(config: &str) {
    const SWAPS: u64 = 100;
    const CLIENTS: usize = 4;
    let fixture = Fixture::start(config, |_, _| {});
    let (server, registry, component) = (&fixture.server, &fixture.registry, &fixture.component);
    let row = json!({ "rows": [{ "amount": 950.0, "hour": 3, "device_new": 1 }] });

    // (version, written, confirmed serving by the load call's answer).
    let start = Instant::now();
    let mut timeline: Vec<(u64, Instant, Instant)> = vec![(1, start, start)];
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    // (started, ended, version) of every response; failures as text.
    let observations: Arc<Mutex<Vec<(Instant, Instant, u64)>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();

    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (base, row, stop, done) = (
                server.base_url().to_owned(),
                row.clone(),
                stop.clone(),
                done.clone(),
            );
            let (observations, failures) = (observations.clone(), failures.clone());
            std::thread::spawn(move || {
                // A client of its own, with its own connections.
                let client = Client::new(&base);
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let (status, body) = client.post_json("/v1/models/fraud/score", &row);
                    let ended = Instant::now();
                    match body["results"][0]["version"].as_u64() {
                        Some(version) if status == 200 => {
                            observations
                                .lock()
                                .expect("lock")
                                .push((started, ended, version));
                        }
                        _ => failures
                            .lock()
                            .expect("lock")
                            .push(format!("status {status}: {body}")),
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let bad_version = SWAPS / 2;
    let mut serving = 1;
    for version in 2..=SWAPS + 1 {
        let written = Instant::now();
        if version == bad_version {
            // Half a component: it must be rejected and version `serving` stay.
            write_version(registry, version, &component[..component.len() / 2]);
        } else {
            write_version(registry, version, component);
        }
        let (status, text) = server.request(
            "POST",
            "/v2/repository/models/fraud/load",
            &[("authorization", &format!("Bearer {TOKEN}"))],
            Vec::new(),
        );
        let answer: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(status, 200, "{text}");
        if version == bad_version {
            assert_eq!(
                answer["serving"], serving,
                "a bad version replaced a good one"
            );
            // The rejection and its reason are visible through the API.
            let (_, status) = server.get("/v1/models/fraud");
            let entry = status["versions"]
                .as_array()
                .expect("versions")
                .iter()
                .find(|v| v["version"] == version)
                .expect("the bad version is listed");
            assert_eq!(entry["status"], "rejected", "{entry}");
            assert!(
                entry["reason"].as_str().is_some_and(|r| !r.is_empty()),
                "{entry}"
            );
        } else {
            assert_eq!(answer["serving"], version, "{text}");
            serving = version;
            timeline.push((version, written, Instant::now()));
        }
        // Old versions go away, as in a real rollout.
        if version > 3 {
            let _ = std::fs::remove_dir_all(registry.join("fraud").join((version - 3).to_string()));
        }
    }
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
    let observations = observations.lock().expect("lock");
    assert!(
        observations.len() > 100,
        "only {} requests",
        observations.len()
    );
    for &(started, ended, version) in observations.iter() {
        assert_ne!(version, bad_version, "the rejected version answered");
        // It was serving at some point during the request: written before
        // the request ended, and its successor not yet confirmed serving
        // when the request started.
        let (_, written, _) = timeline
            .iter()
            .find(|(v, _, _)| *v == version)
            .unwrap_or_else(|| panic!("version {version} was never confirmed"));
        assert!(
            *written < ended,
            "version {version} answered before it was written"
        );
        if let Some((next, _, confirmed)) = timeline.iter().find(|(v, _, _)| *v > version) {
            assert!(
                *confirmed > started,
                "version {version} answered a request that started after version {next} was confirmed serving"
            );
        }
    }
    eprintln!(
        "{} requests across {} swaps, none failed",
        observations.len(),
        SWAPS
    );
}

#[test]
fn new_versions_on_disk_are_picked_up_without_an_api_call_even_when_written_in_place() {
    use std::io::Write as _;
    // A long poll interval: only file-system events can be this quick.
    let fixture = Fixture::start("poll_interval_ms = 60000\n", |_, _| {});
    let (server, registry, component) = (&fixture.server, &fixture.registry, &fixture.component);
    let serving = || -> Value { server.get("/v1/models/fraud").1["serving"].clone() };
    let wait_for = |version: u64| {
        let started = Instant::now();
        while serving() != version {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "version {version} was not picked up"
            );
            // Requests keep succeeding meanwhile.
            let (status, body) = scored_by(server, None, 10.0);
            assert_eq!(status, 200, "{body}");
            std::thread::sleep(Duration::from_millis(50));
        }
        started.elapsed()
    };

    // The documented way: another name, then a rename.
    write_version(registry, 2, component);
    let took = wait_for(2);
    eprintln!("a renamed-in version served after {took:?}");

    // A writer that ignores the convention: model.wasm written in place,
    // pausing half way. The half file must never serve.
    let folder = registry.join("fraud").join("3");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let mut file = std::fs::File::create(folder.join("model.wasm")).expect("create");
    file.write_all(&component[..component.len() / 2])
        .expect("first half");
    file.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(serving(), 2, "a half-written version serves");
    file.write_all(&component[component.len() / 2..])
        .expect("second half");
    drop(file);
    wait_for(3);
}
