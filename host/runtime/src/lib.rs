//! The sandbox and everything that runs inside it: the wasmtime engine and
//! its limits, scorer and transform components (built by pre-initialising a
//! template, compiled once and cached), deny-all WASI, the `feature-store`
//! import with the embedded store, the rules events are read by, and the one
//! [`pipeline::Pipeline`] every caller (server, offline commands) runs.
//!
//! No HTTP, no tables, no command line: those are `edgescore-serve`,
//! `edgescore-offline` and the `edgescore` binary, built on this crate.

pub mod atomic_file;
pub mod bindings;
pub mod call_budget;
pub mod compiled_cache;
pub mod component_build;
pub mod component_error;
pub mod component_info;
pub mod component_scorer;
pub mod deny_all_wasi;
pub mod digest;
pub mod engine;
pub mod feature_store;
pub mod golden_check;
pub mod guests;
pub mod host_state;
mod initial_memory;
pub mod instance_pool;
pub mod limits;
pub mod manifest_section;
pub mod model_file;
pub mod native_scorer;
pub mod pipeline;
pub mod pooled_scorer;
pub mod sandboxed_instance;
pub mod transform_component;

/// Names and values from a user's input, as error messages show them (moved
/// to `edgescore-events` so the wasmtime-free crates quote alike).
pub use edgescore_events::quote;
