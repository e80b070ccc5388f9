//! Bad models and bad inputs: each gives one clear line on stderr and exit
//! status 1, never a panic and never a partial output file.

use std::path::PathBuf;

use crate::{
    QUICKSTART_HEADER, built_transform, edgescore, one_clear_line, path_str, quickstart_input,
    quickstart_model, score_file,
};
use edgescore_models::Model;

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
    let quickstart_model = quickstart_model();
    let quickstart_input = quickstart_input();
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
    let out = score_file("--model", &model, &input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("row 17000,"), "{stderr}");
}

#[test]
fn truncated_compact_model_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let json = std::fs::read(quickstart_model()).expect("model");
    let compact = Model::from_bytes(&json, None)
        .expect("loads")
        .to_compact_bytes();
    let path = tmp.path().join("truncated.esm");
    std::fs::write(&path, &compact[..compact.len() / 2]).expect("write");
    let input = quickstart_input();
    let out = score_file("--model", &path, &input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("edgescore compact") && stderr.contains("truncated"),
        "{stderr}"
    );
}

#[test]
fn invalid_arguments_are_usage_errors() {
    let out = edgescore(&[
        "score", "--model", "m.json", "--input", "i.csv", "--format", "pmml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown model format 'pmml'"));
    let out = edgescore(&["score"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_huge_bad_cell_or_column_name_is_cut_short_in_the_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = quickstart_model();
    let huge = "x".repeat(10_000_000);
    let good_row = "10,3,0.1,400,1,5,0,0,4,12,0.8,0.1";

    let bad_cell = tmp.path().join("bad_cell.csv");
    std::fs::write(
        &bad_cell,
        format!("{QUICKSTART_HEADER}\n{good_row}\n10,{huge},0.1,400,1,5,0,0,4,12,0.8,0.1\n"),
    )
    .expect("write");
    let out = score_file("--model", &model, &bad_cell);
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
    let out = score_file("--model", &model, &bad_header);
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
    let out = score_file("--model", &model, &duplicate);
    one_clear_line(
        "10 MB duplicate column name",
        &out,
        &["appears twice", "10000000 characters"],
    );
}

#[test]
fn an_unterminated_quote_is_named_not_counted_as_cells() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = quickstart_model();
    let good_row = "10,3,0.1,400,1,5,0,0,4,12,0.8,0.1";
    // The quote opened on line 3 swallows every line after it.
    let input = tmp.path().join("quote.csv");
    std::fs::write(
        &input,
        format!("{QUICKSTART_HEADER}\n{good_row}\n10,\"3,0.1,400,1,5,0,0,4,12,0.8,0.1\n{good_row}\n{good_row}\n"),
    )
    .expect("write");
    let out = score_file("--model", &model, &input);
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
    let model = quickstart_model();
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
fn a_component_over_the_memory_cap_says_which_flag_allows_more() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model =
        edgescore_test_support::repo_root().join("models/test_cases/onnx_random_forest/model.onnx");
    let output = tmp.path().join("rf.wasm");
    let build = |memory_mib: &str| {
        edgescore(&[
            "build",
            "--model",
            path_str(&model),
            "--name",
            "rf",
            "--version",
            "1",
            "--output",
            path_str(&output),
            "--memory-mib",
            memory_mib,
        ])
    };
    one_clear_line(
        "build under 1 MiB",
        &build("1"),
        &["over the 1 MiB cap", "--memory-mib"],
    );
    assert!(!output.exists(), "a component was written");
    assert!(build("64").status.success(), "build under 64 MiB");
    let input = edgescore_test_support::repo_root()
        .join("models/test_cases/onnx_random_forest/random.input.csv");
    let out = edgescore(&[
        "score",
        "--component",
        path_str(&output),
        "--input",
        path_str(&input),
        "--memory-mib",
        "1",
    ]);
    one_clear_line(
        "score under 1 MiB",
        &out,
        &["over the 1 MiB cap", "--memory-mib"],
    );
}

#[test]
fn raw_margins_of_an_onnx_model_are_refused_not_mislabelled() {
    let model =
        edgescore_test_support::repo_root().join("models/test_cases/onnx_random_forest/model.onnx");
    let input = edgescore_test_support::repo_root()
        .join("models/test_cases/onnx_random_forest/random.input.csv");
    let out = edgescore(&[
        "score",
        "--model",
        path_str(&model),
        "--input",
        path_str(&input),
        "--raw",
    ]);
    one_clear_line(
        "--raw on ONNX",
        &out,
        &["--raw", "ONNX", "no separate margin"],
    );
}

/// `edgescore stream` refuses what cannot work before it reaches a broker,
/// each with what to give instead.
#[test]
fn stream_refuses_missing_and_impossible_settings_with_what_to_give() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("missing.toml").display().to_string();
    let base = [
        "--brokers",
        "127.0.0.1:1",
        "--topic",
        "t",
        "--group",
        "g",
        "--pipeline",
    ];
    // Each case: what follows the base flags (or replaces them), and what
    // the error says.
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![], "give --brokers, --topic, --group, --pipeline"),
        (
            [&base[..], &["/no/such/folder"]].concat(),
            "is not a folder: give a pipeline folder",
        ),
        (
            [&base[..], &["p", "--table-format", "delta"]].concat(),
            "give --table DIR too",
        ),
        (
            [&base[..], &["p", "--alerts-topic", "t"]].concat(),
            "must differ from the input topic",
        ),
        (
            [
                &base[..],
                &["p", "--alert-webhook", "http://127.0.0.1:9/hook"],
            ]
            .concat(),
            "needs the alert log as its outbox",
        ),
        (
            [&base[..], &["p", "--kafka", "novalue"]].concat(),
            "is not KEY=VALUE",
        ),
        (vec!["--config", &config], "missing.toml"),
    ];
    for (args, says) in cases {
        let mut all = vec!["stream"];
        all.extend(&args);
        let out = edgescore(&all);
        assert!(!out.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
