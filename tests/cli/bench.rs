//! `edgescore bench`: its report (the JSON line's fields and their sense,
//! not the speed, which no test asserts), its refusals, and `score
//! --threads` giving the same bytes on any thread count.

use std::path::{Path, PathBuf};

use crate::{built_model, edgescore, one_clear_line, path_str, quickstart_input, quickstart_model};

/// The quickstart transactions repeated to at least `rows` rows, in `dir`.
fn many_rows(dir: &Path, rows: usize) -> PathBuf {
    let text = std::fs::read_to_string(quickstart_input()).expect("quickstart input");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let body: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    let mut out = format!("{header}\n");
    for line in body.iter().cycle().take(rows) {
        out.push_str(line);
        out.push('\n');
    }
    let path = dir.join("many.csv");
    std::fs::write(&path, out).expect("write rows");
    path
}

/// Runs `bench` with `args` and parses its last line as JSON.
fn bench_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["bench", "--json", "--single-row-calls", "200"];
    all.extend_from_slice(args);
    let out = edgescore(&all);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.trim_end().lines().last().expect("a last line");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last line {last:?}: {e}"))
}

fn check_report(report: &serde_json::Value, backend: &str, rows: u64, threads: u64) {
    assert_eq!(report["backend"], backend, "{report}");
    assert_eq!(report["rows"], rows, "{report}");
    assert_eq!(report["threads"], threads, "{report}");
    assert_eq!(report["features"], 12, "{report}");
    assert_eq!(report["input_rows"], 12, "{report}");
    assert_eq!(report["single_row_calls"], 200, "{report}");
    let number = |k: &str| {
        report[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} is not a number: {report}"))
    };
    assert!(number("rows_per_s") > 0.0, "{report}");
    let (p50, p99) = (number("single_row_p50_us"), number("single_row_p99_us"));
    assert!(p50 > 0.0 && p50 <= p99, "{report}");
    let passes = report["pass_seconds"].as_array().expect("pass_seconds");
    assert_eq!(passes.len(), 3, "{report}");
}

#[test]
fn bench_reports_a_native_model_and_a_component() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = quickstart_model();
    let input = quickstart_input();
    let report = bench_json(&[
        "--model",
        path_str(&model),
        "--input",
        path_str(&input),
        "--rows",
        "3000",
        "--threads",
        "2",
    ]);
    check_report(&report, "native", 3000, 2);
    assert_eq!(
        report["batch"], 3000,
        "all rows at once by default: {report}"
    );

    let wasm = built_model(tmp.path(), "fraud");
    let report = bench_json(&[
        "--model",
        path_str(&wasm),
        "--input",
        path_str(&input),
        "--rows",
        "1000",
        "--threads",
        "1",
        "--batch",
        "64",
    ]);
    check_report(&report, "component", 1000, 1);
    assert_eq!(report["batch"], 64, "{report}");
}

#[test]
fn bench_refuses_a_backend_that_does_not_fit_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = quickstart_model();
    let input = quickstart_input();
    let wasm = built_model(tmp.path(), "fraud");
    let run = |m: &Path, backend: &str| {
        edgescore(&[
            "bench",
            "--model",
            path_str(m),
            "--input",
            path_str(&input),
            "--backend",
            backend,
        ])
    };
    one_clear_line(
        "native on a component",
        &run(&wasm, "native"),
        &["is a component", "--backend component"],
    );
    one_clear_line(
        "component on a model file",
        &run(&model, "component"),
        &["is a model file", "edgescore build"],
    );
    // A walk forced on a model without one says so; the portable walk is
    // always there.
    let lightgbm = edgescore_test_support::repo_root()
        .join("models/test_cases/lightgbm_binary_sigmoid/model.txt");
    let lightgbm_input = edgescore_test_support::repo_root()
        .join("models/test_cases/lightgbm_binary_sigmoid/random.input.csv");
    let out = edgescore(&[
        "bench",
        "--model",
        path_str(&lightgbm),
        "--input",
        path_str(&lightgbm_input),
        "--simd",
        "avx2",
    ]);
    one_clear_line(
        "--simd avx2 on LightGBM",
        &out,
        &["--simd avx2", "no SIMD walk"],
    );
    // A model the GPU walk does not run is refused before any device opens.
    let linear =
        edgescore_test_support::repo_root().join("models/test_cases/linear_logistic/model.json");
    one_clear_line(
        "--backend gpu on a linear model",
        &run(&linear, "gpu"),
        &["cannot run on the GPU backend", "linear", "natively"],
    );
    let report = bench_json(&[
        "--model",
        path_str(&model),
        "--input",
        path_str(&input),
        "--rows",
        "100",
        "--simd",
        "portable",
    ]);
    assert_eq!(report["simd"], serde_json::Value::Null, "{report}");
    // A bad cell is found before anything is timed, with its row and column.
    let bad = tmp.path().join("bad.csv");
    let text = std::fs::read_to_string(&input).expect("input");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let first: Vec<&str> = lines[1].split(',').collect();
    lines[2] = std::iter::once("lots")
        .chain(first[1..].iter().copied())
        .collect::<Vec<_>>()
        .join(",");
    std::fs::write(&bad, lines.join("\n")).expect("write");
    let out = edgescore(&[
        "bench",
        "--model",
        path_str(&model),
        "--input",
        path_str(&bad),
    ]);
    one_clear_line("bad cell", &out, &["row 2", "amount", "lots"]);
}

#[test]
fn score_on_several_threads_writes_the_same_bytes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = many_rows(tmp.path(), 5_000);
    let model = quickstart_model();
    let on = |threads: &str| {
        let out = edgescore(&[
            "score",
            "--model",
            path_str(&model),
            "--input",
            path_str(&input),
            "--threads",
            threads,
        ]);
        assert!(
            out.status.success(),
            "--threads {threads}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let one = on("1");
    assert_eq!(one.iter().filter(|&&b| b == b'\n').count(), 5_001);
    for threads in ["2", "3", "8"] {
        assert!(
            on(threads) == one,
            "--threads {threads} differs from one thread"
        );
    }
}

/// `score --gpu` and `bench --backend gpu` on the quickstart XGBoost model:
/// the same bytes as native scoring, a report naming the adapter. Where no
/// Vulkan adapter is present and CI does not require one
/// (`EDGESCORE_REQUIRE_GPU=1`), says so and passes.
#[test]
fn the_gpu_backend_scores_the_native_bytes_and_reports_its_adapter() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = many_rows(tmp.path(), 3_000);
    let model = quickstart_model();
    let score = |extra: &[&str]| {
        let mut args = vec![
            "score",
            "--model",
            path_str(&model),
            "--input",
            path_str(&input),
        ];
        args.extend_from_slice(extra);
        edgescore(&args)
    };
    let gpu = score(&["--gpu"]);
    let stderr = String::from_utf8_lossy(&gpu.stderr);
    if !gpu.status.success()
        && stderr.contains("no GPU to run on")
        && std::env::var_os("EDGESCORE_REQUIRE_GPU").is_none_or(|v| v != "1")
    {
        eprintln!("skipped: {stderr}");
        return;
    }
    assert!(gpu.status.success(), "score --gpu: {stderr}");
    let native = score(&[]);
    assert!(native.status.success());
    assert!(
        gpu.stdout == native.stdout,
        "score --gpu differs from native"
    );
    let raw_gpu = score(&["--gpu", "--raw"]);
    let raw_native = score(&["--raw"]);
    assert!(
        raw_gpu.status.success() && raw_gpu.stdout == raw_native.stdout,
        "--raw differs"
    );

    let report = bench_json(&[
        "--model",
        path_str(&model),
        "--input",
        path_str(&quickstart_input()),
        "--rows",
        "2000",
        "--threads",
        "1",
        "--backend",
        "gpu",
    ]);
    check_report(&report, "gpu", 2000, 1);
    assert!(
        report["adapter"].as_str().is_some_and(|a| !a.is_empty()),
        "{report}"
    );
}
