//! Drift of a pipeline against its training reference.
//!
//! - [`profile`]: the reference profile `edgescore profile` makes with the
//!   pipeline's own transform and model (reference-quantile bins per
//!   numeric feature, category frequencies, the score's distribution, the
//!   decision rates), frozen with the pipeline version.
//! - [`bins`]: how a value falls into a distribution's slots, the same on
//!   both sides of a comparison.
//! - [`statistics`]: PSI (empty slots at [`statistics::PSI_EPSILON`]) and
//!   the Jensen-Shannon distance.
//! - [`window`] and [`monitor`]: the live side (a window by events and by
//!   age), the states stable / moderate / act, and one alert per crossing.
//!
//! No I/O: the server, the stream and the offline `edgescore drift` feed
//! it rows and read its reports.

pub mod bins;
pub mod metrics;
pub mod monitor;
pub mod profile;
pub mod statistics;
pub mod window;

pub use bins::Bins;
pub use metrics::DriftMetrics;
pub use monitor::{Check, DriftAlert, DriftConfig, DriftMonitor, DriftReport, State};
pub use profile::{Kind, Profile, ProfileBuilder, ProfileError};
