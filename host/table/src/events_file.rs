//! Reading a file of raw events for a transform (CSV or Parquet): columns
//! matched to the transform's inputs by name, cells typed and checked by
//! the event rules ([`edgescore_events`]) exactly as the server checks
//! a request's transactions, rows put in event-time order.
//!
//! A cell that breaks the rules stops the run with the row, line and
//! column. An event whose time is too far ahead of the clock (the clock
//! when the run started: a history holds no event from the future) is left
//! out instead, as the server would have refused it, and reported
//! ([`Refused`]): the rest of the history replays as it was served.

use std::path::Path;

use crate::{Cell, Result, Row, Table, TableError};
use edgescore_events::{Event, EventError, EventReader, EventValue};

/// How many refused events are described; the rest are only counted.
const DESCRIBED: usize = 5;

/// The events of a file, in event-time order, with the other columns.
#[derive(Debug)]
pub struct EventsFile {
    /// One per data row kept, in time order.
    pub events: Vec<Event>,
    /// The columns that are not transform inputs (ids, labels), one row
    /// per event in the same order as `events`.
    pub other: Table,
    /// The rows left out because their time was too far ahead.
    pub refused: Refused,
}

/// Events left out of a run: how many, and the first few with why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refused {
    pub count: usize,
    /// "row 17 (line 18): field 'timestamp' is ...", for the first few.
    pub first: Vec<String>,
}

impl EventsFile {
    /// Reads `path` (a CSV with a header, or Parquet) for the transform
    /// `reader` reads events for, sorted by its event time when it has one.
    pub fn read(path: &Path, reader: &EventReader<'_>) -> Result<Self> {
        Self::from_table(path, crate::read(path)?, reader)
    }

    /// The events of `file`, a table read from `path` (which errors name),
    /// as [`EventsFile::read`] reads them.
    pub fn from_table(path: &Path, file: Table, reader: &EventReader<'_>) -> Result<Self> {
        let inputs = reader.inputs();
        let column_of = |name: &str| file.header.iter().position(|h| h == name);
        let missing: Vec<&str> = inputs
            .iter()
            .filter(|i| i.required && column_of(&i.name).is_none())
            .map(|i| i.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(TableError::Table {
                path: path.to_owned(),
                message: format!(
                    "no column for the required input(s) {} of the transform",
                    missing.join(", ")
                ),
            });
        }
        // (column, input) for each input the file has.
        let input_columns: Vec<(usize, usize)> = (0..inputs.len())
            .filter_map(|i| column_of(&inputs[i].name).map(|c| (c, i)))
            .collect();
        let other_columns: Vec<usize> = (0..file.header.len())
            .filter(|c| !input_columns.iter().any(|(ic, _)| ic == c))
            .collect();
        let time_input = reader.time();

        let mut refused = Refused::default();
        let mut rows = Vec::with_capacity(file.rows.len());
        for (r, row) in file.rows.into_iter().enumerate() {
            let cell_error = |column: &str, problem: String| TableError::Cell {
                path: path.to_owned(),
                row: r as u64 + 1,
                line: row.line,
                column: column.to_owned(),
                problem,
            };
            let mut values: Vec<Option<EventValue>> = vec![None; inputs.len()];
            let mut ahead = None;
            for &(column, input) in &input_columns {
                match reader.from_cell(input, &row.cells[column]) {
                    Ok(value) => values[input] = value,
                    Err(EventError::AheadOfClock(why)) => ahead = Some(why),
                    Err(EventError::Invalid(problem)) => {
                        return Err(cell_error(&inputs[input].name, problem));
                    }
                }
            }
            if let Some(why) = ahead {
                if refused.first.len() < DESCRIBED {
                    refused
                        .first
                        .push(format!("row {}{}: {why}", r + 1, line_suffix(row.line)));
                }
                refused.count += 1;
                continue;
            }
            if let Some(input) =
                (0..inputs.len()).find(|&i| inputs[i].required && values[i].is_none())
            {
                let name = &inputs[input].name;
                return Err(cell_error(
                    name,
                    format!("required field '{name}' is empty: give it a value"),
                ));
            }
            let time_ms = time_input
                .and_then(|t| match values[t] {
                    Some(EventValue::Timestamp(ms)) => Some(ms),
                    _ => None,
                })
                .unwrap_or(i64::MIN);
            let event = reader
                .event(values)
                .map_err(|e| cell_error("", e.to_string()))?;
            let mut cells = row.cells;
            let other = Row {
                line: row.line,
                cells: other_columns
                    .iter()
                    .map(|&c| std::mem::replace(&mut cells[c], Cell::Missing))
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
        Ok(Self {
            events,
            other,
            refused,
        })
    }
}

fn line_suffix(line: u64) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(" (line {line})")
    }
}
