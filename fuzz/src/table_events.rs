//! A table's rows read as the fraud pipeline's events, by the reader
//! `edgescore transform` uses ([`EventsFile`]), and scored through the
//! pipeline when every row reads.

use std::path::Path;

use edgescore_table::Table;
use edgescore_table::events_file::EventsFile;

use crate::fraud::fraud;

/// Reads `table`'s rows as events and, when every row reads, scores them
/// through the pipeline.
pub fn score_table(table: Table) {
    let pipeline = fraud();
    let reader = pipeline.reader();
    if let Ok(file) = EventsFile::from_table(Path::new("events"), table, &reader) {
        pipeline.score(file.events);
    }
}
