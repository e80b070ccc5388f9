//! The table of every scored transaction: Parquet files in Hive-style date
//! folders (`<table>/date=YYYY-MM-DD/`), one file per batch of one input
//! partition and date, named by the batch's offsets:
//! `<topic>-p<partition>-<first offset>-<last offset>.parquet`.
//!
//! A file is written beside its name and renamed (synced), so it is there
//! whole or not at all. The names are the sink's memory: when a partition
//! is assigned, the highest last offset among its files is its watermark,
//! and a replay after a crash writes only rows past it, so no transaction
//! is written twice.
//!
//! Columns: `transaction_id`, `event_time` (timestamp, UTC), `topic`,
//! `partition`, `offset`, `pipeline`, `version`, `score`, `decision`,
//! `reasons` (JSON), one nullable `double` per feature (named as the
//! feature; `feature_<name>` where that name is a column above),
//! `transaction` (the fields, JSON) and `scored_at`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as PhysicalType};
use parquet::data_type::{ByteArray, ByteArrayType, DataType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use parquet::schema::types::Type;

use edgescore_models::transform::format_rfc3339_ms;
use edgescore_runtime::atomic_file::AtomicFile;

use crate::scored::{Scored, ScoredBy};

/// The columns before the features.
pub const FIXED: [&str; 10] = [
    "transaction_id",
    "event_time",
    "topic",
    "partition",
    "offset",
    "pipeline",
    "version",
    "score",
    "decision",
    "reasons",
];

/// The columns after the features.
pub const TRAILING: [&str; 2] = ["transaction", "scored_at"];

/// Why the table could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct TableError {
    pub path: PathBuf,
    pub reason: String,
}

/// A date-partitioned Parquet table of one input topic.
#[derive(Debug)]
pub struct ParquetTable {
    root: PathBuf,
    topic: String,
    /// Per partition, the last offset the table holds.
    watermarks: HashMap<i32, i64>,
}

impl ParquetTable {
    /// The table in folder `root` (created if missing).
    pub fn open(root: &Path, topic: &str) -> Result<Self, TableError> {
        std::fs::create_dir_all(root).map_err(|e| TableError {
            path: root.to_owned(),
            reason: format!("cannot create the folder: {e}"),
        })?;
        Ok(Self {
            root: root.to_owned(),
            topic: topic.to_owned(),
            watermarks: HashMap::new(),
        })
    }

    /// Reads `partition`'s watermark from the file names (the partition
    /// was just assigned: another process may have written since).
    pub fn recover(&mut self, partition: i32) -> Result<Option<i64>, TableError> {
        let prefix = format!("{}-p{partition}-", self.topic);
        let mut last = None;
        for date in read_dir(&self.root)? {
            if !date.file_name().to_string_lossy().starts_with("date=") {
                continue;
            }
            for file in read_dir(&date.path())? {
                let name = file.file_name();
                let name = name.to_string_lossy();
                if let Some(rest) = name.strip_prefix(&prefix)
                    && let Some((_, end)) = offsets_of(rest)
                {
                    last = last.max(Some(end));
                }
            }
        }
        match last {
            Some(end) => self.watermarks.insert(partition, end),
            None => self.watermarks.remove(&partition),
        };
        Ok(last)
    }

    /// Writes the rows of `batch` (one partition's, in offset order) past
    /// the partition's watermark, one file per date; returns how many.
    pub fn write(
        &mut self,
        partition: i32,
        by: &ScoredBy,
        batch: &[Scored],
    ) -> Result<usize, TableError> {
        let watermark = self.watermarks.get(&partition).copied();
        let fresh: Vec<&Scored> = batch
            .iter()
            .filter(|s| watermark.is_none_or(|w| s.offset() > w))
            .collect();
        let (Some(first), Some(last)) = (fresh.first(), fresh.last()) else {
            return Ok(0);
        };
        let scored_at = edgescore_runtime::feature_store::now_ms();
        let mut by_date: std::collections::BTreeMap<String, Vec<&Scored>> = Default::default();
        for s in &fresh {
            let date = format_rfc3339_ms(s.event_time_ms.unwrap_or(scored_at))[..10].to_owned();
            by_date.entry(date).or_default().push(s);
        }
        for (date, rows) in by_date {
            let folder = self.root.join(format!("date={date}"));
            std::fs::create_dir_all(&folder).map_err(|e| TableError {
                path: folder.clone(),
                reason: format!("cannot create the folder: {e}"),
            })?;
            let path = folder.join(format!(
                "{}-p{partition}-{:020}-{:020}.parquet",
                self.topic,
                first.offset(),
                last.offset()
            ));
            write_file(&path, by, &rows, scored_at).map_err(|reason| TableError {
                path: path.clone(),
                reason,
            })?;
        }
        self.watermarks.insert(partition, last.offset());
        Ok(fresh.len())
    }
}

fn read_dir(path: &Path) -> Result<Vec<std::fs::DirEntry>, TableError> {
    std::fs::read_dir(path)
        .and_then(|entries| entries.collect())
        .map_err(|e| TableError {
            path: path.to_owned(),
            reason: format!("cannot list the folder: {e}"),
        })
}

/// The offsets in a file name's `<first>-<last>.parquet`.
fn offsets_of(rest: &str) -> Option<(i64, i64)> {
    let (first, last) = rest.strip_suffix(".parquet")?.split_once('-')?;
    let digits = |s: &str| s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit());
    (digits(first) && digits(last)).then(|| Some((first.parse().ok()?, last.parse().ok()?)))?
}

/// The column name of each feature: its own, or `feature_<name>` where
/// that is a fixed column's.
pub fn feature_columns(features: &[String]) -> Vec<String> {
    features
        .iter()
        .map(|f| {
            if FIXED.contains(&f.as_str()) || TRAILING.contains(&f.as_str()) {
                format!("feature_{f}")
            } else {
                f.clone()
            }
        })
        .collect()
}

fn column(
    name: &str,
    physical: PhysicalType,
    logical: Option<LogicalType>,
    optional: bool,
) -> parquet::errors::Result<Arc<Type>> {
    let repetition = if optional {
        Repetition::OPTIONAL
    } else {
        Repetition::REQUIRED
    };
    Ok(Arc::new(
        Type::primitive_type_builder(name, physical)
            .with_repetition(repetition)
            .with_logical_type(logical)
            .build()?,
    ))
}

fn write_file(path: &Path, by: &ScoredBy, rows: &[&Scored], scored_at: i64) -> Result<(), String> {
    let text = || Some(LogicalType::String);
    let millis = || Some(LogicalType::timestamp(true, TimeUnit::MILLIS));
    let e = |e: parquet::errors::ParquetError| e.to_string();
    let mut fields = vec![
        column("transaction_id", PhysicalType::BYTE_ARRAY, text(), false).map_err(e)?,
        column("event_time", PhysicalType::INT64, millis(), true).map_err(e)?,
        column("topic", PhysicalType::BYTE_ARRAY, text(), false).map_err(e)?,
        column("partition", PhysicalType::INT32, None, false).map_err(e)?,
        column("offset", PhysicalType::INT64, None, false).map_err(e)?,
        column("pipeline", PhysicalType::BYTE_ARRAY, text(), false).map_err(e)?,
        column("version", PhysicalType::BYTE_ARRAY, text(), false).map_err(e)?,
        column("score", PhysicalType::DOUBLE, None, false).map_err(e)?,
        column("decision", PhysicalType::BYTE_ARRAY, text(), false).map_err(e)?,
        column("reasons", PhysicalType::BYTE_ARRAY, text(), false).map_err(e)?,
    ];
    for name in feature_columns(&by.features) {
        fields.push(column(&name, PhysicalType::DOUBLE, None, true).map_err(e)?);
    }
    fields.push(column("transaction", PhysicalType::BYTE_ARRAY, text(), false).map_err(e)?);
    fields.push(column("scored_at", PhysicalType::INT64, millis(), false).map_err(e)?);
    let schema = Type::group_type_builder("scored")
        .with_fields(fields)
        .build()
        .map_err(e)?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("edgescore {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut out = AtomicFile::create(path).map_err(|e| e.to_string())?;
    {
        let sink: &mut (dyn Write + Send) = out.writer();
        let mut writer =
            SerializedFileWriter::new(sink, Arc::new(schema), Arc::new(properties)).map_err(e)?;
        let mut group = writer.next_row_group().map_err(e)?;
        write_columns(&mut group, by, rows, scored_at).map_err(e)?;
        group.close().map_err(e)?;
        writer.close().map_err(e)?;
    }
    out.writer().flush().map_err(|e| e.to_string())?;
    out.commit().map_err(|e| e.to_string())
}

fn write_columns<W: Write + Send>(
    group: &mut SerializedRowGroupWriter<'_, W>,
    by: &ScoredBy,
    rows: &[&Scored],
    scored_at: i64,
) -> parquet::errors::Result<()> {
    let texts = |f: &dyn Fn(&Scored) -> String| -> Vec<ByteArray> {
        rows.iter()
            .map(|s| ByteArray::from(f(s).into_bytes()))
            .collect()
    };
    write::<ByteArrayType>(group, &texts(&|s| s.transaction.id.clone()), None)?;
    let times: Vec<i64> = rows.iter().filter_map(|s| s.event_time_ms).collect();
    let time_levels: Vec<i16> = rows
        .iter()
        .map(|s| i16::from(s.event_time_ms.is_some()))
        .collect();
    write::<Int64Type>(group, &times, Some(&time_levels))?;
    write::<ByteArrayType>(group, &texts(&|_| by.topic.clone()), None)?;
    let partitions: Vec<i32> = rows
        .iter()
        .map(|s| s.transaction.position.partition)
        .collect();
    write::<Int32Type>(group, &partitions, None)?;
    let offsets: Vec<i64> = rows.iter().map(|s| s.offset()).collect();
    write::<Int64Type>(group, &offsets, None)?;
    write::<ByteArrayType>(group, &texts(&|_| by.pipeline.clone()), None)?;
    write::<ByteArrayType>(group, &texts(&|_| by.version.clone()), None)?;
    let scores: Vec<f64> = rows.iter().map(|s| s.outcome.score).collect();
    write::<DoubleType>(group, &scores, None)?;
    write::<ByteArrayType>(
        group,
        &texts(&|s| s.outcome.decision.name().to_owned()),
        None,
    )?;
    write::<ByteArrayType>(
        group,
        &texts(&|s| serde_json::to_string(&s.outcome.reasons).unwrap_or_default()),
        None,
    )?;
    for f in 0..by.features.len() {
        let values: Vec<f64> = rows
            .iter()
            .map(|s| s.features[f])
            .filter(|v| !v.is_nan())
            .collect();
        let levels: Vec<i16> = rows
            .iter()
            .map(|s| i16::from(!s.features[f].is_nan()))
            .collect();
        write::<DoubleType>(group, &values, Some(&levels))?;
    }
    write::<ByteArrayType>(
        group,
        &texts(&|s| serde_json::to_string(&s.transaction.fields).unwrap_or_default()),
        None,
    )?;
    write::<Int64Type>(group, &vec![scored_at; rows.len()], None)?;
    Ok(())
}

/// Writes the next column: `values` are the present ones, `levels` the
/// definition levels of an optional column.
fn write<T: DataType>(
    group: &mut SerializedRowGroupWriter<'_, impl Write + Send>,
    values: &[T::T],
    levels: Option<&[i16]>,
) -> parquet::errors::Result<()> {
    let Some(mut column) = group.next_column()? else {
        return Err(parquet::errors::ParquetError::General(
            "the table's schema has fewer columns than written".into(),
        ));
    };
    column.typed::<T>().write_batch(values, levels, None)?;
    column.close()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_read_from_file_names_and_nothing_else() {
        assert_eq!(
            offsets_of("00000000000000000005-00000000000000000009.parquet"),
            Some((5, 9))
        );
        assert_eq!(offsets_of("5-9.parquet"), None);
        assert_eq!(
            offsets_of("00000000000000000005-00000000000000000009.parquet.tmp"),
            None
        );
    }

    #[test]
    fn a_feature_named_as_a_column_is_prefixed() {
        assert_eq!(
            feature_columns(&["score".into(), "amount".into()]),
            ["feature_score", "amount"]
        );
    }
}
