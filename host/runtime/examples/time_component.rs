//! Times a model built into a component and scored in the sandbox, one
//! thread: the component's size, a fresh instance (median of 200), the
//! median of 10,000 single-row calls and the best of five calls on every
//! row at once. Prints one JSON line. `scripts/bench_onnx.py` runs it beside
//! onnxruntime and the native model core.
//!
//! Run: `cargo run --release -p edgescore-runtime --example time_component -- <MODEL> <ROWS.csv>`

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use edgescore_runtime::component_build::{BuildRequest, build_component};
use edgescore_runtime::component_scorer::ScorerComponent;
use edgescore_runtime::engine::ScoringEngine;
use edgescore_runtime::limits::Limits;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, model_path, rows_path] = args.as_slice() else {
        let _ = writeln!(
            std::io::stderr(),
            "usage: time_component <MODEL> <ROWS.csv>"
        );
        std::process::exit(2);
    };
    let bytes = build_component(&BuildRequest {
        model: Path::new(model_path),
        format: None,
        name: "bench",
        version: "1",
    })
    .unwrap_or_else(|e| panic!("{model_path}: {e}"));
    // A generous deadline: the whole batch is one call.
    let limits = Limits {
        call_deadline: Duration::from_secs(10),
        ..Limits::default()
    };
    let engine = ScoringEngine::new(limits).expect("engine");
    let component = ScorerComponent::new(&engine, &bytes).expect("loads");
    let fresh = median(
        (0..200)
            .map(|_| {
                let start = Instant::now();
                drop(component.instantiate().expect("instance"));
                start.elapsed().as_secs_f64() * 1e6
            })
            .collect(),
    );
    let mut instance = component.instantiate().expect("instance");
    let text = std::fs::read_to_string(rows_path).expect("rows readable");
    let rows: Vec<f64> = text
        .lines()
        .skip(1)
        .flat_map(|l| l.split(',').map(|c| c.parse::<f64>().unwrap_or(f64::NAN)))
        .collect();
    let width = rows.len() / text.lines().skip(1).count().max(1);
    let n = rows.len() / width;
    let single = median(
        (0..10_000)
            .map(|i| {
                let row = &rows[(i % n) * width..(i % n + 1) * width];
                let start = Instant::now();
                instance.score(row).expect("scores");
                start.elapsed().as_secs_f64() * 1e6
            })
            .collect(),
    );
    let batch = (0..5)
        .map(|_| {
            let start = Instant::now();
            instance.score(&rows).expect("scores");
            start.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min);
    writeln!(
        std::io::stdout(),
        "{{\"bytes\": {}, \"fresh_instance_us\": {fresh:.1}, \"single_row_p50_us\": {single:.3}, \"batch_ms\": {batch:.3}}}",
        bytes.len()
    )
    .expect("stdout");
}
