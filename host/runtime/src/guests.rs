//! The guest components built by `build.rs`, as bytes.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
