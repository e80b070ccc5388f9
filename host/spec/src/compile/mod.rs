//! Checking a parsed spec and turning it into a [`TransformPlan`].
//!
//! One [`Compiler`] walks the spec top to bottom, in the order a plan needs
//! it: the inputs ([`inputs`]), the event time, the entities ([`entities`]),
//! then each feature table ([`features`]), whose operation becomes one or
//! more steps ([`operations`]) or a window over an entity ([`windows`]).
//! The first mistake found is returned as a [`SpecError`] with its line.

mod entities;
mod features;
mod inputs;
mod operations;
mod windows;

use std::collections::HashMap;

use edgescore_models::transform::{EntityPlan, InputPlan, Op, StepPlan, TransformPlan};

use self::entities::DeclaredEntity;
use super::syntax::Spec;
use super::{SpecError, line_of};

/// The plan being built from one spec's text: what has been checked so
/// far, indexed by name for the checks that follow.
pub(super) struct Compiler<'a> {
    text: &'a str,
    inputs: Vec<InputPlan>,
    input_index: HashMap<String, usize>,
    declared: HashMap<String, DeclaredEntity>,
    entities: Vec<EntityPlan>,
    steps: Vec<StepPlan>,
    step_index: HashMap<String, usize>,
}

type Result<T> = std::result::Result<T, SpecError>;

impl<'a> Compiler<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self {
            text,
            inputs: Vec::new(),
            input_index: HashMap::new(),
            declared: HashMap::new(),
            entities: Vec::new(),
            steps: Vec::new(),
            step_index: HashMap::new(),
        }
    }

    /// A refusal at byte `at` of the spec's text, with its line.
    fn error<T>(&self, at: usize, message: impl Into<String>) -> Result<T> {
        Err(SpecError {
            line: line_of(self.text, at),
            message: message.into(),
        })
    }

    /// Checks `spec` (parsed from this compiler's text) and returns its
    /// plan, or the first mistake with its line.
    pub(super) fn compile(mut self, spec: Spec) -> Result<TransformPlan> {
        for (what, value) in [("name", &spec.name), ("version", &spec.version)] {
            if value.get_ref().trim().is_empty() {
                return self.error(value.span().start, format!("`{what}` must not be empty"));
            }
        }
        if spec.inputs.get_ref().is_empty() {
            return self.error(
                spec.inputs.span().start,
                "`[inputs]` declares no field: list the fields an event carries",
            );
        }
        for (name, input) in spec.inputs.get_ref() {
            self.input(name, input)?;
        }
        let time = match &spec.time {
            Some(time) => Some(self.time_input(time)?),
            None => None,
        };
        for (name, entity) in &spec.entities {
            if time.is_none() {
                return self.error(
                    entity.span().start,
                    format!(
                        "entity '{}' needs the event time: set `time = \"<a timestamp input>\"` at the top",
                        name.get_ref()
                    ),
                );
            }
            self.entity(name, entity)?;
        }
        for feature in &spec.features {
            self.feature(feature)?;
        }
        if !self.steps.iter().any(|s| s.emit) {
            return self.error(
                self.text.len(),
                "the spec emits no feature: add a `[[features]]` table",
            );
        }
        Ok(TransformPlan {
            name: spec.name.into_inner(),
            version: spec.version.into_inner(),
            inputs: self.inputs,
            time,
            entities: self.entities,
            steps: self.steps,
        })
    }

    /// Appends a step named `name`; a name already taken is refused.
    fn push_step(
        &mut self,
        at: usize,
        name: String,
        op: Op,
        default: Option<f64>,
        emit: bool,
        categorical: bool,
    ) -> Result<()> {
        if self.step_index.contains_key(&name) {
            return self.error(at, format!("a feature named '{name}' is already defined"));
        }
        self.step_index.insert(name.clone(), self.steps.len());
        self.steps.push(StepPlan {
            name,
            op,
            default,
            emit,
            categorical,
        });
        Ok(())
    }
}
