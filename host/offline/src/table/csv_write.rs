//! Writing CSV tables: the input's columns, then the features, each row
//! whole; the file appears only when complete.

use std::io::Write;
use std::path::Path;

use super::{Cell, FeatureColumns, Table};
use crate::{Error, Result};
use edgescore_runtime::atomic_file::AtomicFile;

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
