//! A table's rows read as the fraud pipeline's events, as `edgescore
//! transform` reads an events file: columns matched to the transform's
//! inputs by name, each cell by the event rules, a row dated too far
//! ahead left out, the first row that breaks a rule ending the read.

use edgescore_events::{Event, EventError, EventValue};
use edgescore_table::Table;

use crate::fraud::fraud;

/// Reads `table`'s rows as events and, when every row reads, scores them
/// through the pipeline.
pub fn score_table(table: &Table) {
    let (header, rows) = (&table.header, &table.rows);
    let pipeline = fraud();
    let reader = pipeline.reader();
    let inputs = reader.inputs();
    let column_of = |name: &str| header.iter().position(|h| h == name);
    if inputs
        .iter()
        .any(|i| i.required && column_of(&i.name).is_none())
    {
        return;
    }
    let columns: Vec<(usize, usize)> = (0..inputs.len())
        .filter_map(|i| column_of(&inputs[i].name).map(|c| (c, i)))
        .collect();
    let mut events: Vec<Event> = Vec::with_capacity(rows.len());
    for row in rows {
        let mut values: Vec<Option<EventValue>> = vec![None; inputs.len()];
        let mut ahead = false;
        for &(column, input) in &columns {
            let Some(cell) = row.cells.get(column) else {
                return;
            };
            match reader.from_cell(input, cell) {
                Ok(value) => values[input] = value,
                Err(EventError::AheadOfClock(_)) => ahead = true,
                Err(EventError::Invalid(_)) => return,
            }
        }
        if ahead {
            continue;
        }
        match reader.event(values) {
            Ok(event) => events.push(event),
            Err(_) => return,
        }
    }
    pipeline.score(events);
}
