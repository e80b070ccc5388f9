//! A Parquet events file, read as `edgescore transform` reads one (the
//! `parquet` crate's record reader, flat columns, values as cells:
//! `edgescore_fuzz::parquet_cells`), then the event rules of `host/events`
//! and the fraud pipeline's transform and model.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((header, rows)) =
        edgescore_fuzz::parquet_cells::read(bytes::Bytes::copy_from_slice(data))
    {
        edgescore_fuzz::table_events::score_table(&header, &rows);
    }
});
