//! Native scoring speed of the model core on a 300-tree, depth-8, 40-feature
//! model (XGBoost and LightGBM), one thread: a single row and a 10k-row batch,
//! and one row's per-feature contributions (exact TreeSHAP).
//!
//! Catches: regressions in tree walking and batch blocking. The peers
//! (xgboost `inplace_predict`, lightgbm `predict`) are timed on the same
//! models and rows by `scripts/bench_peers.py`; BENCHMARKS.md has both.
//!
//! Run: `cargo bench -p edgescore-models --bench score`

use std::io::Read;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use edgescore_models::Model;

fn gunzip(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/data")
        .join(name);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    out
}

/// The 10k benchmark rows, row-major.
fn rows() -> Vec<f64> {
    let text = String::from_utf8(gunzip("rows_10k_40f.csv.gz")).expect("utf-8");
    text.lines()
        .skip(1)
        .flat_map(|line| {
            line.split(',')
                .map(|c| c.parse::<f64>().unwrap_or(f64::NAN))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rows = rows();
    let models = [
        ("xgboost", "xgboost_300x8_40f.json.gz"),
        ("lightgbm", "lightgbm_300x8_40f.txt.gz"),
    ];
    for (name, file) in models {
        let model = Model::from_bytes(&gunzip(file), None).expect("benchmark model loads");
        let width = model.num_features();
        assert_eq!(rows.len(), 10_000 * width);

        let mut group = c.benchmark_group(format!("score/{name}"));
        let mut out = vec![0.0; 10_000];
        group.throughput(Throughput::Elements(1));
        group.bench_function("single_row", |b| {
            let mut i = 0;
            b.iter(|| {
                let row = &rows[i * width..(i + 1) * width];
                i = (i + 1) % 10_000;
                model.score_into(row, &mut out[..1]).expect("scores");
            })
        });
        for n in [100usize, 10_000] {
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new("batch", n), &n, |b, &n| {
                b.iter(|| {
                    model
                        .score_into(&rows[..n * width], &mut out[..n])
                        .expect("scores")
                })
            });
        }
        group.finish();

        // Reasons for one flagged transaction: exact TreeSHAP over every tree.
        let mut group = c.benchmark_group(format!("contributions/{name}"));
        group.throughput(Throughput::Elements(1));
        group.bench_function("single_row", |b| {
            let mut i = 0;
            b.iter(|| {
                let row = &rows[i * width..(i + 1) * width];
                i = (i + 1) % 10_000;
                model.contributions(row).expect("contributions")
            })
        });
        group.throughput(Throughput::Elements(100));
        group.bench_function("batch/100", |b| {
            b.iter(|| {
                model
                    .contributions(&rows[..100 * width])
                    .expect("contributions")
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
