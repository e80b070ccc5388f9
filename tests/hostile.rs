//! Hostile components are contained: each misbehaviour ends that call with a
//! clear error, the instance is discarded, and other components in the same
//! process keep scoring. (wasmtime's test-programs pattern: the programs are
//! in `guest/hostile`, built by `host/build.rs`.)

use std::time::Instant;

use edgescore::component_scorer::{ComponentError, ScorerComponent};
use edgescore::engine::ScoringEngine;
use edgescore::limits::Limits;
use edgescore::{guests, manifest_section};
use edgescore_models::{Manifest, ManifestFeature};

fn hostile(engine: &ScoringEngine) -> ScorerComponent {
    let mut bytes = guests::HOSTILE_COMPONENT.to_vec();
    let manifest = Manifest {
        name: "hostile".into(),
        version: "1".into(),
        model_kind: "linear".into(),
        objective: "hostile".into(),
        output: "regression".into(),
        features: vec![ManifestFeature {
            name: "x".into(),
            kind: "numeric".into(),
        }],
        model_sha256: String::new(),
        edgescore_version: "test".into(),
        golden: Vec::new(),
    };
    manifest_section::append(&mut bytes, &manifest);
    ScorerComponent::new(engine, &bytes).expect("the hostile component loads")
}

fn healthy(engine: &ScoringEngine) -> ScorerComponent {
    let model = edgescore_test_support::repo_root().join("examples/quickstart/fraud_xgboost.json");
    let request = edgescore::component_build::BuildRequest {
        model: &model,
        format: None,
        name: "q",
        version: "1",
    };
    let bytes = edgescore::component_build::build_component(&request).expect("builds");
    ScorerComponent::new(engine, &bytes).expect("loads")
}

/// Runs behaviour `which`, checks the error, and checks the process still scores.
fn check(
    which: f32,
    engine: &ScoringEngine,
    expect: impl Fn(&ComponentError) -> bool,
) -> std::time::Duration {
    let component = hostile(engine);
    let mut instance = component.instantiate().expect("instance");
    let started = Instant::now();
    let err = instance
        .score(&[which])
        .expect_err("the hostile call fails");
    let elapsed = started.elapsed();
    assert!(expect(&err), "behaviour {which}: unexpected error {err:?}");
    // The instance is discarded: it refuses further calls.
    assert!(instance.is_poisoned());
    assert!(matches!(
        instance.score(&[0.5]),
        Err(ComponentError::Poisoned)
    ));
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
