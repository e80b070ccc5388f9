//! [`EventReader`]: one transform's events, read by one set of rules
//! against one clock, and put together from their inputs' values.

use super::error::too_long;
use super::{Clock, EventError, EventRules};
use crate::{Event, EventValue, FieldSpec, InputType};

/// Reads the events of one transform by one set of rules against one clock.
#[derive(Debug, Clone)]
pub struct EventReader<'a> {
    pub(super) inputs: &'a [FieldSpec],
    pub(super) rules: &'a EventRules,
    pub(super) time: Option<usize>,
    pub(super) clock: Clock,
}

impl<'a> EventReader<'a> {
    /// A reader of events with `inputs`, by `rules`, against `clock`.
    /// Refused when `rules.time` names no timestamp input. With no `time`
    /// named, the event time is the only timestamp input; a transform with
    /// several has none (a pipeline must name one: [`EventRules::check`]).
    pub fn new(
        inputs: &'a [FieldSpec],
        rules: &'a EventRules,
        clock: Clock,
    ) -> Result<Self, String> {
        let timestamps: Vec<usize> = (0..inputs.len())
            .filter(|&i| inputs[i].ty == InputType::Timestamp)
            .collect();
        let time = match (&rules.time, timestamps.as_slice()) {
            (Some(name), _) => Some(
                timestamps
                    .iter()
                    .copied()
                    .find(|&i| inputs[i].name == *name)
                    .ok_or_else(|| {
                        format!(
                            "[events] time names '{name}', which is not a timestamp input of the transform"
                        )
                    })?,
            ),
            (None, [only]) => Some(*only),
            (None, _) => None,
        };
        Ok(Self {
            inputs,
            rules,
            time,
            clock,
        })
    }

    /// The inputs events are read into, in the transform's order.
    pub fn inputs(&self) -> &'a [FieldSpec] {
        self.inputs
    }

    /// The input holding the event time (what the skew rule checks and an
    /// offline run sorts by).
    pub fn time(&self) -> Option<usize> {
        self.time
    }

    /// One event from its inputs' values (`values[i]` is input `i`'s, as
    /// the `from_*` functions read it): every required input present.
    pub fn event(&self, values: Vec<Option<EventValue>>) -> Result<Event, EventError> {
        let mut event = Vec::with_capacity(values.len());
        for (spec, value) in self.inputs.iter().zip(values) {
            match value {
                Some(value) => event.push((spec.name.clone(), value)),
                None if spec.required => {
                    return Err(EventError::Invalid(format!(
                        "required field '{}' is missing (or empty, or null): give it a value",
                        spec.name
                    )));
                }
                None => {}
            }
        }
        Ok(event)
    }

    /// `text` within the rules' `max_text_bytes`, or why not.
    pub(super) fn check_length(&self, spec: &FieldSpec, text: &str) -> Result<(), String> {
        if text.len() > self.rules.max_text_bytes {
            return Err(too_long(&spec.name, text.len(), self.rules.max_text_bytes));
        }
        Ok(())
    }
}
