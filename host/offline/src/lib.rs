//! Offline runs over files: scoring a CSV or Parquet file, replaying a
//! pipeline's transform over a history of events, and evaluating a pipeline
//! against labels with metrics and plots.
//!
//! - [`table`]: CSV and Parquet tables of typed cells, read whole (by
//!   `edgescore_table`), written atomically;
//! - [`csv_rows`]: an input CSV as row-major `f64` rows in the model's
//!   feature order (`edgescore_table::csv_rows`, re-exported);
//! - [`row_scorer`], [`score_csv`]: `edgescore score`, natively or through a component;
//! - [`events_file`] (`edgescore_table::events_file`, re-exported),
//!   [`replay`], [`transform_file`]: `edgescore transform`;
//! - [`pipeline_run`], [`eval`], [`plot`]: `edgescore eval`;
//! - [`profile`]: `edgescore profile`, a pipeline's reference profile;
//! - [`drift`], [`drift_page`]: `edgescore drift`, a file against a
//!   profile, as JSON or an HTML page;
//! - [`bench`]: `edgescore bench`, throughput and single-row latency.

pub mod bench;
pub mod drift;
pub mod drift_page;
pub mod error;
pub mod eval;
pub mod pipeline_run;
pub mod plot;
pub mod profile;
pub mod replay;
pub mod row_scorer;
pub mod score_csv;
pub mod table;
pub mod transform_file;

pub use edgescore_table::{csv_rows, events_file};
pub use error::{Error, Result};
