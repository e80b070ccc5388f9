//! Tables of events and feature rows on disk, CSV or Parquet (chosen by the
//! file's extension), for the offline commands (`edgescore transform`,
//! `edgescore eval`).
//!
//! Reading is `edgescore_table`'s (re-exported here): a table is read whole
//! into typed [`Cell`]s, a CSV's all text, a Parquet file's typed by their
//! column. Writing is here, atomically: a column read from Parquet as
//! integers is written as integers.

mod csv_write;
mod parquet_write;

use std::path::Path;

pub use edgescore_table::{Cell, Format, ParquetCsv, Row, Table, read, read_bytes};

use crate::error::Result;

/// Feature rows to write next to the columns they came with.
#[derive(Debug, Clone, Copy)]
pub struct FeatureColumns<'a> {
    pub names: &'a [String],
    /// Row-major, `names.len()` per row; NaN is a missing value.
    pub rows: &'a [f64],
}

/// Writes `other` (a table, e.g. the input's ids and labels) with
/// `features` appended as columns, row by row, to `path` in the format its
/// extension names. The file appears only when complete. Missing features
/// are empty CSV cells or Parquet nulls; CSV features are written in the
/// shortest text that reads back as the same `f64`, Parquet features as
/// `double`.
pub fn write_with_features(path: &Path, other: &Table, features: FeatureColumns<'_>) -> Result<()> {
    match Format::of(path) {
        Format::Csv => csv_write::write(path, other, features),
        Format::Parquet => parquet_write::write(path, other, features),
    }
}

/// Writes `values` to `path` as a Parquet file of one nullable `double`
/// column named `name` (NaN is written as a null), whatever the path's
/// extension. The file appears only when complete.
pub fn write_parquet_column(path: &Path, name: &str, values: &[f64]) -> Result<()> {
    parquet_write::write_doubles(path, name, values)
}
