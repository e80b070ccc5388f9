//! Why a component could not be loaded or a call into it failed: the one
//! error type of every component (scorer or transform) and of the sandbox
//! they run in, typed from what crosses the WIT contract.

use crate::feature_store::StoreError;

/// Why a component could not be loaded or a call into it failed.
#[derive(Debug, thiserror::Error)]
pub enum ComponentError {
    /// The bytes are not a usable scorer component.
    #[error("not a usable component: {0}")]
    Invalid(String),
    /// The component was built for another version of the WIT contract.
    #[error(
        "it was built for {built_for}, but this edgescore runs {expected} (feature rows of float64); rebuild it with this edgescore's `edgescore build`"
    )]
    Contract {
        built_for: String,
        expected: &'static str,
    },
    /// The component imports something the host does not provide.
    #[error(
        "the component imports {0}, which edgescore does not provide (a scorer may import only WIT type interfaces and WASI, which is linked deny-everything)"
    )]
    UnsupportedImport(String),
    /// The caller's rows were refused by the model.
    #[error("bad input{}: {message}", location(*row, feature.as_deref()))]
    BadInput {
        row: Option<u32>,
        feature: Option<String>,
        message: String,
    },
    /// A transform refused an event (its index, counted from the first
    /// event of the caller's sequence; the field at fault).
    #[error("{}{message}", event_prefix(*event))]
    BadEvent {
        event: Option<usize>,
        field: Option<String>,
        message: String,
    },
    /// The component's memory at start is over the instance memory cap.
    #[error(
        "it needs {needs_mib} MiB of memory before its first call (its model is in its memory image), over the {cap_mib} MiB cap; allow more (--memory-mib, or memory_mib in the serve config)"
    )]
    MemoryCap { needs_mib: u64, cap_mib: u64 },
    /// The call ran past its deadline and was interrupted.
    #[error("the component ran past its {deadline_ms} ms call deadline and was stopped")]
    Deadline { deadline_ms: u128 },
    /// One row alone ran past the call deadline (batches are split in
    /// calls that fit it, so only a single row can).
    #[error(
        "row {row} alone ran past the {deadline_ms} ms call deadline; allow more time (--deadline-ms, or call_deadline_ms in the serve config)"
    )]
    RowDeadline { row: usize, deadline_ms: u128 },
    /// A transform call ran past the deadline (calls are sized as they go
    /// to an eighth of it, so only a sudden slowdown can).
    #[error(
        "events {first} to {last} ran past the {deadline_ms} ms call deadline of the transform; allow more time (--deadline-ms, or call_deadline_ms in the serve config)"
    )]
    EventsDeadline {
        first: usize,
        last: usize,
        deadline_ms: u128,
    },
    /// The call trapped (a panic, an out-of-bounds access, memory exhausted, ...).
    #[error("the component trapped: {0}")]
    Trap(String),
    /// The feature store failed or refused the component's access (while
    /// observing event `event` of the call, when a transform says which).
    #[error("{}{error}", event_prefix(*event))]
    FeatureStore {
        event: Option<usize>,
        error: StoreError,
    },
    /// A request failed, and taking back what it had observed in the
    /// feature store failed too.
    #[error("{error}; then taking back what the request observed failed: {undo}")]
    UndoFailed {
        error: Box<ComponentError>,
        undo: StoreError,
    },
    /// The component reported a failure of its own.
    #[error("the component failed: {0}")]
    Internal(String),
    /// The component's golden vectors did not score as recorded.
    #[error(
        "golden vector {index} scored {got:?} {where_scored} but {expected:?} natively at build time"
    )]
    GoldenMismatch {
        /// `in the component`, or `natively here` (the native backend).
        where_scored: &'static str,
        index: usize,
        got: f64,
        expected: f64,
    },
    /// The instance trapped earlier and may not be used again.
    #[error("this instance trapped earlier and was discarded")]
    Poisoned,
}

impl ComponentError {
    /// The error of a call whose events start at index `first` of a longer
    /// sequence, with the event it names counted from the sequence's start.
    pub fn counting_events_from(self, first: usize) -> Self {
        match self {
            Self::BadEvent {
                event: Some(event),
                field,
                message,
            } => Self::BadEvent {
                event: Some(event + first),
                field,
                message,
            },
            Self::FeatureStore {
                event: Some(event),
                error,
            } => Self::FeatureStore {
                event: Some(event + first),
                error,
            },
            other => other,
        }
    }

    /// Whether the feature store (not the component, not the caller) is
    /// what failed: a service the caller may retry once it is back.
    pub fn store_unavailable(&self) -> bool {
        match self {
            Self::FeatureStore { error, .. } => matches!(error, StoreError::Unavailable(_)),
            Self::UndoFailed { error, undo } => {
                error.store_unavailable() || matches!(undo, StoreError::Unavailable(_))
            }
            _ => false,
        }
    }
}

fn event_prefix(event: Option<usize>) -> String {
    event.map_or_else(String::new, |e| format!("event {e}: "))
}

fn location(row: Option<u32>, feature: Option<&str>) -> String {
    match (row, feature) {
        (Some(r), Some(f)) => format!(" at row {r}, feature '{f}'"),
        (Some(r), None) => format!(" at row {r}"),
        (None, Some(f)) => format!(" in feature '{f}'"),
        (None, None) => String::new(),
    }
}
