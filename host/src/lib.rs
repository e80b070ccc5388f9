//! The `edgescore` binary's library: everything the commands do, testable
//! without spawning a process.
//!
//! - [`model_file`]: loading a model file from disk, with format detection.
//! - [`csv_rows`]: reading an input CSV into row-major `f32` rows in the model's feature order.
//! - [`score_csv`]: the `edgescore score` command: CSV in, scores out.

pub mod csv_rows;
pub mod error;
pub mod model_file;
pub mod score_csv;

pub use error::{Error, Result};
