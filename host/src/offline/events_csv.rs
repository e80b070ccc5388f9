//! Reading a CSV of raw events for a transform: columns matched to the
//! transform's inputs by name, cells typed by what it declares, rows put in
//! event-time order.

use std::path::Path;

use crate::bindings::transformer::exports::edgescore::scoring::transform::{Field, FieldSpec};
use crate::event_fields;
use crate::{Error, Result};

/// The events of a file, in event-time order, with the other columns.
#[derive(Debug)]
pub struct EventsFile {
    /// One per data row, in time order.
    pub events: Vec<Vec<Field>>,
    /// The header of the columns that are not transform inputs.
    pub other_header: Vec<String>,
    /// Their cells, one row per event, in the same order as `events`.
    pub other: Vec<Vec<String>>,
}

impl EventsFile {
    /// Reads `path` (a CSV with a header) for a transform reading `inputs`,
    /// sorted by the `time` input when there is one.
    pub fn read(path: &Path, inputs: &[FieldSpec], time: Option<&str>) -> Result<Self> {
        let csv_error = |message: String| Error::Csv {
            path: path.to_owned(),
            message,
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_path(path)
            .map_err(|e| csv_error(e.to_string()))?;
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(e.to_string()))?
            .iter()
            .map(|h| h.trim().to_owned())
            .collect();
        let column_of = |name: &str| header.iter().position(|h| h == name);
        let missing: Vec<&str> = inputs
            .iter()
            .filter(|i| i.required && column_of(&i.name).is_none())
            .map(|i| i.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(csv_error(format!(
                "no column for the required input(s) {} of the transform",
                missing.join(", ")
            )));
        }
        let input_columns: Vec<(usize, &FieldSpec)> = inputs
            .iter()
            .filter_map(|i| column_of(&i.name).map(|c| (c, i)))
            .collect();
        let other_columns: Vec<usize> = (0..header.len())
            .filter(|c| !input_columns.iter().any(|(ic, _)| ic == c))
            .collect();
        let time_column = time.and_then(|t| input_columns.iter().position(|(_, i)| i.name == t));

        let mut rows = Vec::new();
        for (row, record) in reader.records().enumerate() {
            let record = record.map_err(|e| csv_error(e.to_string()))?;
            let mut event = Vec::with_capacity(input_columns.len());
            let mut time_ms = i64::MIN;
            for (k, (column, spec)) in input_columns.iter().enumerate() {
                let cell = record.get(*column).unwrap_or("");
                let value = event_fields::from_text(spec, cell).map_err(|problem| Error::Cell {
                    path: path.to_owned(),
                    row: row as u64 + 1,
                    line: record.position().map_or(0, |p| p.line()),
                    column: spec.name.clone(),
                    problem,
                })?;
                if let Some(value) = value {
                    if Some(k) == time_column
                        && let crate::bindings::transformer::exports::edgescore::scoring::transform::FieldValue::Timestamp(t) = value
                    {
                        time_ms = t;
                    }
                    event.push(Field {
                        name: spec.name.clone(),
                        value,
                    });
                }
            }
            let other = other_columns
                .iter()
                .map(|&c| record.get(c).unwrap_or("").to_owned())
                .collect();
            rows.push((time_ms, event, other));
        }
        // Stable: events at the same time keep file order.
        rows.sort_by_key(|(time, _, _)| *time);
        let (mut events, mut other) = (
            Vec::with_capacity(rows.len()),
            Vec::with_capacity(rows.len()),
        );
        for (_, event, cells) in rows {
            events.push(event);
            other.push(cells);
        }
        Ok(Self {
            events,
            other_header: other_columns.iter().map(|&c| header[c].clone()).collect(),
            other,
        })
    }
}
