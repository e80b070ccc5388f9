//! A Parquet events file, read by the shipped readers (`edgescore_table`):
//! whole, as `edgescore transform` and `edgescore eval` read one (flat
//! columns, values as cells), then the event rules of `host/events` and the
//! fraud pipeline's transform and model (`edgescore_fuzz::table_events`);
//! and streamed as CSV text, as `edgescore score` reads one, which must be
//! the whole table's CSV text exactly. Panics of the `parquet` crate itself
//! are contained (`edgescore_fuzz::parquet_panics`).
#![no_main]

use std::io::Read;
use std::path::Path;

use edgescore_table::{Format, ParquetCsv, read_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    edgescore_fuzz::parquet_panics::contain();
    let name = Path::new("events.parquet");
    let whole = read_bytes(name, Format::Parquet, data.to_vec());
    // (the text, or the read's error; whether the stream left a typed error)
    let streamed = ParquetCsv::from_bytes(name, data.to_vec()).map(|mut stream| {
        let mut text = Vec::new();
        let read = stream.read_to_end(&mut text).map(|_| text);
        let failed = stream.failure().borrow().is_some();
        (read, failed)
    });
    if let Ok((Err(_), failed)) = &streamed {
        assert!(*failed, "a failed stream leaves its typed error");
    }
    let Ok(table) = whole else {
        return;
    };
    let text = table.to_csv().expect("a table read is written as CSV");
    match &streamed {
        Ok((Ok(streamed), _)) => assert_eq!(
            String::from_utf8_lossy(streamed),
            String::from_utf8_lossy(&text),
            "the stream's text is the whole table's"
        ),
        _ => panic!("the stream fails where the whole read did not: {streamed:?}"),
    }
    edgescore_fuzz::table_events::score_table(table);
});
