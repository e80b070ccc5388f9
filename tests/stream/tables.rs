//! The table a stream wrote, read back: Parquet with the `parquet` crate,
//! Delta Lake with the Python `deltalake` package (not our code), as an
//! analyst reads it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

/// The `--table-format` of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Parquet,
    Delta,
}

impl Format {
    /// Delta where a Python with `deltalake` is given
    /// (`EDGESCORE_DELTALAKE_PYTHON`); Parquet otherwise, unless
    /// `EDGESCORE_REQUIRE_KAFKA` is set (CI), which makes it required.
    pub(crate) fn delta_if_readable() -> Self {
        if deltalake_python().is_some() {
            return Self::Delta;
        }
        assert!(
            std::env::var_os("EDGESCORE_REQUIRE_KAFKA").is_none(),
            "EDGESCORE_REQUIRE_KAFKA is set but EDGESCORE_DELTALAKE_PYTHON is not: \
             give a Python with tests/stream/requirements.txt installed"
        );
        eprintln!(
            "skipping the Delta Lake table: set EDGESCORE_DELTALAKE_PYTHON to a Python \
             with tests/stream/requirements.txt to check it; writing Parquet instead"
        );
        Self::Parquet
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Delta => "delta",
        }
    }

    /// Every row of the table under `table`, of input topic `topic` with
    /// `partitions` partitions.
    pub(crate) fn read(self, table: &Path, topic: &str, partitions: i32) -> Vec<TableRow> {
        match self {
            Self::Parquet => read_parquet(table),
            Self::Delta => read_delta(table, topic, partitions),
        }
    }
}

fn deltalake_python() -> Option<PathBuf> {
    std::env::var_os("EDGESCORE_DELTALAKE_PYTHON").map(PathBuf::from)
}

/// The rows of a Delta table as the Python `deltalake` package reads them
/// (`read_delta.py`); checks that each input partition's application
/// transaction is the last offset of the partition in the table.
fn read_delta(table: &Path, topic: &str, partitions: i32) -> Vec<TableRow> {
    let python = deltalake_python().expect("EDGESCORE_DELTALAKE_PYTHON");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/stream/read_delta.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(table)
        .arg(topic)
        .arg(partitions.to_string())
        .output()
        .expect("runs read_delta.py");
    assert!(
        out.status.success(),
        "read_delta.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let mut lines = text.lines();
    let head: serde_json::Value =
        serde_json::from_str(lines.next().expect("the head line")).expect("JSON");
    let mut rows = Vec::new();
    for line in lines {
        let row: serde_json::Value = serde_json::from_str(line).expect("a JSON row");
        let text = |k: &str| row[k].as_str().expect("text").to_owned();
        rows.push(TableRow {
            transaction_id: text("transaction_id"),
            partition: i32::try_from(row["partition"].as_i64().expect("partition"))
                .expect("partition"),
            offset: row["offset"].as_i64().expect("offset"),
            version: text("version"),
            score: row["score"].as_f64().expect("score"),
            decision: text("decision"),
            features: row["features"]
                .as_object()
                .expect("features")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_f64()))
                .collect(),
        });
        let date = text("date");
        let folder = table.join(format!("date={date}"));
        assert!(folder.is_dir(), "no partition folder {}", folder.display());
    }
    for p in 0..partitions {
        let last = rows
            .iter()
            .filter(|r| r.partition == p)
            .map(|r| r.offset)
            .max();
        let app_id = format!("edgescore-stream:{topic}:{p}");
        assert_eq!(
            head["transactions"][&app_id].as_i64(),
            last,
            "the Delta transaction {app_id} is the partition's last offset in the table"
        );
    }
    rows
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TableRow {
    pub(crate) transaction_id: String,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) version: String,
    pub(crate) score: f64,
    pub(crate) decision: String,
    /// Feature values by column, `None` for missing.
    pub(crate) features: BTreeMap<String, Option<f64>>,
}

/// Every row of every Parquet file under `table`.
fn read_parquet(table: &Path) -> Vec<TableRow> {
    let mut files: Vec<PathBuf> = Vec::new();
    for date in std::fs::read_dir(table).expect("table folder") {
        let date = date.expect("entry").path();
        for file in std::fs::read_dir(&date).expect("date folder") {
            let file = file.expect("entry").path();
            if file.extension().is_some_and(|e| e == "parquet") {
                files.push(file);
            }
        }
    }
    let mut rows = Vec::new();
    for file in files {
        let reader = SerializedFileReader::new(std::fs::File::open(&file).expect("open"))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for row in reader.get_row_iter(None).expect("rows") {
            let row = row.expect("row");
            let mut r = TableRow {
                transaction_id: String::new(),
                partition: -1,
                offset: -1,
                version: String::new(),
                score: f64::NAN,
                decision: String::new(),
                features: BTreeMap::new(),
            };
            for (name, field) in row.get_column_iter() {
                match (name.as_str(), field) {
                    ("transaction_id", Field::Str(s)) => r.transaction_id = s.clone(),
                    ("partition", Field::Int(p)) => r.partition = *p,
                    ("offset", Field::Long(o)) => r.offset = *o,
                    ("version", Field::Str(s)) => r.version = s.clone(),
                    ("score", Field::Double(s)) => r.score = *s,
                    ("decision", Field::Str(s)) => r.decision = s.clone(),
                    (name, _)
                        if edgescore_stream::parquet_table::FIXED.contains(&name)
                            || edgescore_stream::parquet_table::TRAILING.contains(&name) => {}
                    (name, Field::Double(v)) => {
                        r.features.insert(name.to_owned(), Some(*v));
                    }
                    (name, Field::Null) => {
                        r.features.insert(name.to_owned(), None);
                    }
                    (name, other) => panic!("column {name} holds {other:?}"),
                }
            }
            rows.push(r);
        }
    }
    rows
}
