//! What the fuzz targets share: what follows a successful parse (a model
//! scored, a plan run over events, the fraud pipeline's events read and
//! scored), so a panic after parsing is found as surely as one in it.
//!
//! Each target in `fuzz_targets/` parses its input with the crate the
//! product uses and hands what parsed to one of these.

pub mod fraud;
pub mod model_use;
pub mod parquet_panics;
pub mod table_events;
pub mod window_store;
