//! `edgescore transform`: a file of raw events to a file of feature rows.

use std::io::Write;
use std::path::Path;

use crate::atomic_file::AtomicFile;
use crate::transform_component::TransformComponent;
use crate::{Error, Result};

use super::events_csv::EventsFile;

/// Runs `transform` over the events in `input` and writes `output`: a CSV
/// with the input's other columns (ids, labels: everything the transform
/// does not read) and then one column per feature, one row per event in
/// event-time order. A missing feature value is an empty cell, which
/// `edgescore score` reads back as missing. The file appears only when
/// complete. Returns how many events were transformed.
pub fn transform_file(transform: &TransformComponent, input: &Path, output: &Path) -> Result<u64> {
    let file = EventsFile::read(input, &transform.info().inputs, transform.time_input())?;
    let rows = super::replay(transform, &file.events)?;
    let width = transform.info().outputs.len();
    let mut out = AtomicFile::create(output)?;
    let write_error = |source: std::io::Error| Error::WriteOutput {
        path: output.to_owned(),
        source,
    };
    {
        let mut writer = csv::Writer::from_writer(out.writer());
        let header = file
            .other_header
            .iter()
            .map(String::as_str)
            .chain(transform.info().outputs.iter().map(|f| f.name.as_str()));
        writer
            .write_record(header)
            .map_err(|e| write_error(e.into()))?;
        let mut cells: Vec<String> = Vec::new();
        for (other, row) in file.other.iter().zip(rows.chunks_exact(width)) {
            cells.clear();
            cells.extend(other.iter().cloned());
            cells.extend(row.iter().map(|v| {
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
    out.commit()?;
    Ok(file.events.len() as u64)
}
