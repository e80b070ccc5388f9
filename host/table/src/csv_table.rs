//! CSV tables: a header line, then rows of text cells.

use std::io::Read;
use std::path::Path;

use crate::csv_rows::{QuoteTracker, checked};
use crate::{Cell, Result, Row, Table, TableError};

/// Reads the CSV `input` (a header, then rows as wide as it); `path` names
/// it in errors.
pub(super) fn read(path: &Path, input: impl Read) -> Result<Table> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(QuoteTracker::new(input));
    let header = reader
        .headers()
        .map(|h| h.iter().map(|h| h.trim().to_owned()).collect());
    let header: Vec<String> = checked(path, reader.get_ref(), header)?;
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let more = reader.read_record(&mut record);
        if !checked(path, reader.get_ref(), more)? {
            break;
        }
        let cells = record
            .iter()
            .map(|c| {
                if c.trim().is_empty() {
                    Cell::Missing
                } else {
                    Cell::Text(c.to_owned())
                }
            })
            .collect();
        rows.push(Row {
            line: record.position().map_or(0, |p| p.line()),
            cells,
        });
    }
    Ok(Table { header, rows })
}

/// `table` as CSV text, each cell as [`Cell::to_text`] writes it.
pub(super) fn to_bytes(table: &Table) -> Result<Vec<u8>> {
    let failed = |e: csv::Error| TableError::Csv {
        path: "(in memory)".into(),
        message: e.to_string(),
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&table.header).map_err(failed)?;
    for row in &table.rows {
        writer
            .write_record(row.cells.iter().map(Cell::to_text))
            .map_err(failed)?;
    }
    writer
        .into_inner()
        .map_err(|e| failed(e.into_error().into()))
}
