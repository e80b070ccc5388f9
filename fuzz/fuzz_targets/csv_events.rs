//! A CSV events file, read by the shipped reader (`edgescore_table`, as
//! `edgescore transform` and `edgescore eval` read one: a header and rows
//! of one width, blank cells missing, an unclosed quote refused), then the
//! event rules of `host/events` and the fraud pipeline's transform and
//! model (`edgescore_fuzz::table_events`). The same bytes are read as
//! `edgescore score` reads an input CSV, each column a feature.
#![no_main]

use std::path::Path;

use edgescore_table::csv_rows::{CsvOptions, CsvRows, InputSchema};
use edgescore_table::{Format, read_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let name = Path::new("events.csv");
    let Ok(table) = read_bytes(name, Format::Csv, data.to_vec()) else {
        return;
    };
    edgescore_fuzz::table_events::score_table(table.clone());
    let schema = InputSchema {
        names: Some(&table.header),
        width: table.header.len(),
    };
    if let Ok(mut rows) = CsvRows::new(data, name, schema, CsvOptions::default()) {
        let mut values = Vec::new();
        while let Ok(n @ 1..) = rows.read_batch(edgescore_fuzz::fraud::MAX_ROWS, &mut values) {
            assert_eq!(values.len(), n * schema.width, "one value per feature");
            values.clear();
        }
    }
});
