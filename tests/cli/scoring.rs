//! `edgescore score` as a user runs it: a large model within the call
//! deadline, columns matched by name, output written whole or not at all
//! (CSV or Parquet), input from standard input, the compiled cache bound.

use std::path::PathBuf;
use std::process::Command;

use edgescore_test_support::{Output as Compared, Tolerance, case, check_scores, repo_root};

use crate::{
    built_model, edgescore, one_clear_line, parse_output, path_str, quickstart_input,
    quickstart_model, score_file,
};

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
    let native = score_file("--model", &model, &input);
    let native = parse_output("native", &native, "score");
    assert_eq!(native.len(), 100_000);
    let sandboxed = score_file("--component", &component, &input);
    let sandboxed = parse_output("component, default deadline", &sandboxed, "score");
    check_scores(
        "100,000 rows, 300-tree LightGBM component",
        &sandboxed,
        &native,
        Tolerance::BitExact,
    );
}

#[test]
fn columns_are_matched_by_name_in_any_order_and_extra_columns_can_be_skipped() {
    let case = case("xgboost_binary_deep_nan");
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
    let model = quickstart_model();
    let good = quickstart_input();
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

#[test]
fn input_can_come_from_standard_input() {
    use std::io::Write as _;
    let model = quickstart_model();
    let input = quickstart_input();
    let from_file = score_file("--model", &model, &input);
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
fn score_writes_parquet_for_a_parquet_output() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = quickstart_model();
    let input = quickstart_input();
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
        check_scores(name, &scores, &expected, Tolerance::BitExact);
    }
}

#[test]
fn score_keeps_the_compiled_cache_within_its_bound() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("cache");
    let input = quickstart_input();
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
    let model = quickstart_model();
    let original = std::fs::read(quickstart_input()).expect("input");
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

/// The quickstart transactions repeated to `rows` rows, with a missing
/// amount every 7th row: a CSV and its Parquet twin (nullable DOUBLE
/// columns, several row groups); `bad_row` (one-based), if given, holds the
/// text "lots" in its amount (the amount column is then text).
fn csv_and_parquet_twins(
    dir: &std::path::Path,
    rows: usize,
    bad_row: Option<usize>,
) -> (PathBuf, PathBuf) {
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType};
    let text = std::fs::read_to_string(quickstart_input()).expect("input");
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_owned)
        .collect();
    let body: Vec<Vec<Option<f64>>> = lines
        .map(|l| {
            l.split(',')
                .map(|c| (!c.is_empty()).then(|| c.parse().expect("a number")))
                .collect()
        })
        .collect();
    let table: Vec<Vec<Option<f64>>> = (0..rows)
        .map(|r| {
            let mut row = body[r % body.len()].clone();
            if r % 7 == 3 {
                row[0] = None;
            }
            row
        })
        .collect();
    let csv = dir.join("rows.csv");
    let mut out = header.join(",") + "\n";
    for (r, row) in table.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, v)| match (c, bad_row == Some(r + 1), v) {
                (0, true, _) => "lots".to_owned(),
                (_, _, Some(v)) => format!("{v:?}"),
                (_, _, None) => String::new(),
            })
            .collect();
        out += &(cells.join(",") + "\n");
    }
    std::fs::write(&csv, out).expect("write csv");

    let amount_type = if bad_row.is_some() {
        "BYTE_ARRAY amount (UTF8)"
    } else {
        "DOUBLE amount"
    };
    let fields: Vec<String> = header
        .iter()
        .map(|h| {
            if h == "amount" {
                format!("OPTIONAL {amount_type};")
            } else {
                format!("OPTIONAL DOUBLE {h};")
            }
        })
        .collect();
    let parquet_path = dir.join("rows.parquet");
    let mut writer = crate::parquet_writer(
        &parquet_path,
        &format!("message rows {{ {} }}", fields.join(" ")),
    );
    for group_rows in table
        .chunks(3000)
        .enumerate()
        .map(|(g, rows)| (g * 3000, rows))
    {
        let (first, rows) = group_rows;
        let mut group = writer.next_row_group().expect("row group");
        for c in 0..header.len() {
            let mut column = group.next_column().expect("column").expect("a column");
            let levels: Vec<i16> = rows.iter().map(|r| i16::from(r[c].is_some())).collect();
            if c == 0 && bad_row.is_some() {
                let values: Vec<ByteArray> = rows
                    .iter()
                    .enumerate()
                    .filter_map(|(i, r)| match (bad_row == Some(first + i + 1), r[0]) {
                        (true, _) => Some(ByteArray::from("lots")),
                        (false, Some(v)) => Some(ByteArray::from(format!("{v:?}").as_str())),
                        (false, None) => None,
                    })
                    .collect();
                column
                    .typed::<ByteArrayType>()
                    .write_batch(&values, Some(&levels), None)
                    .expect("write");
            } else {
                let values: Vec<f64> = rows.iter().filter_map(|r| r[c]).collect();
                column
                    .typed::<DoubleType>()
                    .write_batch(&values, Some(&levels), None)
                    .expect("write");
            }
            column.close().expect("close");
        }
        group.close().expect("close");
    }
    writer.close().expect("close");
    (csv, parquet_path)
}

/// A Parquet input is streamed, a few thousand rows at a time, and scores
/// exactly as its CSV twin; a bad cell deep in it names its row.
#[test]
fn a_parquet_input_streams_and_scores_as_its_csv_twin() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = quickstart_model();
    let (csv, parquet_path) = csv_and_parquet_twins(tmp.path(), 10_001, None);
    let from_csv = score_file("--model", &model, &csv);
    let from_parquet = score_file("--model", &model, &parquet_path);
    assert!(
        from_csv.status.success(),
        "{}",
        String::from_utf8_lossy(&from_csv.stderr)
    );
    assert!(
        from_parquet.status.success(),
        "{}",
        String::from_utf8_lossy(&from_parquet.stderr)
    );
    assert_eq!(
        from_csv.stdout.iter().filter(|&&b| b == b'\n').count(),
        10_002
    );
    assert!(
        from_csv.stdout == from_parquet.stdout,
        "Parquet scores differ from the CSV's"
    );

    let bad = tmp.path().join("bad");
    std::fs::create_dir(&bad).expect("dir");
    let (_, parquet_path) = csv_and_parquet_twins(&bad, 10_001, Some(9_000));
    let out = score_file("--model", &model, &parquet_path);
    one_clear_line("a bad Parquet cell", &out, &["row 9000", "amount", "lots"]);
}

/// A Parquet cell that cannot be read as a cell at all (a time of day)
/// stops the stream with the typed error: its row, its column, what to do.
#[test]
fn an_unreadable_parquet_cell_is_named_with_its_row_and_column() {
    use parquet::data_type::{DoubleType, Int32Type};
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("times.parquet");
    let names: Vec<&str> = crate::QUICKSTART_HEADER.split(',').collect();
    let fields: Vec<String> = names
        .iter()
        .map(|n| format!("REQUIRED DOUBLE {n};"))
        .collect();
    let mut writer = crate::parquet_writer(
        &path,
        &format!(
            "message rows {{ {} REQUIRED INT32 at (TIME_MILLIS); }}",
            fields.join(" ")
        ),
    );
    let mut group = writer.next_row_group().expect("row group");
    for _ in &names {
        let mut column = group.next_column().expect("column").expect("a column");
        column
            .typed::<DoubleType>()
            .write_batch(&[1.0, 2.0], None, None)
            .expect("write");
        column.close().expect("close");
    }
    let mut column = group.next_column().expect("column").expect("a column");
    column
        .typed::<Int32Type>()
        .write_batch(&[1000, 2000], None, None)
        .expect("write");
    column.close().expect("close");
    group.close().expect("close");
    writer.close().expect("close");
    let out = edgescore(&[
        "score",
        "--model",
        path_str(&quickstart_model()),
        "--input",
        path_str(&path),
        "--ignore-extra-columns",
    ]);
    one_clear_line("a time column", &out, &["row 1", "'at'", "time of day"]);
}
