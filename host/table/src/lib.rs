//! Tables of events and feature rows on disk, CSV or Parquet (chosen by the
//! file's extension), as the offline commands read them (`edgescore
//! transform`, `edgescore eval`, `edgescore score`). No wasmtime: the fuzz
//! targets `csv_events` and `parquet_events` run these readers as shipped.
//!
//! A table is read whole into typed [`Cell`]s: a CSV's cells are all text
//! (typed later by what the transform declares it reads), a Parquet file's
//! carry their column's type. [`ParquetCsv`] streams a Parquet file as the
//! CSV text [`Table::to_csv`] would write, and [`csv_rows`] reads a CSV
//! into rows of `f64` in a model's feature order, and [`events_file`] reads
//! a table's rows as a transform's events. Writing tables is
//! `edgescore-offline`'s (its outputs are written atomically).
//!
//! Every failure is a [`TableError`] naming the file, row or column at fault.

pub mod csv_rows;
mod csv_table;
mod error;
pub mod events_file;
mod parquet_pages;
mod parquet_read;

use std::path::Path;

pub use edgescore_events::Cell;

pub use self::error::{Result, TableError};
pub use self::parquet_read::{ParquetCsv, in_parquet_call};

/// One data row and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// One-based line in a CSV file; 0 for Parquet.
    pub line: u64,
    /// One cell per column of the header, in its order.
    pub cells: Vec<Cell>,
}

/// A whole table: the column names and every row (each as wide as the header).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// The column names in file order (a CSV's trimmed of blanks).
    pub header: Vec<String>,
    /// Every data row, in file order.
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
    /// Text with a header line (RFC 4180 quoting).
    Csv,
    /// Apache Parquet, flat columns.
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
/// columns), in the format its extension names. A header that names a
/// column twice is refused: which of the two a reader by name would take
/// is anybody's guess.
pub fn read(path: &Path) -> Result<Table> {
    let file = std::fs::File::open(path).map_err(|source| TableError::ReadInput {
        path: path.to_owned(),
        source,
    })?;
    let table = match Format::of(path) {
        Format::Csv => csv_table::read(path, file)?,
        Format::Parquet => parquet_read::read(path, file)?,
    };
    unique_columns(path, table)
}

/// Reads a table from `bytes` (the whole of a file) in `format`, by the
/// same code and rules as [`read`]; `name` names the input in errors. A
/// Parquet file's bytes are read in place, not copied.
pub fn read_bytes(name: &Path, format: Format, bytes: Vec<u8>) -> Result<Table> {
    let table = match format {
        Format::Csv => csv_table::read(name, bytes.as_slice())?,
        Format::Parquet => parquet_read::read(name, bytes::Bytes::from(bytes))?,
    };
    unique_columns(name, table)
}

/// `table`, unless its header names a column twice.
fn unique_columns(path: &Path, table: Table) -> Result<Table> {
    let mut seen = std::collections::HashSet::new();
    if let Some(name) = table.header.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(TableError::DuplicateColumn {
            path: path.to_owned(),
            name: name.clone(),
        });
    }
    Ok(table)
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

    #[test]
    fn bytes_read_as_the_file_of_them_does() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("events.csv");
        let text = b"id, amount\n1,12.5\n2,\n".to_vec();
        std::fs::write(&path, &text).expect("writes");
        let from_file = read(&path).expect("reads");
        assert_eq!(
            read_bytes(&path, Format::Csv, text).expect("reads"),
            from_file
        );
        assert_eq!(from_file.header, ["id", "amount"]);
        assert_eq!(from_file.rows[1].cells[1], Cell::Missing);
        let twice = read_bytes(&path, Format::Csv, b"a,a\n1,2\n".to_vec());
        assert!(
            matches!(twice, Err(TableError::DuplicateColumn { .. })),
            "{twice:?}"
        );
    }
}
