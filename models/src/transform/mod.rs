//! Feature transforms: a checked plan that turns raw events (flat records of
//! named values) into model feature rows, and the interpreter that runs it.
//!
//! `edgescore build --transform` compiles a TOML spec into a [`TransformPlan`]
//! (checking every name, type and window) and pre-initialises the transform
//! component with it; inside the component, [`TransformPlan::transform`]
//! runs it. The plan is data, not code, so the same plan gives the same
//! features wherever the component runs. This module does no I/O: windowed
//! aggregates go through the [`WindowStore`] the caller provides (the
//! component's `feature-store` import).

pub mod entity_events;
mod eval;
mod plan;

pub use eval::{
    EventValue, StoreFailure, TransformError, WindowStore, format_rfc3339_ms, parse_rfc3339_ms,
};
pub use plan::{
    Aggregate, EntityPlan, InputPlan, InputType, Op, Operand, StepPlan, TransformPlan, WindowPlan,
};
