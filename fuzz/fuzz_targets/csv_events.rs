//! A CSV events file, read as `edgescore transform` reads one (the `csv`
//! crate with a header and rows of one width, blank cells missing; then
//! the event rules of `host/events` and the fraud pipeline's transform
//! and model: `edgescore_fuzz::table_events`).
#![no_main]

use edgescore_events::Cell;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(data);
    let Ok(header) = reader.headers() else {
        return;
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_owned()).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let Ok(record) = record else {
            return;
        };
        rows.push(
            record
                .iter()
                .map(|c| {
                    if c.trim().is_empty() {
                        Cell::Missing
                    } else {
                        Cell::Text(c.to_owned())
                    }
                })
                .collect(),
        );
    }
    edgescore_fuzz::table_events::score_table(&header, &rows);
});
