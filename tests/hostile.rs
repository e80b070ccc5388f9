//! Hostile components are contained: each misbehaviour ends that call with a
//! clear error, the instance is discarded, and other components in the same
//! process keep scoring. (wasmtime's test-programs pattern: the programs are
//! in `guest/hostile`, built by `tests/programs/build.rs`.)

use std::time::Instant;

use edgescore_runtime::component_scorer::{ComponentError, ScorerComponent};
use edgescore_runtime::engine::ScoringEngine;
use edgescore_runtime::limits::Limits;
use edgescore_runtime::manifest_section;
use edgescore_test_programs as guests;
use std::net::TcpListener;

fn hostile(engine: &ScoringEngine) -> ScorerComponent {
    ScorerComponent::new(engine, &with_manifest(guests::HOSTILE_COMPONENT))
        .expect("the hostile component loads")
}

/// A test program's component with the manifest `edgescore build` would add.
fn with_manifest(component: &[u8]) -> Vec<u8> {
    let mut bytes = component.to_vec();
    let manifest = guests::stand_in_manifest("hostile", "1", &["x".to_owned()]);
    manifest_section::append(&mut bytes, &manifest);
    bytes
}

fn healthy(engine: &ScoringEngine) -> ScorerComponent {
    let model = edgescore_test_support::repo_root().join("examples/quickstart/fraud_xgboost.json");
    let request = edgescore_runtime::component_build::BuildRequest {
        model: &model,
        format: None,
        name: "q",
        version: "1",
    };
    let bytes = edgescore_runtime::component_build::build_component(&request).expect("builds");
    ScorerComponent::new(engine, &bytes).expect("loads")
}

/// Runs behaviour `which`, checks the error, and checks the process still scores.
fn check(
    which: f64,
    engine: &ScoringEngine,
    expect: impl FnOnce(&ComponentError) -> bool,
) -> std::time::Duration {
    check_program(&hostile(engine), &[which], engine, expect)
}

/// Calls `component` with `rows`, which must fail as `expect` says; then the
/// instance must refuse further calls, and a fresh instance of it and another
/// component must still score.
fn check_program(
    component: &ScorerComponent,
    rows: &[f64],
    engine: &ScoringEngine,
    expect: impl FnOnce(&ComponentError) -> bool,
) -> std::time::Duration {
    let which = rows[0];
    let mut instance = component.instantiate().expect("instance");
    let started = Instant::now();
    let err = instance.score(rows).expect_err("the hostile call fails");
    let elapsed = started.elapsed();
    assert!(expect(&err), "behaviour {which}: unexpected error {err:?}");
    if matches!(err, ComponentError::Internal(_)) && !instance.is_poisoned() {
        // The component reported the failure itself: the instance is sound.
        assert_eq!(instance.score(&[0.5]).expect("still scores"), vec![0.5]);
    } else {
        // A trap: the instance is discarded and refuses further calls.
        assert!(instance.is_poisoned());
        assert!(matches!(
            instance.score(&[0.5]),
            Err(ComponentError::Poisoned)
        ));
    }
    // A fresh instance of the same component behaves; so does another component.
    assert_eq!(
        component
            .instantiate()
            .expect("fresh")
            .score(&[0.5])
            .expect("scores"),
        vec![0.5]
    );
    let other = healthy(engine);
    assert_eq!(
        other
            .verify_golden()
            .expect("healthy component still scores"),
        32
    );
    elapsed
}

#[test]
fn an_infinite_loop_is_stopped_at_the_deadline() {
    let engine = ScoringEngine::new(Limits::default()).expect("engine");
    let elapsed = check(1.0, &engine, |e| {
        matches!(e, ComponentError::Deadline { deadline_ms: 10 })
    });
    // Reported, not asserted: timing belongs in benchmarks, not tests.
    eprintln!("infinite loop stopped after {elapsed:?} (deadline 10 ms)");
}

/// A batch goes in calls that fit the deadline, and a call that still runs
/// past it is split in halves on fresh instances: only a single row that
/// cannot finish is an error, and it names the row.
#[test]
fn only_a_single_row_past_the_deadline_is_an_error_and_it_is_named() {
    let engine = ScoringEngine::new(Limits::default()).expect("engine");
    let component = hostile(&engine);
    // The hostile program loops when a call's first row is 1: row 4096 opens
    // the second call of 4096 rows, and alone it never finishes.
    let mut rows = vec![0.25; 5000];
    rows[4096] = 1.0;
    let mut instance = None;
    let err = component
        .score_all(&mut instance, &rows)
        .expect_err("row 4096 never finishes");
    assert!(
        matches!(
            err,
            ComponentError::RowDeadline {
                row: 4096,
                deadline_ms: 10
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("row 4096 alone"), "{err}");
    rows[4096] = 0.25;
    assert_eq!(
        component.score_all(&mut instance, &rows).expect("scores"),
        vec![0.25; 5000]
    );
}

#[test]
fn unbounded_memory_growth_stops_at_the_cap() {
    // A long deadline, so it is the 64 MiB memory cap that stops the call.
    let limits = Limits {
        call_deadline: std::time::Duration::from_secs(30),
        ..Limits::default()
    };
    let engine = ScoringEngine::new(limits).expect("engine");
    check(2.0, &engine, |e| matches!(e, ComponentError::Trap(_)));
}

#[test]
fn unbounded_recursion_is_a_trap() {
    let engine = ScoringEngine::new(Limits::default()).expect("engine");
    check(
        3.0,
        &engine,
        |e| matches!(e, ComponentError::Trap(m) if m.contains("stack")),
    );
}

#[test]
fn a_panic_is_a_trap() {
    let engine = ScoringEngine::new(Limits::default()).expect("engine");
    check(4.0, &engine, |e| matches!(e, ComponentError::Trap(_)));
}

#[test]
fn more_scores_than_rows_is_refused() {
    // A long deadline, so the call returns its million scores to the host.
    let limits = Limits {
        call_deadline: std::time::Duration::from_secs(30),
        ..Limits::default()
    };
    let engine = ScoringEngine::new(limits).expect("engine");
    check(
        5.0,
        &engine,
        |e| matches!(e, ComponentError::Internal(m) if m.contains("scores for 1 rows")),
    );
}

// The WASI test program (`guest/hostile-wasi`, built for wasm32-wasip2)
// imports WASI; the host links WASI that grants nothing. The program reports
// what it got in its error, so these tests read exactly what leaked: nothing.

fn hostile_wasi(engine: &ScoringEngine) -> ScorerComponent {
    ScorerComponent::new(engine, &with_manifest(guests::HOSTILE_WASI_COMPONENT))
        .expect("a component importing WASI loads")
}

/// Runs the WASI program's behaviour `rows[0]` and returns its report.
fn wasi_report(rows: &[f64]) -> String {
    let engine = ScoringEngine::new(Limits::default()).expect("engine");
    let mut report = String::new();
    check_program(&hostile_wasi(&engine), rows, &engine, |e| match e {
        ComponentError::Internal(m) => {
            report = m.clone();
            true
        }
        _ => false,
    });
    eprintln!("behaviour {}: {report}", rows[0]);
    report
}

#[test]
fn a_component_importing_wasi_loads_and_scores() {
    let engine = ScoringEngine::new(Limits::default()).expect("engine");
    let component = hostile_wasi(&engine);
    let mut instance = component.instantiate().expect("instance");
    assert_eq!(
        instance.score(&[0.25, 0.5]).expect("scores"),
        vec![0.25, 0.5]
    );
}

#[test]
fn files_cannot_be_read() {
    // An absolute path and one relative to the working directory (the host's
    // is the repository, where Cargo.toml exists).
    for (which, path) in [(0.0, "/etc/passwd"), (1.0, "Cargo.toml")] {
        let report = wasi_report(&[1.0, which]);
        assert!(
            report.starts_with(&format!("cannot read {path}")),
            "{path}: {report}"
        );
    }
}

#[test]
fn the_environment_and_arguments_are_empty() {
    // The host process has variables of its own (PATH at least).
    assert!(std::env::vars().count() > 0);
    let report = wasi_report(&[2.0]);
    assert_eq!(report, "environment: 0 variables []; arguments: []");
}

#[test]
fn the_network_cannot_be_reached() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let report = wasi_report(&[3.0, f64::from(port)]);
    assert!(
        report.starts_with(&format!("cannot connect to 127.0.0.1:{port}")),
        "{report}"
    );
    assert!(
        listener.accept().is_err(),
        "the component's connection reached the listener"
    );
}

#[test]
fn the_wall_clock_is_frozen_at_zero() {
    assert_eq!(wasi_report(&[5.0]), "wall clock: 0 s after 1970");
}

#[test]
fn sleeping_is_a_trap_not_a_stall() {
    let engine = ScoringEngine::new(Limits::default()).expect("engine");
    let elapsed = check_program(
        &hostile_wasi(&engine),
        &[4.0],
        &engine,
        |e| matches!(e, ComponentError::Trap(m) if m.contains("may not sleep")),
    );
    eprintln!("a one-minute sleep ended the call after {elapsed:?}");
}

#[test]
fn exiting_is_a_trap() {
    let engine = ScoringEngine::new(Limits::default()).expect("engine");
    check_program(&hostile_wasi(&engine), &[6.0], &engine, |e| {
        matches!(e, ComponentError::Trap(_))
    });
}

#[test]
fn a_component_with_an_import_the_host_does_not_provide_is_refused_at_load() {
    let engine = ScoringEngine::new(Limits::default()).expect("engine");
    let err = ScorerComponent::new(&engine, &with_manifest(guests::UNPROVIDED_IMPORT_COMPONENT))
        .expect_err("refused");
    assert!(
        matches!(&err, ComponentError::UnsupportedImport(name) if name == "edgescore:hostile/exfiltrate"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("edgescore:hostile/exfiltrate"),
        "{err}"
    );
    // The process keeps scoring with other components.
    assert_eq!(healthy(&engine).verify_golden().expect("scores"), 32);
}
