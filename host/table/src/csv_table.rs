//! CSV tables: a header line, then rows of text cells.

use std::io::Write;
use std::path::Path;

use super::{Cell, FeatureColumns, Row, Table};
use crate::csv_rows::{QuoteTracker, checked};
use crate::{Error, Result};
use edgescore_runtime::atomic_file::AtomicFile;

pub(super) fn read(path: &Path) -> Result<Table> {
    let file = std::fs::File::open(path).map_err(|source| Error::ReadInput {
        path: path.to_owned(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(QuoteTracker::new(file));
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

pub(super) fn write(path: &Path, other: &Table, features: FeatureColumns<'_>) -> Result<()> {
    let write_error = |source: std::io::Error| Error::WriteOutput {
        path: path.to_owned(),
        source,
    };
    let width = features.names.len();
    let mut out = AtomicFile::create(path)?;
    {
        let mut writer = csv::Writer::from_writer(out.writer());
        let header = other
            .header
            .iter()
            .chain(features.names)
            .map(String::as_str);
        writer
            .write_record(header)
            .map_err(|e| write_error(e.into()))?;
        let mut cells: Vec<String> = Vec::new();
        for (r, row) in other.rows.iter().enumerate() {
            let values = &features.rows[r * width..(r + 1) * width];
            cells.clear();
            cells.extend(row.cells.iter().map(Cell::to_text));
            cells.extend(values.iter().map(|v| {
                if v.is_nan() {
                    String::new()
                } else {
                    v.to_string()
                }
            }));
            writer
                .write_record(&cells)
                .map_err(|e| write_error(e.into()))?;
        }
        writer.flush().map_err(write_error)?;
    }
    out.writer().flush().map_err(write_error)?;
    Ok(out.commit()?)
}

pub(super) fn to_bytes(table: &Table) -> Result<Vec<u8>> {
    let failed = |e: csv::Error| Error::Csv {
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
