//! Times the model core on a CSV of rows, one thread: the median of 10,000
//! single-row calls and the best of five calls on every row at once. Prints
//! one JSON line. `scripts/bench_onnx.py` runs it beside onnxruntime.
//!
//! Run: `cargo run --release -p edgescore-models --example time_rows -- <MODEL> <ROWS.csv>`
//! (the CSV's columns in the model's feature order; empty cells are NaN).

use std::io::Write as _;
use std::time::Instant;

use edgescore_models::Model;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, model_path, rows_path] = args.as_slice() else {
        let _ = writeln!(std::io::stderr(), "usage: time_rows <MODEL> <ROWS.csv>");
        std::process::exit(2);
    };
    let model = Model::from_bytes(&std::fs::read(model_path).expect("model readable"), None)
        .unwrap_or_else(|e| panic!("{model_path}: {e}"));
    let text = std::fs::read_to_string(rows_path).expect("rows readable");
    let rows: Vec<f64> = text
        .lines()
        .skip(1)
        .flat_map(|l| l.split(',').map(|c| c.parse::<f64>().unwrap_or(f64::NAN)))
        .collect();
    let width = model.num_features();
    let n = rows.len() / width;
    let mut out = vec![0.0; 1];
    let mut single = Vec::with_capacity(10_000);
    for i in 0..10_000 {
        let row = &rows[(i % n) * width..(i % n + 1) * width];
        let start = Instant::now();
        model.score_into(row, &mut out).expect("scores");
        single.push(start.elapsed().as_nanos() as f64);
    }
    single.sort_by(f64::total_cmp);
    let mut batch = vec![0.0; n];
    let best = (0..5)
        .map(|_| {
            let start = Instant::now();
            model.score_into(&rows, &mut batch).expect("scores");
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    writeln!(
        std::io::stdout(),
        "{{\"rows\": {n}, \"single_row_p50_us\": {:.3}, \"batch_ms\": {:.3}}}",
        single[single.len() / 2] / 1e3,
        best * 1e3
    )
    .expect("stdout");
}
