//! `edgescore stream` as a subprocess, and the table it writes read back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

use crate::broker::Broker;

/// A running `edgescore stream`; killed (SIGKILL) when dropped.
pub(crate) struct Stream {
    child: Option<Child>,
}

impl Stream {
    /// Starts `edgescore stream` with `args`, its output appended to `log`.
    pub(crate) fn start(args: &[String], log: &Path) -> Self {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_edgescore"))
            .arg("stream")
            .args(args)
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .expect("edgescore stream starts");
        Self { child: Some(child) }
    }

    /// kill -9.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and waits for a clean exit.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Some(status) = child.try_wait().expect("wait") {
                    assert!(status.success(), "edgescore stream exited with {status}");
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "edgescore stream did not stop on SIGTERM"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Whether it is still running.
    pub(crate) fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How many messages of `topic` `group` has committed, out of how many.
pub(crate) fn progress(broker: &Broker, group: &str, topic: &str) -> (i64, i64) {
    let ends = broker.end_offsets(topic);
    let committed = broker.committed(group, topic);
    (committed.values().sum(), ends.values().sum())
}

/// Waits until `group` has committed every message of `topic`; the
/// streams must stay up meanwhile.
pub(crate) fn wait_until_done(
    broker: &Broker,
    group: &str,
    topic: &str,
    streams: &mut [&mut Stream],
    log: &Path,
) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (done, total) = progress(broker, group, topic);
        if done >= total {
            return;
        }
        for s in streams.iter_mut() {
            assert!(
                s.running(),
                "edgescore stream stopped at {done} of {total}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "group {group} committed {done} of {total} in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
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
pub(crate) fn read_table(table: &Path) -> Vec<TableRow> {
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
                        if edgescore_stream::table::FIXED.contains(&name)
                            || edgescore_stream::table::TRAILING.contains(&name) => {}
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
