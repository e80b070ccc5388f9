//! Why the GPU backend could not score.

use edgescore_models::ScoreError;

/// One failure of the GPU backend, each saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// The model has no GPU walk.
    #[error("this model cannot run on the GPU backend: {0}")]
    Unsupported(String),
    /// No Vulkan device, or none that takes the walk's buffers.
    #[error(
        "no GPU to run on: {0}. The GPU backend needs a Vulkan driver (a GPU's, or Mesa's CPU implementation lavapipe: Debian's mesa-vulkan-drivers); use --backend native without one"
    )]
    NoAdapter(String),
    /// Something the device must hold is over its buffer limit.
    #[error(
        "{what} take {bytes} bytes, over the device's {limit}-byte buffer limit; score this model natively"
    )]
    TooLarge {
        what: &'static str,
        bytes: u64,
        limit: u64,
    },
    /// The rows are not whole rows of the model's features.
    #[error("{0}")]
    Input(ScoreError),
    /// The device failed while scoring (lost, out of memory, a timeout).
    #[error("the GPU failed: {0}")]
    Device(String),
}
