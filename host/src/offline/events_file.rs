//! Reading a file of raw events for a transform (CSV or Parquet): columns
//! matched to the transform's inputs by name, cells typed by what it
//! declares, rows put in event-time order.

use std::path::Path;

use crate::bindings::transformer::exports::edgescore::scoring::transform::{
    Field, FieldSpec, FieldValue,
};
use crate::table::{self, Row, Table};
use crate::{Error, Result, event_fields};

/// The events of a file, in event-time order, with the other columns.
#[derive(Debug)]
pub struct EventsFile {
    /// One per data row, in time order.
    pub events: Vec<Vec<Field>>,
    /// The columns that are not transform inputs (ids, labels), one row
    /// per event in the same order as `events`.
    pub other: Table,
}

impl EventsFile {
    /// Reads `path` (a CSV with a header, or Parquet) for a transform
    /// reading `inputs`, sorted by the `time` input when there is one.
    pub fn read(path: &Path, inputs: &[FieldSpec], time: Option<&str>) -> Result<Self> {
        let file = table::read(path)?;
        let column_of = |name: &str| file.header.iter().position(|h| h == name);
        let missing: Vec<&str> = inputs
            .iter()
            .filter(|i| i.required && column_of(&i.name).is_none())
            .map(|i| i.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(Error::Table {
                path: path.to_owned(),
                message: format!(
                    "no column for the required input(s) {} of the transform",
                    missing.join(", ")
                ),
            });
        }
        let input_columns: Vec<(usize, &FieldSpec)> = inputs
            .iter()
            .filter_map(|i| column_of(&i.name).map(|c| (c, i)))
            .collect();
        let other_columns: Vec<usize> = (0..file.header.len())
            .filter(|c| !input_columns.iter().any(|(ic, _)| ic == c))
            .collect();
        let time_column = time.and_then(|t| input_columns.iter().position(|(_, i)| i.name == t));

        let mut rows = Vec::with_capacity(file.rows.len());
        for (r, row) in file.rows.into_iter().enumerate() {
            let mut event = Vec::with_capacity(input_columns.len());
            let mut time_ms = i64::MIN;
            for (k, (column, spec)) in input_columns.iter().enumerate() {
                let value =
                    event_fields::from_cell(spec, &row.cells[*column]).map_err(|problem| {
                        Error::Cell {
                            path: path.to_owned(),
                            row: r as u64 + 1,
                            line: row.line,
                            column: spec.name.clone(),
                            problem,
                        }
                    })?;
                if let Some(value) = value {
                    if Some(k) == time_column
                        && let FieldValue::Timestamp(t) = value
                    {
                        time_ms = t;
                    }
                    event.push(Field {
                        name: spec.name.clone(),
                        value,
                    });
                }
            }
            let mut cells = row.cells;
            let other = Row {
                line: row.line,
                cells: other_columns
                    .iter()
                    .map(|&c| std::mem::replace(&mut cells[c], table::Cell::Missing))
                    .collect(),
            };
            rows.push((time_ms, event, other));
        }
        // Stable: events at the same time keep file order.
        rows.sort_by_key(|(time, _, _)| *time);
        let mut events = Vec::with_capacity(rows.len());
        let mut other = Table {
            header: other_columns
                .iter()
                .map(|&c| file.header[c].clone())
                .collect(),
            rows: Vec::with_capacity(rows.len()),
        };
        for (_, event, cells) in rows {
            events.push(event);
            other.rows.push(cells);
        }
        Ok(Self { events, other })
    }
}
