//! Write an edgescore feature transform in Rust, for logic a TOML spec
//! cannot say.
//!
//! A transform turns raw events into the model's feature rows. Implement
//! [`Transform`] and export it with [`export_transform!`]; build the crate
//! as a `cdylib` for `wasm32-unknown-unknown` and make it a component
//! (`wasm-tools component new`), or see `guest/transform-example`, which the
//! edgescore build does exactly that way. The component imports only the
//! `feature-store` (granted per pipeline by the host) and WIT types.
//!
//! ```ignore
//! use edgescore_transform_sdk::{Event, Fields, Transform, TransformError, TransformInfo};
//!
//! struct AmountOnly;
//!
//! impl Transform for AmountOnly {
//!     fn info() -> TransformInfo { /* name, inputs, outputs */ }
//!     fn transform(events: Vec<Event>) -> Result<Vec<f64>, TransformError> {
//!         let mut rows = Vec::new();
//!         for (i, event) in events.iter().enumerate() {
//!             let fields = Fields::new(i, event);
//!             rows.push(fields.number("amount")?.unwrap_or(f64::NAN));
//!         }
//!         Ok(rows)
//!     }
//! }
//!
//! edgescore_transform_sdk::export_transform!(AmountOnly);
//! ```

/// The generated bindings of the `transformer` world.
pub mod bindings {
    wit_bindgen::generate!({
        world: "transformer",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_transform",
        default_bindings_module: "edgescore_transform_sdk::bindings",
    });
}

pub use bindings::edgescore::scoring::feature_store::{self, Aggregate, Observation, Window};
pub use bindings::edgescore::scoring::types::{BadInput, Feature, FeatureKind, StoreError};
pub use bindings::export_transform;
pub use bindings::exports::edgescore::scoring::transform::{
    Event, Field, FieldSpec, FieldType, FieldValue, Guest as Transform, StoreFailure,
    TransformError, TransformInfo,
};

/// Typed access to one event's fields, with errors that name the event and
/// the field. A field that is absent or `null` reads as `None`.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    index: usize,
    event: &'a [Field],
}

impl<'a> Fields<'a> {
    /// The fields of event number `index` of the batch (for error messages).
    pub fn new(index: usize, event: &'a [Field]) -> Self {
        Self { index, event }
    }

    fn get(&self, name: &str) -> Option<&'a FieldValue> {
        self.event
            .iter()
            .find(|f| f.name == name)
            .map(|f| &f.value)
            .filter(|v| !matches!(v, FieldValue::Null))
    }

    fn wrong(&self, name: &str, expected: &str) -> TransformError {
        self.bad_input(name, format!("field '{name}' must be {expected}"))
    }

    /// A bad-input error for field `name` of this event.
    pub fn bad_input(&self, name: &str, message: String) -> TransformError {
        TransformError::BadInput(BadInput {
            row: Some(self.index as u32),
            feature: Some(name.to_owned()),
            message,
        })
    }

    /// A number (an integer is widened).
    pub fn number(&self, name: &str) -> Result<Option<f64>, TransformError> {
        match self.get(name) {
            None => Ok(None),
            Some(FieldValue::Number(x)) => Ok(Some(*x)),
            Some(FieldValue::Integer(i)) => Ok(Some(*i as f64)),
            Some(_) => Err(self.wrong(name, "a number")),
        }
    }

    /// A text.
    pub fn text(&self, name: &str) -> Result<Option<&'a str>, TransformError> {
        match self.get(name) {
            None => Ok(None),
            Some(FieldValue::Text(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong(name, "a text")),
        }
    }

    /// A timestamp, in milliseconds since the Unix epoch (an integer is taken as one).
    pub fn timestamp(&self, name: &str) -> Result<Option<i64>, TransformError> {
        match self.get(name) {
            None => Ok(None),
            Some(FieldValue::Timestamp(t) | FieldValue::Integer(t)) => Ok(Some(*t)),
            Some(_) => Err(self.wrong(name, "a timestamp")),
        }
    }

    /// A boolean.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, TransformError> {
        match self.get(name) {
            None => Ok(None),
            Some(FieldValue::Boolean(b)) => Ok(Some(*b)),
            Some(_) => Err(self.wrong(name, "a boolean")),
        }
    }

    /// Like [`Fields::number`], refusing an event without the field.
    pub fn required_number(&self, name: &str) -> Result<f64, TransformError> {
        self.number(name)?.ok_or_else(|| self.missing(name))
    }

    /// Like [`Fields::text`], refusing an event without the field.
    pub fn required_text(&self, name: &str) -> Result<&'a str, TransformError> {
        self.text(name)?.ok_or_else(|| self.missing(name))
    }

    /// Like [`Fields::timestamp`], refusing an event without the field.
    pub fn required_timestamp(&self, name: &str) -> Result<i64, TransformError> {
        self.timestamp(name)?.ok_or_else(|| self.missing(name))
    }

    fn missing(&self, name: &str) -> TransformError {
        self.bad_input(name, format!("required field '{name}' is missing"))
    }

    /// Records this event in the host's feature store and returns each
    /// window's aggregate including it; a store failure becomes a transform
    /// error naming this event.
    pub fn observe(
        &self,
        namespace: &str,
        entity: &str,
        event: &Observation,
        windows: &[Window],
    ) -> Result<Vec<Option<f64>>, TransformError> {
        feature_store::observe(namespace, entity, event, windows).map_err(|error| {
            TransformError::FeatureStore(StoreFailure {
                event: self.index as u32,
                error,
            })
        })
    }
}
