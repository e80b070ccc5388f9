//! The declarative transform component: a [`TransformPlan`] behind the WIT
//! `transformer` world.
//!
//! Built once, generically, as `transformer-template`; `edgescore build
//! --transform` compiles a TOML spec into a plan, calls
//! [`initialize`](Guest::initialize) with it and snapshots the instance.
//! Windowed aggregates go through the imported `feature-store`, which the
//! host grants per component.

use std::sync::OnceLock;

use edgescore_models::transform::{
    Aggregate, EventValue, InputType, StoreFailure as Failure, TransformError as PlanError,
    TransformPlan, WindowPlan, WindowStore,
};

wit_bindgen::generate!({
    world: "transformer-template",
    path: "../../wit",
});

use edgescore::scoring::feature_store::{self, Observation, Window};
use edgescore::scoring::types::{BadInput, Feature, FeatureKind, StoreError};
use exports::edgescore::scoring::transform::{
    Event, FieldSpec, FieldType, FieldValue, StoreFailure, TransformError, TransformInfo,
};

/// The plan; set once by `initialize`, before the snapshot.
static PLAN: OnceLock<TransformPlan> = OnceLock::new();

struct Transform;

export!(Transform);

impl Guest for Transform {
    fn initialize(plan: Vec<u8>) -> Result<(), String> {
        let plan = TransformPlan::from_bytes(&plan)?;
        PLAN.set(plan)
            .map_err(|_| "the transform is already initialized".to_owned())
    }
}

impl exports::edgescore::scoring::transform::Guest for Transform {
    fn info() -> TransformInfo {
        let Some(plan) = PLAN.get() else {
            return TransformInfo {
                name: String::new(),
                version: String::new(),
                inputs: Vec::new(),
                outputs: Vec::new(),
            };
        };
        TransformInfo {
            name: plan.name.clone(),
            version: plan.version.clone(),
            inputs: plan
                .inputs
                .iter()
                .map(|i| FieldSpec {
                    name: i.name.clone(),
                    type_: match i.ty {
                        InputType::Boolean => FieldType::Boolean,
                        InputType::Integer => FieldType::Integer,
                        InputType::Number => FieldType::Number,
                        InputType::Text => FieldType::Text,
                        InputType::Timestamp => FieldType::Timestamp,
                    },
                    required: i.required,
                })
                .collect(),
            outputs: plan
                .outputs()
                .map(|s| Feature {
                    name: s.name.clone(),
                    kind: if s.categorical {
                        FeatureKind::Categorical
                    } else {
                        FeatureKind::Numeric
                    },
                })
                .collect(),
        }
    }

    fn transform(events: Vec<Event>) -> Result<Vec<f64>, TransformError> {
        let Some(plan) = PLAN.get() else {
            return Err(TransformError::Internal(
                "the transform has no plan: it was not built by `edgescore build --transform`"
                    .into(),
            ));
        };
        let width = plan.outputs().count();
        let mut rows = Vec::with_capacity(events.len() * width);
        let events = events
            .into_iter()
            .map(|event| {
                event
                    .into_iter()
                    .map(|field| (field.name, event_value(field.value)))
                    .collect()
            })
            .collect();
        plan.transform(events, &mut ImportedStore, &mut rows)
            .map_err(|e| match e {
                PlanError::BadInput {
                    event,
                    field,
                    message,
                } => TransformError::BadInput(BadInput {
                    row: Some(event as u32),
                    feature: field,
                    message,
                }),
                PlanError::FeatureStore { event, failure } => {
                    TransformError::FeatureStore(StoreFailure {
                        event: event as u32,
                        error: match failure {
                            Failure::Unavailable(m) => StoreError::Unavailable(m),
                            Failure::Denied(m) => StoreError::Denied(m),
                            Failure::Invalid(m) => StoreError::Invalid(m),
                        },
                    })
                }
            })?;
        Ok(rows)
    }
}

fn event_value(value: FieldValue) -> EventValue {
    match value {
        FieldValue::Null => EventValue::Null,
        FieldValue::Boolean(b) => EventValue::Boolean(b),
        FieldValue::Integer(i) => EventValue::Integer(i),
        FieldValue::Number(x) => EventValue::Number(x),
        FieldValue::Text(s) => EventValue::Text(s),
        FieldValue::Timestamp(t) => EventValue::Timestamp(t),
    }
}

/// The imported `feature-store`, as the plan's window store.
struct ImportedStore;

impl WindowStore for ImportedStore {
    fn observe(
        &mut self,
        namespace: &str,
        entity: &str,
        timestamp_ms: i64,
        value: f64,
        distinct_key: Option<&str>,
        windows: &[WindowPlan],
    ) -> Result<Vec<Option<f64>>, Failure> {
        let windows: Vec<Window> = windows
            .iter()
            .map(|w| Window {
                name: w.name.clone(),
                aggregate: match w.aggregate {
                    Aggregate::Count => feature_store::Aggregate::Count,
                    Aggregate::Sum => feature_store::Aggregate::Sum,
                    Aggregate::DistinctCount => feature_store::Aggregate::DistinctCount,
                    Aggregate::SecondsSinceLast => feature_store::Aggregate::SecondsSinceLast,
                },
                seconds: w.seconds,
            })
            .collect();
        let event = Observation {
            timestamp: timestamp_ms,
            value,
            distinct_key: distinct_key.map(str::to_owned),
        };
        feature_store::observe(namespace, entity, &event, &windows).map_err(|e| match e {
            StoreError::Unavailable(m) => Failure::Unavailable(m),
            StoreError::Denied(m) => Failure::Denied(m),
            StoreError::Invalid(m) => Failure::Invalid(m),
        })
    }
}
