//! Tables of events and feature rows on disk, CSV or Parquet (chosen by the
//! file's extension), for the offline commands (`edgescore transform`,
//! `edgescore eval`).
//!
//! A table is read whole into typed [`Cell`]s: a CSV's cells are all text
//! (typed later by what the transform declares it reads), a Parquet file's
//! carry their column's type. Written tables keep that: a column read from
//! Parquet as integers is written as integers.

mod csv_table;
mod parquet_read;

pub use parquet_read::ParquetCsv;
mod parquet_write;

use std::path::Path;

pub use edgescore_events::Cell;

use crate::error::Result;

/// One data row and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// One-based line in a CSV file; 0 for Parquet.
    pub line: u64,
    pub cells: Vec<Cell>,
}

/// A whole table: the column names and every row (each as wide as the header).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Row>,
}

impl Table {
    /// The table as CSV text: the header, then each row's cells as
    /// [`Cell::to_text`] writes them (what `edgescore score` reads, so a
    /// Parquet file of features scores exactly as its CSV twin would).
    pub fn to_csv(&self) -> Result<Vec<u8>> {
        csv_table::to_bytes(self)
    }
}

/// How a table file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
}

impl Format {
    /// Parquet for a `.parquet` or `.pq` file, CSV for anything else.
    pub fn of(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq") => {
                Format::Parquet
            }
            _ => Format::Csv,
        }
    }
}

/// Reads the table at `path` (a CSV with a header, or Parquet with flat
/// columns). A header that names a column twice is refused: which of the
/// two a reader by name would take is anybody's guess.
pub fn read(path: &Path) -> Result<Table> {
    let table = match Format::of(path) {
        Format::Csv => csv_table::read(path)?,
        Format::Parquet => parquet_read::read(path)?,
    };
    let mut seen = std::collections::HashSet::new();
    if let Some(name) = table.header.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(crate::error::Error::DuplicateColumn {
            path: path.to_owned(),
            name: name.clone(),
        });
    }
    Ok(table)
}

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
        Format::Csv => csv_table::write(path, other, features),
        Format::Parquet => parquet_write::write(path, other, features),
    }
}

/// Writes `values` to `path` as a Parquet file of one nullable `double`
/// column named `name` (NaN is written as a null), whatever the path's
/// extension. The file appears only when complete.
pub fn write_parquet_column(path: &Path, name: &str, values: &[f64]) -> Result<()> {
    parquet_write::write_doubles(path, name, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_chooses_the_format() {
        assert_eq!(Format::of(Path::new("a/b.parquet")), Format::Parquet);
        assert_eq!(Format::of(Path::new("b.PQ")), Format::Parquet);
        assert_eq!(Format::of(Path::new("b.csv")), Format::Csv);
        assert_eq!(Format::of(Path::new("b")), Format::Csv);
    }
}
