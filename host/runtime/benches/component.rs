//! Scoring through a component against the native model core, on the same
//! 300-tree, depth-8, 40-feature XGBoost model: single-row call latency,
//! batch throughput at 1, 100 and 10k rows, and fresh-instance creation;
//! and one row's reasons (TreeSHAP contributions) from the fraud example's
//! model (150 trees, depth 6), which a flagged pipeline request pays.
//!
//! Catches: regressions in the canonical ABI path (lowering rows, lifting
//! scores), in instantiation from the pre-initialised image, and in the
//! engine configuration (pooling, epoch interruption).
//!
//! Run: `cargo bench -p edgescore-runtime --bench component`

use std::io::Read;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use edgescore_models::Model;
use edgescore_runtime::component_build::{BuildRequest, build_component};
use edgescore_runtime::component_scorer::ScorerComponent;
use edgescore_runtime::engine::ScoringEngine;
use edgescore_runtime::limits::Limits;

fn gunzip(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/benches/data")
        .join(name);
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).expect("benchmark data"))
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let model_path = dir.path().join("model.json");
    std::fs::write(&model_path, gunzip("xgboost_300x8_40f.json.gz")).expect("write model");
    let model =
        Model::from_bytes(&std::fs::read(&model_path).expect("model"), None).expect("loads");
    let text = String::from_utf8(gunzip("rows_10k_40f.csv.gz")).expect("utf-8");
    let rows: Vec<f64> = text
        .lines()
        .skip(1)
        .flat_map(|l| l.split(',').map(|c| c.parse::<f64>().unwrap_or(f64::NAN)))
        .collect();
    let width = model.num_features();

    let request = BuildRequest {
        model: &model_path,
        format: None,
        name: "bench",
        version: "1",
    };
    let bytes = build_component(&request).expect("builds");
    // A generous deadline: the 10k-row batch is one call.
    let limits = Limits {
        call_deadline: std::time::Duration::from_secs(10),
        ..Limits::default()
    };
    let engine = ScoringEngine::new(limits).expect("engine");
    let component = ScorerComponent::new(&engine, &bytes).expect("loads");
    let mut instance = component.instantiate().expect("instance");

    let mut group = c.benchmark_group("component_vs_native");
    for n in [1usize, 100, 10_000] {
        let batch = &rows[..n * width];
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("native", n), &n, |b, _| {
            b.iter(|| model.score(batch).expect("scores"))
        });
        group.bench_with_input(BenchmarkId::new("component", n), &n, |b, _| {
            b.iter(|| instance.score(batch).expect("scores"))
        });
    }
    group.finish();

    c.bench_function("component/fresh_instance", |b| {
        b.iter(|| component.instantiate().expect("instance"))
    });

    // The call itself: a 12-feature logistic regression costs next to nothing
    // to evaluate, so what remains is lowering the row, entering the
    // instance and lifting the score.
    let linear_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/test_cases/linear_logistic/model.json");
    let linear =
        Model::from_bytes(&std::fs::read(&linear_path).expect("model"), None).expect("loads");
    let request = BuildRequest {
        model: &linear_path,
        format: None,
        name: "linear",
        version: "1",
    };
    let linear_component =
        ScorerComponent::new(&engine, &build_component(&request).expect("builds")).expect("loads");
    let mut linear_instance = linear_component.instantiate().expect("instance");
    let row = vec![0.5_f64; linear.num_features()];
    let mut group = c.benchmark_group("call_overhead_linear_12f");
    group.bench_function("native", |b| b.iter(|| linear.score(&row).expect("scores")));
    group.bench_function("component", |b| {
        b.iter(|| linear_instance.score(&row).expect("scores"))
    });
    group.finish();

    let fraud_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fraud/model/xgboost.json");
    let fraud =
        Model::from_bytes(&std::fs::read(&fraud_path).expect("model"), None).expect("loads");
    let request = BuildRequest {
        model: &fraud_path,
        format: None,
        name: "fraud",
        version: "1",
    };
    let fraud_component =
        ScorerComponent::new(&engine, &build_component(&request).expect("builds")).expect("loads");
    let mut fraud_instance = fraud_component.instantiate().expect("instance");
    let row: Vec<f64> = (0..fraud.num_features()).map(|i| i as f64 * 0.37).collect();
    let mut group = c.benchmark_group("contributions_fraud_150x6");
    group.bench_function("native", |b| {
        b.iter(|| fraud.contributions(&row).expect("contributions"))
    });
    group.bench_function("component", |b| {
        b.iter(|| {
            fraud_instance
                .score_with_contributions(&row)
                .expect("contributions")
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
