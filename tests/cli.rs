//! The `edgescore` binary, run as a user runs it.
//!
//! - every golden case scored by `edgescore score` equals the reference
//!   library (from the original model file and from its compact encoding);
//! - bad models and bad inputs give one clear line on stderr and exit 1,
//!   never a panic and never a partial output file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use edgescore_models::Model;
use edgescore_test_support::{Output as Compared, cases, check_scores, repo_root};

fn edgescore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(args)
        // Compiled components are cached here, not in the user's cache.
        .env(
            "XDG_CACHE_HOME",
            std::env::temp_dir().join("edgescore-cli-tests"),
        )
        .output()
        .expect("edgescore runs")
}

/// Parses the CLI's output CSV: the header, then one number per line.
fn parse_output(what: &str, out: &Output, header: &str) -> Vec<f64> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what}: edgescore failed: {stderr}");
    let text = String::from_utf8(out.stdout.clone()).expect("utf-8 output");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(header), "{what}: output header");
    lines
        .map(|l| {
            l.parse::<f64>()
                .unwrap_or_else(|_| panic!("{what}: '{l}' is not a number"))
        })
        .collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn cli_scores_equal_the_reference_for_every_golden_case() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for case in cases() {
        // The same case through the original file and through the compact encoding.
        let bytes = std::fs::read(&case.model_path).expect("model readable");
        let compact = tmp.path().join(format!("{}.esm", case.name));
        let model = Model::from_bytes(&bytes, None).expect("golden model loads");
        std::fs::write(&compact, model.to_compact_bytes()).expect("write compact");

        for model_path in [case.model_path.clone(), compact] {
            for set in &case.sets {
                let what = format!("{} / {} / {}", case.name, set.name, model_path.display());
                let args = [
                    "score",
                    "--model",
                    path_str(&model_path),
                    "--input",
                    path_str(&set.input_path),
                ];
                let scores = parse_output(&what, &edgescore(&args), "score");
                check_scores(
                    &what,
                    &scores,
                    &set.expected_score,
                    case.tolerance(Compared::Score),
                );

                let mut raw_args = args.to_vec();
                raw_args.push("--raw");
                let raw = parse_output(&what, &edgescore(&raw_args), "raw");
                check_scores(
                    &format!("{what} --raw"),
                    &raw,
                    &set.expected_raw,
                    case.tolerance(Compared::Raw),
                );
            }
        }
    }
}

#[test]
fn components_score_bit_identically_to_native_for_every_golden_case() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for case in cases() {
        let component = tmp.path().join(format!("{}.wasm", case.name));
        let built = edgescore(&[
            "build",
            "--model",
            path_str(&case.model_path),
            "--name",
            &case.name,
            "--version",
            "1",
            "--output",
            path_str(&component),
        ]);
        assert!(
            built.status.success(),
            "{}: build failed: {}",
            case.name,
            String::from_utf8_lossy(&built.stderr)
        );
        for set in &case.sets {
            let what = format!("{} / {} / component", case.name, set.name);
            let input = path_str(&set.input_path);
            let native = edgescore(&[
                "score",
                "--model",
                path_str(&case.model_path),
                "--input",
                input,
            ]);
            let sandboxed = edgescore(&[
                "score",
                "--component",
                path_str(&component),
                "--input",
                input,
            ]);
            let native = parse_output(&what, &native, "score");
            let sandboxed = parse_output(&what, &sandboxed, "score");
            check_scores(
                &what,
                &sandboxed,
                &native,
                edgescore_test_support::Tolerance::BitExact,
            );
            check_scores(
                &what,
                &sandboxed,
                &set.expected_score,
                case.tolerance(Compared::Score),
            );
        }
    }
}

/// A large model on a large file inside the sandbox: the 300-tree LightGBM
/// benchmark model (depth 8, up to 255 leaves a tree) scores 100,000 rows
/// with the default 10 ms call deadline, bit-identical to the native model,
/// because the file goes in calls sized to fit the deadline.
#[test]
fn a_large_model_scores_a_large_file_within_the_default_deadline() {
    use std::io::Read;
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = repo_root().join("models/benches/data");
    let gunzip = |name: &str| {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(data.join(name)).expect("bench data"))
            .read_to_string(&mut text)
            .expect("gzip");
        text
    };
    let model = tmp.path().join("lightgbm_300.txt");
    std::fs::write(&model, gunzip("lightgbm_300x8_40f.txt.gz")).expect("model");
    let rows = gunzip("rows_10k_40f.csv.gz");
    let (_, body) = rows.split_once('\n').expect("header");
    // LightGBM named the features Column_0..Column_39.
    let header: Vec<String> = (0..40).map(|i| format!("Column_{i}")).collect();
    let header = header.join(",");
    let input = tmp.path().join("rows_100k.csv");
    std::fs::write(&input, format!("{header}\n{}", body.repeat(10))).expect("rows");
    let component = tmp.path().join("lightgbm_300.wasm");
    let built = edgescore(&[
        "build",
        "--model",
        path_str(&model),
        "--name",
        "large",
        "--version",
        "1",
        "--output",
        path_str(&component),
    ]);
    assert!(
        built.status.success(),
        "build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let native = edgescore(&[
        "score",
        "--model",
        path_str(&model),
        "--input",
        path_str(&input),
    ]);
    let native = parse_output("native", &native, "score");
    assert_eq!(native.len(), 100_000);
    let sandboxed = edgescore(&[
        "score",
        "--component",
        path_str(&component),
        "--input",
        path_str(&input),
    ]);
    let sandboxed = parse_output("component, default deadline", &sandboxed, "score");
    check_scores(
        "100,000 rows, 300-tree LightGBM component",
        &sandboxed,
        &native,
        edgescore_test_support::Tolerance::BitExact,
    );
}

#[test]
fn columns_are_matched_by_name_in_any_order_and_extra_columns_can_be_skipped() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "xgboost_binary_deep_nan")
        .expect("case exists");
    let set = &case.sets[0];
    let text = std::fs::read_to_string(&set.input_path).expect("input");
    // Reverse the column order and add an id column.
    let shuffled: String = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let mut cells: Vec<&str> = line.split(',').collect();
            cells.reverse();
            let id = if i == 0 {
                "transaction_id".to_owned()
            } else {
                format!("tx{i}")
            };
            format!("{id},{}\n", cells.join(","))
        })
        .collect();
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("shuffled.csv");
    std::fs::write(&input, shuffled).expect("write");
    let model = path_str(&case.model_path);

    let refused = edgescore(&["score", "--model", model, "--input", path_str(&input)]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("'transaction_id'"));

    let out = edgescore(&[
        "score",
        "--model",
        model,
        "--input",
        path_str(&input),
        "--ignore-extra-columns",
    ]);
    let scores = parse_output("shuffled", &out, "score");
    check_scores(
        "shuffled",
        &scores,
        &set.expected_score,
        case.tolerance(Compared::Score),
    );
}

#[test]
fn output_file_is_written_whole_or_not_at_all() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = repo_root().join("examples/quickstart/fraud_xgboost.json");
    let good = repo_root().join("examples/quickstart/transactions.csv");
    let output = tmp.path().join("scores.csv");

    let ok = edgescore(&[
        "score",
        "--model",
        path_str(&model),
        "--input",
        path_str(&good),
        "--output",
        path_str(&output),
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let written = std::fs::read_to_string(&output).expect("output written");
    let rows = std::fs::read_to_string(&good)
        .expect("input")
        .lines()
        .count()
        - 1;
    assert_eq!(written.lines().count(), rows + 1);

    // A bad row late in the file: the earlier output stays as it was, no temp file is left.
    let mut bad = std::fs::read_to_string(&good).expect("input");
    bad.push_str(&format!("oops{}\n", ",1".repeat(11)));
    let bad_input = tmp.path().join("bad.csv");
    std::fs::write(&bad_input, bad).expect("write");
    let failed = edgescore(&[
        "score",
        "--model",
        path_str(&model),
        "--input",
        path_str(&bad_input),
        "--output",
        path_str(&output),
    ]);
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&output).expect("still there"),
        written
    );
    let leftovers: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".edgescore-"))
        })
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

/// One bad invocation: the files it needs, the arguments, and words the error must contain.
/// `model` and `input` are file contents written to a temporary file, or `@path`
/// for a path used as it is; `None` uses the quickstart example's file.
struct BadCase {
    name: &'static str,
    model: Option<&'static str>,
    input: Option<&'static str>,
    extra: &'static [&'static str],
    expect: &'static [&'static str],
}

const QUICKSTART_HEADER: &str = "amount,hour,merchant_risk,card_age_days,txn_count_1h,distance_km,device_new,country_mismatch,velocity_24h,avg_amount_30d,amount_ratio,account_score";

fn bad_cases() -> Vec<BadCase> {
    vec![
        BadCase {
            name: "empty model file",
            model: Some(""),
            input: None,
            extra: &[],
            expect: &["empty"],
        },
        BadCase {
            name: "not a model",
            model: Some("hello world\n"),
            input: None,
            extra: &[],
            expect: &["unrecognised model format"],
        },
        BadCase {
            name: "truncated XGBoost JSON",
            model: Some("{\"learner\": {\"feature_names\": [\"a\""),
            input: None,
            extra: &[],
            expect: &["XGBoost JSON", "not valid JSON"],
        },
        BadCase {
            name: "unsupported XGBoost objective",
            model: Some(
                r#"{"learner":{"gradient_booster":{"name":"gbtree","model":{"trees":[]}},"learner_model_param":{"base_score":"5E-1","num_feature":"1","num_class":"3"},"objective":{"name":"multi:softprob"}},"version":[3,2,0]}"#,
            ),
            input: None,
            extra: &[],
            expect: &["unsupported", "multi:softprob"],
        },
        BadCase {
            name: "XGBoost tree with a wild child index",
            model: Some(
                r#"{"learner":{"gradient_booster":{"name":"gbtree","model":{"trees":[{"left_children":[1,-1,-1],"right_children":[7,-1,-1],"split_indices":[0,0,0],"split_conditions":[0.5,1.0,2.0],"default_left":[0,0,0]}]}},"learner_model_param":{"base_score":"5E-1","num_feature":"1"},"objective":{"name":"binary:logistic"}},"version":[3,2,0]}"#,
            ),
            input: None,
            extra: &[],
            expect: &["tree 0", "right_children holds 7"],
        },
        BadCase {
            name: "LightGBM model without trees",
            model: Some(
                "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nmax_feature_idx=0\nobjective=binary sigmoid:1\n",
            ),
            input: None,
            extra: &[],
            expect: &["no trees"],
        },
        BadCase {
            name: "LightGBM multiclass",
            model: Some(
                "tree\nversion=v4\nnum_class=3\nnum_tree_per_iteration=3\nmax_feature_idx=0\nobjective=multiclass num_class:3\n\nTree=0\nnum_leaves=1\nleaf_value=0\n",
            ),
            input: None,
            extra: &[],
            expect: &["multi-class"],
        },
        BadCase {
            name: "linear model with mismatched lengths",
            model: Some(
                r#"{"format":"edgescore-linear","format_version":1,"kind":"logistic","coefficients":[1,2],"intercept":0,"standardize":{"mean":[0],"scale":[1,1]}}"#,
            ),
            input: None,
            extra: &[],
            expect: &["mean has 1 entries for 2 coefficients"],
        },
        BadCase {
            name: "wrong --format for the file",
            model: None,
            input: None,
            extra: &["--format", "lightgbm"],
            expect: &["LightGBM", "missing `num_class=`"],
        },
        BadCase {
            name: "input file missing",
            model: None,
            input: Some("@/nonexistent/input.csv"),
            extra: &[],
            expect: &["cannot read input", "/nonexistent/input.csv"],
        },
        BadCase {
            name: "empty input file",
            model: None,
            input: Some(""),
            extra: &[],
            expect: &["empty", "header"],
        },
        BadCase {
            name: "missing columns",
            model: None,
            input: Some("amount,hour\n1,2\n"),
            extra: &[],
            expect: &["missing column(s)", "'merchant_risk'"],
        },
        BadCase {
            name: "duplicate column",
            model: None,
            input: Some("amount,amount\n1,2\n"),
            extra: &[],
            expect: &["'amount' appears twice"],
        },
        BadCase {
            name: "non-numeric cell",
            model: None,
            input: Some("BAD_CELL"),
            extra: &[],
            expect: &["row 2 (line 3)", "column 'hour'", "'seven' is not a number"],
        },
        BadCase {
            name: "short row",
            model: None,
            input: Some("SHORT_ROW"),
            extra: &[],
            expect: &["line 3", "11 cells where the header has 12"],
        },
        BadCase {
            name: "a number with trailing text",
            model: None,
            input: Some("TEXT_CELL"),
            extra: &[],
            expect: &["column 'amount'", "'12abc' is not a number"],
        },
        BadCase {
            name: "value beyond float64",
            model: None,
            input: Some("HUGE_CELL"),
            extra: &[],
            expect: &["column 'amount'", "float64 range"],
        },
        BadCase {
            name: "missing model file",
            model: Some("@/nonexistent/model.json"),
            input: None,
            extra: &[],
            expect: &["cannot read model file", "/nonexistent/model.json"],
        },
    ]
}

/// Builds the input text for the named templates; plain text otherwise.
fn input_text(template: &str) -> String {
    let good_row = "10,3,0.1,400,1,5,0,0,4,12,0.8,0.1";
    let row = |replace: &str, at: usize| -> String {
        let mut cells: Vec<String> = good_row.split(',').map(str::to_owned).collect();
        if replace == "DROP" {
            cells.pop();
        } else {
            cells[at] = replace.to_owned();
        }
        cells.join(",")
    };
    match template {
        "BAD_CELL" => format!("{QUICKSTART_HEADER}\n{good_row}\n{}\n", row("seven", 1)),
        "SHORT_ROW" => format!("{QUICKSTART_HEADER}\n{good_row}\n{}\n", row("DROP", 0)),
        "HUGE_CELL" => format!("{QUICKSTART_HEADER}\n{}\n", row("1e309", 0)),
        "TEXT_CELL" => format!("{QUICKSTART_HEADER}\n{}\n", row("12abc", 0)),
        other => other.to_owned(),
    }
}

#[test]
fn bad_models_and_inputs_fail_with_one_clear_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let quickstart_model = repo_root().join("examples/quickstart/fraud_xgboost.json");
    let quickstart_input = repo_root().join("examples/quickstart/transactions.csv");
    let cases = bad_cases();
    assert!(cases.len() >= 10);
    for (i, case) in cases.iter().enumerate() {
        let model = match case.model {
            Some(path) if path.starts_with('@') => PathBuf::from(&path[1..]),
            Some(text) => {
                let p = tmp.path().join(format!("model-{i}"));
                std::fs::write(&p, text).expect("write model");
                p
            }
            None => quickstart_model.clone(),
        };
        let input = match case.input {
            Some(path) if path.starts_with('@') => PathBuf::from(&path[1..]),
            Some(template) => {
                let p = tmp.path().join(format!("input-{i}.csv"));
                std::fs::write(&p, input_text(template)).expect("write input");
                p
            }
            None => quickstart_input.clone(),
        };
        let mut args = vec![
            "score",
            "--model",
            path_str(&model),
            "--input",
            path_str(&input),
        ];
        args.extend_from_slice(case.extra);
        let out = edgescore(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: expected exit 1, stderr: {stderr}",
            case.name
        );
        assert!(
            !stderr.contains("panicked"),
            "{}: panicked: {stderr}",
            case.name
        );
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{}: expected one line, got: {stderr}",
            case.name
        );
        assert!(stderr.starts_with("error: "), "{}: {stderr}", case.name);
        for word in case.expect {
            assert!(
                stderr.contains(word),
                "{}: error should mention {word:?}: {stderr}",
                case.name
            );
        }
    }
}

#[test]
fn errors_count_rows_from_the_start_of_the_file_past_the_first_batch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = tmp.path().join("linear.json");
    std::fs::write(&model, r#"{"format":"edgescore-linear","format_version":1,"kind":"linear","feature_names":["a"],"coefficients":[1],"intercept":0}"#).expect("write");
    let mut csv = String::from("a\n");
    for i in 1..=20_000 {
        csv.push_str(if i == 17_000 { "NaN\n" } else { "1\n" });
    }
    let input = tmp.path().join("rows.csv");
    std::fs::write(&input, csv).expect("write");
    let out = edgescore(&[
        "score",
        "--model",
        path_str(&model),
        "--input",
        path_str(&input),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("row 17000,"), "{stderr}");
}

#[test]
fn input_can_come_from_standard_input() {
    use std::io::Write as _;
    let model = repo_root().join("examples/quickstart/fraud_xgboost.json");
    let input = repo_root().join("examples/quickstart/transactions.csv");
    let from_file = edgescore(&[
        "score",
        "--model",
        path_str(&model),
        "--input",
        path_str(&input),
    ]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(["score", "--model", path_str(&model), "--input", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("edgescore runs");
    let text = std::fs::read(&input).expect("input");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&text)
        .expect("write stdin");
    let from_stdin = child.wait_with_output().expect("finishes");
    assert!(from_stdin.status.success());
    assert_eq!(from_stdin.stdout, from_file.stdout);
    assert!(from_file.stdout.len() > 100);
}

#[test]
fn truncated_compact_model_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let json =
        std::fs::read(repo_root().join("examples/quickstart/fraud_xgboost.json")).expect("model");
    let compact = Model::from_bytes(&json, None)
        .expect("loads")
        .to_compact_bytes();
    let path = tmp.path().join("truncated.esm");
    std::fs::write(&path, &compact[..compact.len() / 2]).expect("write");
    let input = repo_root().join("examples/quickstart/transactions.csv");
    let out = edgescore(&[
        "score",
        "--model",
        path_str(&path),
        "--input",
        path_str(&input),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("edgescore compact") && stderr.contains("truncated"),
        "{stderr}"
    );
}

#[test]
fn bad_component_files_are_refused_with_a_reason() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = tmp.path().join("good.wasm");
    let model = repo_root().join("examples/quickstart/fraud_xgboost.json");
    let built = edgescore(&[
        "build",
        "--model",
        path_str(&model),
        "--name",
        "q",
        "--version",
        "1",
        "--output",
        path_str(&good),
    ]);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let good_bytes = std::fs::read(&good).expect("built");

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "text file",
            b"hello".to_vec(),
            "not a WebAssembly component",
        ),
        ("empty file", Vec::new(), "not a WebAssembly component"),
        (
            "core module",
            b"\0asm\x01\0\0\0".to_vec(),
            "core WebAssembly module, not a component",
        ),
        (
            "truncated component",
            good_bytes[..good_bytes.len() / 2].to_vec(),
            "malformed component",
        ),
        (
            "component without a manifest",
            edgescore_runtime::guests::SCORER_TEMPLATE_COMPONENT.to_vec(),
            "no `edgescore-manifest` section",
        ),
    ];
    let input = repo_root().join("examples/quickstart/transactions.csv");
    for (name, bytes, expect) in cases {
        let path = tmp.path().join(format!("{}.wasm", name.replace(' ', "_")));
        std::fs::write(&path, bytes).expect("write");
        let scored = edgescore(&[
            "score",
            "--component",
            path_str(&path),
            "--input",
            path_str(&input),
        ]);
        let stderr = String::from_utf8_lossy(&scored.stderr);
        assert_eq!(scored.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains(expect) && !stderr.contains("panicked"),
            "{name}: {stderr}"
        );
        assert_eq!(stderr.trim_end().lines().count(), 1, "{name}: {stderr}");
        if name != "component without a manifest" {
            let inspected = edgescore(&["inspect", path_str(&path)]);
            let stderr = String::from_utf8_lossy(&inspected.stderr);
            assert_eq!(inspected.status.code(), Some(1), "{name}: {stderr}");
            assert!(stderr.contains(expect), "inspect {name}: {stderr}");
        }
        // A component is not a model file either.
        let as_model = edgescore(&[
            "build",
            "--model",
            path_str(&path),
            "--name",
            "x",
            "--version",
            "1",
            "--output",
            path_str(&tmp.path().join("out.wasm")),
        ]);
        assert_eq!(as_model.status.code(), Some(1), "build {name}");
    }
    assert!(!tmp.path().join("out.wasm").exists());

    let inspected = edgescore(&["inspect", path_str(&good), "--json"]);
    assert!(inspected.status.success());
    let json = String::from_utf8_lossy(&inspected.stdout);
    assert!(
        json.contains("\"model_sha256\"") && json.contains("\"golden\""),
        "{json}"
    );
    assert!(json.contains("edgescore:scoring/model@0.2.0"), "{json}");
}

#[test]
fn invalid_arguments_are_usage_errors() {
    let out = edgescore(&[
        "score", "--model", "m.json", "--input", "i.csv", "--format", "onnx",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown model format 'onnx'"));
    let out = edgescore(&["score"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Asserts `out` failed with exit status 1 and one short line on stderr
/// containing every one of `words`; returns the line.
fn one_clear_line(what: &str, out: &Output, words: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    assert!(
        stderr.len() < 2_000,
        "{what}: {} bytes on stderr: {}...",
        stderr.len(),
        &stderr[..200.min(stderr.len())]
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    for word in words {
        assert!(
            stderr.contains(word),
            "{what}: should mention {word:?}: {stderr}"
        );
    }
    stderr
}

/// A small transform spec: a timestamp, a card and an amount in; the amount out.
const TRANSFORM_SPEC: &str = r#"name = "tiny"
version = "3"
time = "ts"

[inputs]
ts = { type = "timestamp", required = true }
card = { type = "text", required = true }
amount = { type = "number" }

[[features]]
name = "amount"
value = "amount"
"#;

/// Builds [`TRANSFORM_SPEC`] into `dir/tiny.wasm`.
fn built_transform(dir: &Path) -> PathBuf {
    let spec = dir.join("tiny.toml");
    std::fs::write(&spec, TRANSFORM_SPEC).expect("write spec");
    let wasm = dir.join("tiny.wasm");
    let built = edgescore(&[
        "build",
        "--transform",
        path_str(&spec),
        "--output",
        path_str(&wasm),
    ]);
    assert!(
        built.status.success(),
        "build --transform: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    wasm
}

/// The quickstart model built into `dir/<name>.wasm`.
fn built_model(dir: &Path, name: &str) -> PathBuf {
    let wasm = dir.join(format!("{name}.wasm"));
    let model = repo_root().join("examples/quickstart/fraud_xgboost.json");
    let built = edgescore(&[
        "build",
        "--model",
        path_str(&model),
        "--name",
        name,
        "--version",
        "1",
        "--output",
        path_str(&wasm),
    ]);
    assert!(
        built.status.success(),
        "build --model: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    wasm
}

#[test]
fn a_huge_bad_cell_or_column_name_is_cut_short_in_the_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = repo_root().join("examples/quickstart/fraud_xgboost.json");
    let huge = "x".repeat(10_000_000);
    let good_row = "10,3,0.1,400,1,5,0,0,4,12,0.8,0.1";

    let bad_cell = tmp.path().join("bad_cell.csv");
    std::fs::write(
        &bad_cell,
        format!("{QUICKSTART_HEADER}\n{good_row}\n10,{huge},0.1,400,1,5,0,0,4,12,0.8,0.1\n"),
    )
    .expect("write");
    let out = edgescore(&[
        "score",
        "--model",
        path_str(&model),
        "--input",
        path_str(&bad_cell),
    ]);
    one_clear_line(
        "10 MB cell",
        &out,
        &["column 'hour'", "is not a number", "10000000 characters"],
    );

    // A column name is a cell of the header.
    let bad_header = tmp.path().join("bad_header.csv");
    std::fs::write(
        &bad_header,
        format!("{QUICKSTART_HEADER},{huge}\n{good_row},1\n"),
    )
    .expect("write");
    let out = edgescore(&[
        "score",
        "--model",
        path_str(&model),
        "--input",
        path_str(&bad_header),
    ]);
    one_clear_line(
        "10 MB column name",
        &out,
        &["not features of the model", "10000000 characters"],
    );
    let duplicate = tmp.path().join("duplicate.csv");
    std::fs::write(
        &duplicate,
        format!("{QUICKSTART_HEADER},{huge},{huge}\n{good_row},1,1\n"),
    )
    .expect("write");
    let out = edgescore(&[
        "score",
        "--model",
        path_str(&model),
        "--input",
        path_str(&duplicate),
    ]);
    one_clear_line(
        "10 MB duplicate column name",
        &out,
        &["appears twice", "10000000 characters"],
    );
}

#[test]
fn a_huge_bad_event_cell_is_cut_short_in_the_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let transform = built_transform(tmp.path());
    let huge = "7".repeat(5_000_000) + &"x".repeat(5_000_000);
    let events = tmp.path().join("events.csv");
    std::fs::write(
        &events,
        format!("ts,card,amount\n2026-01-01T00:00:00Z,c1,{huge}\n"),
    )
    .expect("write");
    let out = edgescore(&[
        "transform",
        "--transform",
        path_str(&transform),
        "--input",
        path_str(&events),
        "--output",
        path_str(&tmp.path().join("features.csv")),
    ]);
    one_clear_line("10 MB event cell", &out, &["column 'amount'"]);
}

#[test]
fn an_unterminated_quote_is_named_not_counted_as_cells() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = repo_root().join("examples/quickstart/fraud_xgboost.json");
    let good_row = "10,3,0.1,400,1,5,0,0,4,12,0.8,0.1";
    // The quote opened on line 3 swallows every line after it.
    let input = tmp.path().join("quote.csv");
    std::fs::write(
        &input,
        format!("{QUICKSTART_HEADER}\n{good_row}\n10,\"3,0.1,400,1,5,0,0,4,12,0.8,0.1\n{good_row}\n{good_row}\n"),
    )
    .expect("write");
    let out = edgescore(&[
        "score",
        "--model",
        path_str(&model),
        "--input",
        path_str(&input),
    ]);
    let line = one_clear_line(
        "score",
        &out,
        &["line 3", "a quoted cell is never closed (unterminated \")"],
    );
    assert!(!line.contains("cells where the header has"), "{line}");

    // The same in the offline commands' tables, even when the swallowed
    // lines leave the cell count right.
    let transform = built_transform(tmp.path());
    let events = tmp.path().join("events.csv");
    std::fs::write(
        &events,
        "ts,card,amount\n2026-01-01T00:00:00Z,c1,5\n2026-01-01T00:00:01Z,\"c1,5\n2026-01-01T00:00:02Z,c1,5\n",
    )
    .expect("write");
    let output = tmp.path().join("features.csv");
    let out = edgescore(&[
        "transform",
        "--transform",
        path_str(&transform),
        "--input",
        path_str(&events),
        "--output",
        path_str(&output),
    ]);
    one_clear_line(
        "transform",
        &out,
        &["line 3", "a quoted cell is never closed (unterminated \")"],
    );
    assert!(!output.exists());
}

#[test]
fn build_refuses_versions_a_registry_would_not_serve() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = repo_root().join("examples/quickstart/fraud_xgboost.json");
    let output = tmp.path().join("out.wasm");
    for version in ["0", "010", "1.5", "-1", "+2", "latest", "v2", "1e3"] {
        let out = edgescore(&[
            "build",
            "--model",
            path_str(&model),
            "--name",
            "fraud",
            &format!("--version={version}"),
            "--output",
            path_str(&output),
        ]);
        one_clear_line(
            version,
            &out,
            &[
                &format!("invalid --version '{version}'"),
                "positive whole number without leading zeros",
            ],
        );
        assert!(!output.exists(), "{version}: a component was written");
    }
}

#[test]
fn score_writes_parquet_for_a_parquet_output() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = repo_root().join("examples/quickstart/fraud_xgboost.json");
    let input = repo_root().join("examples/quickstart/transactions.csv");
    for (raw, name, column) in [(false, "scores.parquet", "score"), (true, "raw.pq", "raw")] {
        let mut args = vec![
            "score",
            "--model",
            path_str(&model),
            "--input",
            path_str(&input),
        ];
        if raw {
            args.push("--raw");
        }
        let expected = parse_output(column, &edgescore(&args), column);
        let output = tmp.path().join(name);
        args.extend(["--output", path_str(&output)]);
        let out = edgescore(&args);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&output).expect("written");
        assert_eq!(&bytes[..4], b"PAR1", "{name} is not Parquet");

        let reader = SerializedFileReader::new(std::fs::File::open(&output).expect("open"))
            .expect("a Parquet file");
        let schema = reader.metadata().file_metadata().schema_descr();
        assert_eq!(schema.num_columns(), 1, "{name}");
        let only = schema.column(0);
        assert_eq!(only.name(), column);
        assert_eq!(only.physical_type(), parquet::basic::Type::DOUBLE);
        assert_eq!(only.max_def_level(), 1, "{name}: nullable");

        let table = edgescore_offline::table::read(&output).expect("reads back");
        let scores: Vec<f64> = table
            .rows
            .iter()
            .map(|r| match r.cells[..] {
                [edgescore_offline::table::Cell::Number(x)] => x,
                ref other => panic!("{name}: {other:?}"),
            })
            .collect();
        check_scores(
            name,
            &scores,
            &expected,
            edgescore_test_support::Tolerance::BitExact,
        );
    }
}

#[test]
fn transform_refuses_a_header_that_names_a_column_twice() {
    use std::sync::Arc;
    let tmp = tempfile::tempdir().expect("tempdir");
    let transform = built_transform(tmp.path());
    let run = |input: &Path| {
        edgescore(&[
            "transform",
            "--transform",
            path_str(&transform),
            "--input",
            path_str(input),
            "--output",
            path_str(&tmp.path().join("features.csv")),
        ])
    };

    let csv = tmp.path().join("events.csv");
    std::fs::write(&csv, "ts,card,amount,card\n2026-01-01T00:00:00Z,c1,5,c2\n").expect("write");
    one_clear_line(
        "CSV",
        &run(&csv),
        &["column 'card' appears twice", "rename or remove one"],
    );

    // Parquet allows two columns of one name; edgescore does not.
    let parquet_path = tmp.path().join("events.parquet");
    let schema = parquet::schema::parser::parse_message_type(
        "message events { REQUIRED BYTE_ARRAY ts (UTF8); REQUIRED BYTE_ARRAY card (UTF8); \
         REQUIRED DOUBLE amount; REQUIRED BYTE_ARRAY card (UTF8); }",
    )
    .expect("schema");
    let file = std::fs::File::create(&parquet_path).expect("create");
    let mut writer = parquet::file::writer::SerializedFileWriter::new(
        file,
        Arc::new(schema),
        Arc::new(parquet::file::properties::WriterProperties::builder().build()),
    )
    .expect("writer");
    let mut group = writer.next_row_group().expect("row group");
    let text = |s: &str| parquet::data_type::ByteArray::from(s);
    for c in 0..4 {
        let mut column = group.next_column().expect("column").expect("four columns");
        if c == 2 {
            column
                .typed::<parquet::data_type::DoubleType>()
                .write_batch(&[5.0], None, None)
                .expect("write");
        } else {
            let value = ["2026-01-01T00:00:00Z", "c1", "", "c2"][c];
            column
                .typed::<parquet::data_type::ByteArrayType>()
                .write_batch(&[text(value)], None, None)
                .expect("write");
        }
        column.close().expect("close");
    }
    group.close().expect("close");
    writer.close().expect("close");
    one_clear_line(
        "Parquet",
        &run(&parquet_path),
        &["column 'card' appears twice", "rename or remove one"],
    );
}

#[test]
fn a_transform_component_is_described_and_never_called_unbuilt() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let transform = built_transform(tmp.path());
    let inspected = edgescore(&["inspect", path_str(&transform)]);
    let text = String::from_utf8_lossy(&inspected.stdout);
    assert!(
        inspected.status.success(),
        "{}",
        String::from_utf8_lossy(&inspected.stderr)
    );
    for expected in [
        "kind       transform",
        "name       tiny",
        "version    3",
        "inputs     3",
        "ts  timestamp, required",
        "amount  number",
        "outputs    1",
        "0  amount  numeric",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
    assert!(!text.contains("not built by"), "{text}");

    let json = edgescore(&["inspect", path_str(&transform), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(json["kind"], "transform");
    assert_eq!(json["transform"]["name"], "tiny");
    assert_eq!(json["transform"]["version"], "3");
    assert_eq!(json["transform"]["outputs"][0]["name"], "amount");
    let inputs = json["transform"]["inputs"].as_array().expect("inputs");
    assert!(
        inputs
            .iter()
            .any(|i| i["name"] == "ts" && i["type"] == "timestamp" && i["required"] == true),
        "{inputs:?}"
    );

    let input = repo_root().join("examples/quickstart/transactions.csv");
    let scored = edgescore(&[
        "score",
        "--component",
        path_str(&transform),
        "--input",
        path_str(&input),
    ]);
    let line = one_clear_line(
        "score --component <transform>",
        &scored,
        &[
            "this is a transform component (built by `edgescore build --transform`)",
            "use it in a pipeline, or with `edgescore transform --transform",
        ],
    );
    assert!(!line.contains("edgescore-manifest"), "{line}");

    // And the other way round: a model is not a transform.
    let model = built_model(tmp.path(), "fraud");
    let inspected = edgescore(&["inspect", path_str(&model)]);
    assert!(String::from_utf8_lossy(&inspected.stdout).contains("kind       scorer"));
    let events = tmp.path().join("events.csv");
    std::fs::write(&events, "ts,card,amount\n2026-01-01T00:00:00Z,c1,5\n").expect("write");
    let transformed = edgescore(&[
        "transform",
        "--transform",
        path_str(&model),
        "--input",
        path_str(&events),
        "--output",
        path_str(&tmp.path().join("features.csv")),
    ]);
    one_clear_line(
        "transform --transform <model>",
        &transformed,
        &["this is a model component", "edgescore score --component"],
    );
}

#[test]
fn score_keeps_the_compiled_cache_within_its_bound() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("cache");
    let input = repo_root().join("examples/quickstart/transactions.csv");
    let entries = || {
        std::fs::read_dir(&cache)
            .expect("cache folder")
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            .count()
    };
    for name in ["first", "second"] {
        let component = built_model(tmp.path(), name);
        let out = edgescore(&[
            "score",
            "--component",
            path_str(&component),
            "--input",
            path_str(&input),
            "--cache-dir",
            path_str(&cache),
            "--cache-max-mib",
            "0",
        ]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Only the entry just stored survives a bound of nothing.
        assert_eq!(entries(), 1, "{name}");
    }
}

/// `--output` naming the input, however spelled, is refused before anything
/// is read or written (`atomic_file::refuse_input_as_output`).
#[test]
fn an_output_that_is_the_input_is_refused_and_the_input_kept() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = repo_root().join("examples/quickstart/fraud_xgboost.json");
    let original =
        std::fs::read(repo_root().join("examples/quickstart/transactions.csv")).expect("input");
    let input = tmp.path().join("x.csv");
    std::fs::write(&input, &original).expect("copy");
    let dotted = tmp.path().join(".").join("x.csv");
    for output in [&input, &dotted] {
        let out = edgescore(&[
            "score",
            "--model",
            path_str(&model),
            "--input",
            path_str(&input),
            "--output",
            path_str(output),
        ]);
        one_clear_line(
            &format!("--output {}", output.display()),
            &out,
            &["is the input", "name another output file"],
        );
        assert_eq!(
            std::fs::read(&input).expect("still there"),
            original,
            "--output {} changed the input",
            output.display()
        );
    }
}
