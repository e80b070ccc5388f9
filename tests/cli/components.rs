//! Component files given to the CLI: malformed ones refused with the
//! reason by `score`, `inspect` and `build`; transform components
//! described by `inspect` and told apart from models by `score` and
//! `transform`; the transform's input tables checked as the model's are.

use std::path::Path;

use crate::{
    built_model, built_transform, edgescore, one_clear_line, path_str, quickstart_input,
    quickstart_model, score_file,
};

#[test]
fn bad_component_files_are_refused_with_a_reason() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = tmp.path().join("good.wasm");
    let model = quickstart_model();
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
    let input = quickstart_input();
    for (name, bytes, expect) in cases {
        let path = tmp.path().join(format!("{}.wasm", name.replace(' ', "_")));
        std::fs::write(&path, bytes).expect("write");
        let scored = score_file("--component", &path, &input);
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
fn transform_refuses_a_header_that_names_a_column_twice() {
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
    let mut writer = crate::parquet_writer(
        &parquet_path,
        "message events { REQUIRED BYTE_ARRAY ts (UTF8); REQUIRED BYTE_ARRAY card (UTF8); \
         REQUIRED DOUBLE amount; REQUIRED BYTE_ARRAY card (UTF8); }",
    );
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

    let input = quickstart_input();
    let scored = score_file("--component", &transform, &input);
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
