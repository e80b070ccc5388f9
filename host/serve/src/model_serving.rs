//! How one model is served, set per model in the server's config file:
//! the backend its versions score on, and dynamic batching.
//!
//! ```toml
//! [models.fraud]
//! backend = "native"          # "component" (the default), "native" or "gpu"
//! max_batch_rows = 64         # group concurrent requests into batches of up to 64 rows
//! max_queue_delay_us = 200    # ...waiting at most 200 µs for a batch to fill
//! ```
//!
//! The backend is the operator's choice, not the model folder's: a model
//! folder is what deployers write, and scoring outside the sandbox must be
//! granted by whoever runs the server. Components stay the default, and the
//! only choice for models not trusted with the process.

use serde::Deserialize;

/// Where a model's versions score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// In a sandboxed WebAssembly instance, with the memory cap and call
    /// deadline (the default).
    #[default]
    Component,
    /// The component's own model (its `edgescore-artifact` section) scored
    /// in the server's process with the CPU's SIMD walk: for trusted models
    /// in the central backend. No memory cap, no call deadline.
    Native,
    /// The component's own model on the GPU (`edgescore_gpu`: a wgpu
    /// compute shader on the best Vulkan device), the same bits; trusted
    /// models whose trees the GPU walk runs (XGBoost and LightGBM without
    /// categorical splits). Best with batching, a GPU's cost being per call.
    Gpu,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Component => "component",
            Self::Native => "native",
            Self::Gpu => "gpu",
        }
    }
}

/// The most rows one batch may be set to.
pub const MAX_BATCH_ROWS_LIMIT: usize = 65_536;

/// The longest a request may be set to wait for its batch to fill.
pub const MAX_QUEUE_DELAY_US_LIMIT: u64 = 1_000_000;

/// The serving settings of one model (a `[models.<name>]` table).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelServing {
    pub backend: Backend,
    /// Dynamic batching (Triton's dynamic batcher): concurrent requests to
    /// one version are scored together in one call of up to this many rows.
    /// 0 (the default): each request is scored on its own. A request with
    /// more rows than this, or asking for contributions, is never batched.
    pub max_batch_rows: usize,
    /// How long the oldest request of a batch waits for more to join it,
    /// in microseconds; the batch is scored when it is full or this has
    /// passed, whichever comes first.
    pub max_queue_delay_us: u64,
}

impl ModelServing {
    /// Checks what serde cannot; the message names the model and the key.
    pub fn validate(&self, model: &str) -> Result<(), String> {
        if self.max_batch_rows > MAX_BATCH_ROWS_LIMIT {
            return Err(format!(
                "[models.{model}] max_batch_rows = {}: at most {MAX_BATCH_ROWS_LIMIT}",
                self.max_batch_rows
            ));
        }
        if self.max_queue_delay_us > MAX_QUEUE_DELAY_US_LIMIT {
            return Err(format!(
                "[models.{model}] max_queue_delay_us = {}: at most {MAX_QUEUE_DELAY_US_LIMIT} (one second)",
                self.max_queue_delay_us
            ));
        }
        if self.max_batch_rows == 0 && self.max_queue_delay_us > 0 {
            return Err(format!(
                "[models.{model}] max_queue_delay_us is set but max_batch_rows is 0 (batching off); \
                 set max_batch_rows to batch"
            ));
        }
        Ok(())
    }

    /// Whether requests are grouped into batches.
    pub fn batching(&self) -> bool {
        self.max_batch_rows > 0
    }
}
