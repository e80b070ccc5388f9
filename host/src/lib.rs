//! The `edgescore` binary's library: everything the commands do, testable
//! without spawning a process.
//!
//! - [`model_file`]: loading a model file from disk, with format detection.
//! - [`csv_rows`]: reading an input CSV into row-major `f64` rows in the model's feature order.
//! - [`call_budget`]: how many rows or events one component call carries.
//! - [`score_csv`]: the `edgescore score` command: CSV in, scores out.

pub mod atomic_file;
pub mod bindings;
pub mod call_budget;
pub mod compiled_cache;
pub mod component_build;
pub mod component_info;
pub mod component_scorer;
pub mod csv_rows;
pub mod deny_all_wasi;
pub mod digest;
pub mod engine;
pub mod error;
pub mod event_fields;
pub mod feature_store;
pub mod guests;
pub mod host_state;
pub mod limits;
pub mod manifest_section;
pub mod model_file;
pub mod offline;
pub mod pipeline;
pub mod row_scorer;
pub mod sandboxed_instance;
pub mod score_csv;
pub mod serve;
pub mod table;
pub mod transform_component;
pub mod transform_spec;

pub use error::{Error, Result};
