//! Parquet files written by pandas and pyarrow give what the CSV gives.

use std::path::Path;
use std::process::Command;

use edgescore_test_support::repo_root;

use crate::{edgescore, path, read_csv};

/// The Parquet fixtures (`tests/data/parquet/generate.py`: pandas' defaults
/// and pyarrow with millisecond, microsecond, nanosecond and integer
/// timestamps, decimal amounts, boolean and integer labels, dictionary
/// strings; Snappy, Zstandard, gzip, LZ4) hold the events of `events.csv`.
/// Each gives the CSV's features to the bit and the CSV's metrics; features
/// written as Parquet read back as the same `f64`s and score as the CSV's
/// do; a nested column is refused by name.
#[test]
fn parquet_files_give_what_the_csv_gives() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = repo_root().join("tests/data/parquet");
    let pipeline = repo_root().join("examples/fraud");
    let transform = |input: &Path, output: &Path| {
        edgescore(&[
            "transform",
            "--pipeline",
            path(&pipeline),
            "--input",
            path(input),
            "--output",
            path(output),
        ]);
    };
    let eval = |input: &Path| {
        edgescore(&[
            "eval",
            "--pipeline",
            path(&pipeline),
            "--input",
            path(input),
            "--label",
            "is_fraud",
            "--plots",
            path(&tmp.path().join("plots")),
        ])
    };
    let reference = tmp.path().join("reference.csv");
    transform(&data.join("events.csv"), &reference);
    let (header, expected) = read_csv(&reference);
    let first_feature = header.iter().position(|h| h == "amount").expect("amount");
    let reference_report = eval(&data.join("events.csv"));
    assert!(reference_report.contains("PR-AUC"), "{reference_report}");

    for name in [
        "events_pandas",
        "events_typed",
        "events_micros",
        "events_int_ms",
    ] {
        let input = data.join(format!("{name}.parquet"));
        let output = tmp.path().join(format!("{name}.csv"));
        transform(&input, &output);
        let (got_header, got) = read_csv(&output);
        assert_eq!(got_header, header, "{name}");
        assert_eq!(got.len(), expected.len(), "{name}");
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g[0], e[0], "{name}: row {i}'s transaction id");
            assert_eq!(
                g[first_feature..],
                e[first_feature..],
                "{name}: row {i}'s features"
            );
        }
        assert_eq!(eval(&input), reference_report, "{name}: eval");
    }

    // Features written as Parquet: the same f64s, missing ones null, the
    // other columns typed (the CSV's 0/1 label becomes an integer column).
    let output = tmp.path().join("features.parquet");
    transform(&data.join("events.csv"), &output);
    let rows = read_parquet(&output);
    assert_eq!(rows.len(), expected.len());
    for (i, (row, e)) in rows.iter().zip(&expected).enumerate() {
        let names: Vec<&str> = row.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, header, "row {i}'s columns");
        assert!(
            matches!(&row[1].1, parquet::record::Field::Long(l) if l.to_string() == e[1]),
            "row {i}'s label: {:?} vs {}",
            row[1].1,
            e[1]
        );
        for ((name, field), cell) in row[first_feature..].iter().zip(&e[first_feature..]) {
            let same = match field {
                parquet::record::Field::Double(v) => {
                    !cell.is_empty() && v.to_bits() == cell.parse::<f64>().expect("f64").to_bits()
                }
                parquet::record::Field::Null => cell.is_empty(),
                _ => false,
            };
            assert!(same, "row {i}, feature {name}: {field:?} vs {cell:?}");
        }
    }

    // `edgescore score` reads the Parquet features as it reads the CSV's.
    let model = pipeline.join("model/xgboost.json");
    let score = |input: &Path, output: &Path| {
        edgescore(&[
            "score",
            "--model",
            path(&model),
            "--input",
            path(input),
            "--output",
            path(output),
            "--ignore-extra-columns",
        ]);
        std::fs::read_to_string(output).expect("scores")
    };
    let from_parquet = score(&output, &tmp.path().join("scores_parquet.csv"));
    let from_csv = score(&reference, &tmp.path().join("scores_csv.csv"));
    assert_eq!(from_parquet.lines().count(), expected.len() + 1);
    assert_eq!(
        from_parquet, from_csv,
        "scores from Parquet and CSV features"
    );

    let refused = Command::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(["transform", "--pipeline", path(&pipeline), "--input"])
        .arg(data.join("nested.parquet"))
        .arg("--output")
        .arg(tmp.path().join("nested.csv"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("column 'amounts' is nested") && stderr.contains("flat"),
        "{stderr}"
    );
    assert!(!tmp.path().join("nested.csv").exists());
}

/// Every row of a Parquet file as (column, value) pairs.
fn read_parquet(file: &Path) -> Vec<Vec<(String, parquet::record::Field)>> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(file).expect("open"))
        .expect("a Parquet file");
    reader
        .get_row_iter(None)
        .expect("rows")
        .map(|row| row.expect("row").into_columns())
        .collect()
}
