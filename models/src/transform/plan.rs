//! The compiled form of a transform spec: inputs, entities with their
//! windows, and steps that each compute one number from inputs and earlier
//! steps. Every reference is an index that was checked at build time.

use serde::{Deserialize, Serialize};

/// A checked transform, ready to run. Serialized as JSON into the transform
/// component at build time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformPlan {
    pub name: String,
    pub version: String,
    /// The raw fields an event may carry, in the order the spec lists them.
    pub inputs: Vec<InputPlan>,
    /// The input holding the event time (a timestamp); required when there
    /// are entities.
    pub time: Option<usize>,
    /// Feature-store namespaces the transform observes events into.
    pub entities: Vec<EntityPlan>,
    /// Computed in order; the emitted ones form the feature row.
    pub steps: Vec<StepPlan>,
}

/// The type of an input field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputType {
    Boolean,
    Integer,
    Number,
    Text,
    Timestamp,
}

impl InputType {
    pub fn name(self) -> &'static str {
        match self {
            Self::Boolean => "boolean",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Text => "text",
            Self::Timestamp => "timestamp",
        }
    }
}

/// One input field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputPlan {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: InputType,
    /// An event without it is refused.
    pub required: bool,
    /// Used when the event lacks the field (or it is null); of the input's type.
    pub default: Option<super::EventValue>,
}

/// One feature-store namespace: the events of an entity (a card, a card and
/// a country together) and the windows aggregated over them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityPlan {
    pub namespace: String,
    /// The inputs whose values, joined with `|`, name the entity.
    pub key: Vec<usize>,
    /// The numeric input `sum` adds (0 when absent).
    pub value: Option<usize>,
    /// The input `distinct-count` counts.
    pub distinct: Option<usize>,
    pub windows: Vec<WindowPlan>,
}

/// One windowed aggregate of an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowPlan {
    pub name: String,
    pub aggregate: Aggregate,
    pub seconds: u32,
}

/// What a window computes (the WIT `aggregate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    Count,
    Sum,
    DistinctCount,
    SecondsSinceLast,
}

/// Where a step reads a number from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operand {
    /// A numeric input (number, integer, boolean as 0/1, timestamp as ms).
    Input(usize),
    /// An earlier step's result.
    Step(usize),
}

/// One computed number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepPlan {
    /// The feature name (when emitted) and how later steps refer to it.
    pub name: String,
    pub op: Op,
    /// Replaces a missing (NaN) result.
    pub default: Option<f64>,
    /// Whether it is a column of the feature row.
    pub emit: bool,
    /// Whether the model reads it as a category code.
    pub categorical: bool,
}

/// The operations. Any missing operand makes the result missing (NaN).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// The operand as is.
    Value(Operand),
    /// `(x - mean) / std`.
    Standardize { x: Operand, mean: f64, std: f64 },
    /// `(x - min) / (max - min)`.
    MinMax { x: Operand, min: f64, max: f64 },
    /// `ln(1 + x)`.
    Log1p(Operand),
    /// `x` limited to `[min, max]`.
    Clip { x: Operand, min: f64, max: f64 },
    /// How many of the ascending `bounds` are `<= x`.
    Bucketize { x: Operand, bounds: Vec<f64> },
    /// 1 when the text (or integer) input equals `category`, else 0.
    OneHot { input: usize, category: String },
    /// FNV-1a 64 of the text (or integer, in decimal) modulo `buckets`.
    Hash { input: usize, buckets: u32 },
    /// 0..=23, UTC.
    HourOfDay(usize),
    /// 0 (Monday) ..= 6 (Sunday), UTC.
    DayOfWeek(usize),
    /// `a / b`; missing when `b` is 0.
    Ratio(Operand, Operand),
    /// `a - b`.
    Difference(Operand, Operand),
    /// 1 when two inputs of one type hold the same value, else 0.
    Equal(usize, usize),
    /// A window of an entity: `entities[entity].windows[window]`.
    Window { entity: usize, window: usize },
}

impl TransformPlan {
    /// The emitted steps: the feature row, in order.
    pub fn outputs(&self) -> impl Iterator<Item = &StepPlan> {
        self.steps.iter().filter(|s| s.emit)
    }

    /// The plan as JSON (what the component is initialised with).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a plan written by [`TransformPlan::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("not a transform plan: {e}"))
    }
}
