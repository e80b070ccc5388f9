//! The table of every scored transaction as a Delta Lake table
//! (`--table-format delta`), partitioned by `date` (the event's UTC date),
//! written with the `deltalake` crate and read by Spark, Databricks,
//! DuckDB, Polars and the Python `deltalake` package.
//!
//! One Delta commit holds a whole batch: the rows of every input partition
//! of a poll, and for each partition an application transaction (`txn`
//! action) `edgescore-stream:<topic>:<partition>` whose version is the last
//! offset the commit holds. The commit is atomic, so the transaction
//! versions are the sink's watermarks: read back when a partition is
//! assigned, they make a replay after a crash write only rows past them.
//! This is how Spark's own streaming sinks make Delta appends idempotent.
//!
//! Columns: those of the Parquet table ([`crate::parquet_table`]), except
//! that the features are one `map<string, double>` column, `features`
//! (null for a missing value), so a pipeline swap that changes the features
//! does not change the table's schema; and `date`, the partition column.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use deltalake::arrow::array::{
    ArrayRef, Date32Array, Float64Array, Int32Array, Int64Array, MapArray, StringArray,
    StructArray, TimestampMicrosecondArray,
};
use deltalake::arrow::buffer::{NullBuffer, OffsetBuffer};
use deltalake::arrow::datatypes::{DataType as ArrowType, Fields};
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::{DataType, MapType, StructField, Transaction};
use deltalake::protocol::SaveMode;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableError};

use crate::parquet_table::TableError;
use crate::scored::{PartitionScored, Scored};

const MS_PER_DAY: i64 = 86_400_000;

/// A Delta Lake table of one input topic.
pub struct DeltaLakeTable {
    root: PathBuf,
    table: DeltaTable,
    topic: String,
    /// Per partition, the last offset the table holds.
    watermarks: HashMap<i32, i64>,
}

impl std::fmt::Debug for DeltaLakeTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeltaLakeTable")
            .field("root", &self.root)
            .field("version", &self.table.version())
            .field("watermarks", &self.watermarks)
            .finish()
    }
}

/// The application id of an input partition's transaction.
pub fn app_id(topic: &str, partition: i32) -> String {
    format!("edgescore-stream:{topic}:{partition}")
}

impl DeltaLakeTable {
    /// The table in folder `root`, created (empty) if it is not a Delta
    /// table yet. Another process creating it at the same moment is fine:
    /// the loser of the race opens the winner's.
    pub fn open(
        root: &Path,
        topic: &str,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<Self, TableError> {
        let failed = |reason: String| TableError {
            path: root.to_owned(),
            reason,
        };
        std::fs::create_dir_all(root)
            .map_err(|e| failed(format!("cannot create the folder: {e}")))?;
        let url = deltalake::ensure_table_uri(root.display().to_string())
            .map_err(|e| failed(format!("not a table location: {e}")))?;
        let table = runtime
            .block_on(async {
                let table = DeltaTable::try_from_url(url.clone()).await?;
                if table.version().is_some() {
                    return Ok(table);
                }
                match table
                    .create()
                    .with_table_name("scored_transactions")
                    .with_comment(format!(
                        "every transaction of topic '{topic}' scored by edgescore stream"
                    ))
                    .with_columns(columns())
                    .with_partition_columns(["date"])
                    .with_save_mode(SaveMode::Ignore)
                    .await
                {
                    Ok(table) if table.version().is_some() => Ok(table),
                    // Created by another process in between, or left as
                    // it was (`Ignore`): open what is there.
                    Ok(_) | Err(DeltaTableError::VersionAlreadyExists(_)) => {
                        let mut table = DeltaTable::try_from_url(url).await?;
                        table.load().await?;
                        Ok(table)
                    }
                    Err(e) => Err(e),
                }
            })
            .map_err(|e: DeltaTableError| failed(format!("cannot open the Delta table: {e}")))?;
        Ok(Self {
            root: root.to_owned(),
            table,
            topic: topic.to_owned(),
            watermarks: HashMap::new(),
        })
    }

    /// Reads `partition`'s watermark from the latest version of the table
    /// (the partition was just assigned: another process may have written
    /// since).
    pub fn recover(
        &mut self,
        partition: i32,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<Option<i64>, TableError> {
        let app_id = app_id(&self.topic, partition);
        let last = runtime
            .block_on(async {
                self.table.update_state().await?;
                let log_store = self.table.log_store();
                self.table
                    .snapshot()?
                    .transaction_version(log_store.as_ref(), app_id)
                    .await
            })
            .map_err(|e| self.failed(format!("cannot read the table's transactions: {e}")))?;
        match last {
            Some(end) => self.watermarks.insert(partition, end),
            None => self.watermarks.remove(&partition),
        };
        Ok(last)
    }

    /// Appends the rows of every partition's batch past its watermark in
    /// one commit, with each written partition's last offset as its
    /// transaction; returns how many rows.
    pub fn write(
        &mut self,
        batches: &[PartitionScored<'_>],
        runtime: &tokio::runtime::Runtime,
    ) -> Result<usize, TableError> {
        let mut rows: Vec<(&PartitionScored<'_>, &Scored)> = Vec::new();
        let mut transactions = Vec::new();
        for batch in batches {
            let watermark = self.watermarks.get(&batch.partition).copied();
            let fresh: Vec<&Scored> = batch
                .scored
                .iter()
                .filter(|s| watermark.is_none_or(|w| s.offset() > w))
                .collect();
            if let Some(last) = fresh.last() {
                transactions.push((batch.partition, last.offset()));
            }
            rows.extend(fresh.into_iter().map(|s| (batch, s)));
        }
        if rows.is_empty() {
            return Ok(0);
        }
        let properties = CommitProperties::default().with_application_transactions(
            transactions
                .iter()
                .map(|(p, offset)| Transaction::new(app_id(&self.topic, *p), *offset))
                .collect(),
        );
        let scored_at = edgescore_runtime::feature_store::now_ms();
        let result = runtime.block_on(async {
            let mut writer =
                RecordBatchWriter::for_table(&self.table)?.with_commit_properties(properties);
            let batch = record_batch(&writer, &rows, scored_at)?;
            writer.write(batch).await?;
            writer.flush_and_commit(&mut self.table).await
        });
        if let Err(e) = result {
            // The commit may have landed before the error: read the
            // watermarks back before the retry.
            let _ = runtime.block_on(self.table.update_state());
            return Err(self.failed(format!("cannot append to the Delta table: {e}")));
        }
        for (partition, offset) in transactions {
            self.watermarks.insert(partition, offset);
        }
        Ok(rows.len())
    }

    fn failed(&self, reason: String) -> TableError {
        TableError {
            path: self.root.clone(),
            reason,
        }
    }
}

/// The table's schema.
fn columns() -> Vec<StructField> {
    let text = |name: &str| StructField::new(name, DataType::STRING, false);
    vec![
        text("transaction_id"),
        StructField::new("event_time", DataType::TIMESTAMP, true),
        text("topic"),
        StructField::new("partition", DataType::INTEGER, false),
        StructField::new("offset", DataType::LONG, false),
        text("pipeline"),
        text("version"),
        StructField::new("score", DataType::DOUBLE, false),
        text("decision"),
        text("reasons"),
        StructField::new(
            "features",
            MapType::new(DataType::STRING, DataType::DOUBLE, true),
            false,
        ),
        text("transaction"),
        StructField::new("scored_at", DataType::TIMESTAMP, false),
        StructField::new("date", DataType::DATE, false),
    ]
}

/// The rows as one Arrow batch in the writer's schema.
fn record_batch(
    writer: &RecordBatchWriter,
    rows: &[(&PartitionScored<'_>, &Scored)],
    scored_at: i64,
) -> Result<RecordBatch, DeltaTableError> {
    let schema = writer.arrow_schema();
    let text = |f: &dyn Fn(&PartitionScored<'_>, &Scored) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|(b, s)| f(b, s)),
        ))
    };
    let event_ms = |s: &Scored| s.event_time_ms.unwrap_or(scored_at);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let column: ArrayRef = match field.name().as_str() {
            "transaction_id" => text(&|_, s| s.transaction.id.clone()),
            "event_time" => Arc::new(
                TimestampMicrosecondArray::from(
                    rows.iter()
                        .map(|(_, s)| s.event_time_ms.map(|ms| ms * 1000))
                        .collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ),
            "topic" => text(&|b, _| b.by.topic.clone()),
            "partition" => Arc::new(Int32Array::from_iter_values(
                rows.iter().map(|(b, _)| b.partition),
            )),
            "offset" => Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|(_, s)| s.offset()),
            )),
            "pipeline" => text(&|b, _| b.by.pipeline.clone()),
            "version" => text(&|b, _| b.by.version.clone()),
            "score" => Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|(_, s)| s.outcome.score),
            )),
            "decision" => text(&|_, s| s.outcome.decision.name().to_owned()),
            "reasons" => {
                text(&|_, s| serde_json::to_string(&s.outcome.reasons).unwrap_or_default())
            }
            "features" => features(field.data_type(), rows)?,
            "transaction" => {
                text(&|_, s| serde_json::to_string(&s.transaction.fields).unwrap_or_default())
            }
            "scored_at" => Arc::new(
                TimestampMicrosecondArray::from_iter_values(rows.iter().map(|_| scored_at * 1000))
                    .with_timezone("UTC"),
            ),
            "date" => Arc::new(Date32Array::from_iter_values(rows.iter().map(|(_, s)| {
                i32::try_from(event_ms(s).div_euclid(MS_PER_DAY)).unwrap_or(i32::MAX)
            }))),
            other => {
                return Err(DeltaTableError::Generic(format!(
                    "the Delta table has a column '{other}' this version of edgescore does not write"
                )));
            }
        };
        columns.push(column);
    }
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// The `features` map column, in the writer's own map type (its entry and
/// field names are the kernel's).
fn features(
    data_type: &ArrowType,
    rows: &[(&PartitionScored<'_>, &Scored)],
) -> Result<ArrayRef, DeltaTableError> {
    let ArrowType::Map(entries, sorted) = data_type else {
        return Err(DeltaTableError::Generic(format!(
            "the Delta table's 'features' column is {data_type}, not a map"
        )));
    };
    let ArrowType::Struct(fields) = entries.data_type() else {
        return Err(DeltaTableError::Generic(
            "the Delta table's 'features' map has no key/value entries".into(),
        ));
    };
    let mut keys = Vec::new();
    let mut values = Vec::new();
    let mut offsets = vec![0i32];
    for (batch, scored) in rows {
        for (name, value) in batch.by.features.iter().zip(&scored.features) {
            keys.push(name.as_str());
            values.push((!value.is_nan()).then_some(*value));
        }
        offsets.push(i32::try_from(keys.len()).map_err(|_| {
            DeltaTableError::Generic("a batch has over 2^31 feature values".into())
        })?);
    }
    let entries_array = StructArray::try_new(
        Fields::clone(fields),
        vec![
            Arc::new(StringArray::from(keys)),
            Arc::new(Float64Array::from(values)),
        ],
        None,
    )?;
    Ok(Arc::new(MapArray::try_new(
        Arc::clone(entries),
        OffsetBuffer::new(offsets.into()),
        entries_array,
        None::<NullBuffer>,
        *sorted,
    )?))
}
