//! The table of every scored transaction, in the format `--table-format`
//! names: Hive-partitioned Parquet files ([`ParquetTable`]) or a Delta
//! Lake table ([`DeltaLakeTable`]). Both keep a watermark per input
//! partition, read back when the partition is assigned, and write only
//! rows past it.

use std::path::Path;

use crate::config::TableFormat;
use crate::delta_table::DeltaLakeTable;
use crate::parquet_table::{ParquetTable, TableError};
use crate::scored::PartitionScored;

#[derive(Debug)]
pub enum Table {
    Parquet(ParquetTable),
    Delta(Box<DeltaLakeTable>),
}

impl Table {
    /// The table of `topic` in folder `root`, created if missing.
    pub fn open(
        format: TableFormat,
        root: &Path,
        topic: &str,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<Self, TableError> {
        Ok(match format {
            TableFormat::Parquet => Self::Parquet(ParquetTable::open(root, topic)?),
            TableFormat::Delta => {
                Self::Delta(Box::new(DeltaLakeTable::open(root, topic, runtime)?))
            }
        })
    }

    /// Reads `partition`'s watermark back (it was just assigned).
    pub fn recover(
        &mut self,
        partition: i32,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<Option<i64>, TableError> {
        match self {
            Self::Parquet(table) => table.recover(partition),
            Self::Delta(table) => table.recover(partition, runtime),
        }
    }

    /// Writes the rows of every partition's batch past its watermark;
    /// durable when this returns. Returns how many rows.
    pub fn write(
        &mut self,
        batches: &[PartitionScored<'_>],
        runtime: &tokio::runtime::Runtime,
    ) -> Result<usize, TableError> {
        match self {
            Self::Parquet(table) => batches
                .iter()
                .map(|b| table.write(b.partition, b.by, b.scored))
                .sum(),
            Self::Delta(table) => table.write(batches, runtime),
        }
    }
}
