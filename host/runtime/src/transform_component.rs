//! A transform component loaded into the engine, and instances that turn
//! events into feature rows with it.
//!
//! Loading checks the component (it imports nothing but WIT types, WASI and
//! the `feature-store`; it exports the `transform` interface), asks it once
//! for its [`TransformInfo`] and prepares an `InstancePre`. Each instance is
//! made with the feature store it may reach and the namespaces granted to
//! it; every call runs under the engine's limits, and a call that traps
//! poisons the instance.
//!
//! Every observation an instance makes is recorded in its journal, so a
//! call that ran past its deadline is taken back and retried in smaller
//! calls, and a request that fails later takes back all it observed
//! ([`TransformInstance::take_observed`]).

use wasmtime::component::Component;

use edgescore_events::{Event, EventRules, EventValue, FieldSpec, InputType};

use crate::bindings::transformer::exports::edgescore::scoring::transform as wit;
use crate::bindings::transformer::exports::edgescore::scoring::transform::{
    TransformError, TransformInfo,
};
use crate::bindings::transformer::{Transformer, TransformerPre};
use crate::compiled_cache::CompiledCache;
use crate::component_error::ComponentError;
use crate::engine::ScoringEngine;
use crate::feature_store::Uncommitted;
use crate::host_state::{self, FeatureAccess, HostState, Journal};
use crate::sandboxed_instance::{InstanceLimits, SandboxedInstance};

/// A transform component, checked and prepared for fast instantiation.
pub struct TransformComponent {
    info: TransformInfo,
    /// `info.inputs` as the event reader reads them.
    inputs: Vec<FieldSpec>,
    pre: TransformerPre<HostState>,
    sha256: String,
    limits: InstanceLimits,
    /// How its events are read (a pipeline's `[events]`, or the defaults).
    events: EventRules,
}

impl std::fmt::Debug for TransformComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransformComponent")
            .field("name", &self.info.name)
            .field("version", &self.info.version)
            .finish_non_exhaustive()
    }
}

impl TransformComponent {
    /// Compiles and checks a transform component, taking the compiled code
    /// from `cache` when it has a valid entry (and storing it there when
    /// not). Its description is asked for under the validation deadline
    /// ([`crate::limits::VALIDATION_DEADLINE`]).
    pub fn new(
        engine: &ScoringEngine,
        cache: Option<&CompiledCache>,
        bytes: &[u8],
    ) -> Result<Self, ComponentError> {
        let component = match cache {
            Some(cache) => cache.load(engine.engine(), bytes).map(|(c, _)| c),
            None => Component::new(engine.engine(), bytes),
        }
        .map_err(|e| ComponentError::Invalid(format!("{e:#}")))?;
        let linker = host_state::linker_for(engine, &component, true)?;
        let instance_pre = linker.instantiate_pre(&component).map_err(|e| {
            ComponentError::UnsupportedImport(format!("{e:#}").replace("component imports ", ""))
        })?;
        let pre = TransformerPre::new(instance_pre).map_err(|e| {
            ComponentError::Invalid(format!("it does not export the transform interface: {e:#}"))
        })?;
        let mut loaded = Self {
            info: TransformInfo {
                name: String::new(),
                version: String::new(),
                inputs: Vec::new(),
                outputs: Vec::new(),
            },
            inputs: Vec::new(),
            pre,
            sha256: crate::digest::sha256_hex(bytes),
            limits: InstanceLimits::validating(engine),
            events: EventRules::default(),
        };
        let mut instance = loaded.instantiate(FeatureAccess::default())?;
        loaded.limits = InstanceLimits::of(engine);
        loaded.info = instance
            .sandbox
            .call(|store, b| b.edgescore_scoring_transform().call_info(store))?;
        loaded.inputs = loaded.info.inputs.iter().map(field_spec).collect();
        if loaded.info.outputs.is_empty() {
            return Err(ComponentError::Invalid(
                "the transform produces no feature (was it built by `edgescore build --transform`?)"
                    .into(),
            ));
        }
        Ok(loaded)
    }

    /// What the transform reads and produces.
    pub fn info(&self) -> &TransformInfo {
        &self.info
    }

    /// The fields it reads, in order: what events are read into.
    pub fn inputs(&self) -> &[FieldSpec] {
        &self.inputs
    }

    /// The same transform, its events read by `rules` (a pipeline's
    /// `[events]`).
    pub fn with_event_rules(mut self, rules: EventRules) -> Self {
        self.events = rules;
        self
    }

    /// How its events are read: the pipeline's `[events]`, or the defaults
    /// for a transform loaded on its own.
    pub fn event_rules(&self) -> &EventRules {
        &self.events
    }

    /// Turns any number of events into feature rows on `instance`, in
    /// calls sized to an eighth of the call deadline as they go
    /// ([`crate::call_budget::AdaptiveCalls`]). A call that runs past the
    /// deadline is taken back (what it observed is forgotten) and its
    /// events are retried in smaller calls on a fresh instance, which then
    /// replaces `instance`; only a single event that alone runs past the
    /// deadline twice in a row fails, naming it. `progress` hears of each
    /// call's events.
    ///
    /// What the calls observed stays in the instance's journal for
    /// [`TransformInstance::take_observed`] when its feature access is
    /// `undoable`, including on failure; otherwise it is let go after each
    /// call.
    pub fn transform_all(
        &self,
        instance: &mut TransformInstance,
        events: &[Event],
        mut progress: impl FnMut(usize),
    ) -> Result<Vec<f64>, ComponentError> {
        let mut rows = Vec::with_capacity(events.len() * self.info.outputs.len());
        let mut calls = self.limits.call_budget().adaptive();
        let mut start = 0;
        // Whether the event at `start` alone already ran past the deadline
        // once (a busy machine can stall one call; not two in a row).
        let mut alone_once = false;
        while start < events.len() {
            let end = (start + calls.size()).min(events.len());
            let began = std::time::Instant::now();
            let mark = instance.journal.len();
            match instance.transform_at(&events[start..end], start) {
                Ok(mut part) => {
                    calls.record(end - start, began.elapsed());
                    rows.append(&mut part);
                    progress(end - start);
                    start = end;
                    alone_once = false;
                }
                Err(ComponentError::Deadline { .. }) if end - start > 1 || !alone_once => {
                    // At least the deadline went by: the next calls shrink.
                    calls.record(end - start, began.elapsed());
                    alone_once = end - start == 1;
                    instance.forget_from(mark)?;
                    *instance = self.instantiate_with(instance.features.clone())?;
                }
                Err(ComponentError::Deadline { deadline_ms }) => {
                    return Err(ComponentError::EventsDeadline {
                        first: start,
                        last: end - 1,
                        deadline_ms,
                    });
                }
                Err(other) => return Err(other),
            }
        }
        Ok(rows)
    }

    /// SHA-256 of the component file, hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The one timestamp input, when there is exactly one: the event time
    /// that offline runs sort by.
    pub fn time_input(&self) -> Option<&str> {
        let mut timestamps = self.inputs.iter().filter(|i| i.ty == InputType::Timestamp);
        match (timestamps.next(), timestamps.next()) {
            (Some(only), None) => Some(&only.name),
            _ => None,
        }
    }

    /// A fresh instance reaching `features`, in its own store, with a
    /// journal of its own.
    pub fn instantiate(
        &self,
        features: FeatureAccess,
    ) -> Result<TransformInstance, ComponentError> {
        self.instantiate_with(FeatureAccess {
            journal: Some(Journal::default()),
            ..features
        })
    }

    /// A fresh instance reaching `features`, recording into its journal
    /// (a replacement keeps the journal of the instance it replaces).
    fn instantiate_with(
        &self,
        features: FeatureAccess,
    ) -> Result<TransformInstance, ComponentError> {
        let journal = features.journal.clone().unwrap_or_default();
        let features = FeatureAccess {
            journal: Some(journal.clone()),
            ..features
        };
        Ok(TransformInstance {
            sandbox: SandboxedInstance::new(
                self.pre.engine(),
                self.limits,
                features.clone(),
                |store| self.pre.instantiate(store),
            )?,
            width: self.info.outputs.len(),
            journal,
            features,
        })
    }
}

/// One instance of a transform component, reusable until a call traps.
#[derive(Debug)]
pub struct TransformInstance {
    sandbox: SandboxedInstance<Transformer>,
    width: usize,
    /// What it observed and has not handed over (shared with its store data).
    journal: Journal,
    /// What it was made with, to make its replacement after a trap.
    features: FeatureAccess,
}

impl TransformInstance {
    /// Hands over what it observed since last asked: to commit when the
    /// request succeeds, or to undo (dropping it undoes).
    pub fn take_observed(&mut self) -> Uncommitted {
        Uncommitted::new(self.features.store.clone(), self.journal.take_from(0))
    }

    /// Forgets what it observed from journal entry `mark` on.
    fn forget_from(&mut self, mark: usize) -> Result<(), ComponentError> {
        let receipts = self.journal.take_from(mark);
        let Some(store) = self
            .features
            .store
            .as_ref()
            .filter(|_| !receipts.is_empty())
        else {
            return Ok(());
        };
        store.forget(&receipts).map_err(|e| {
            // Kept, so that whoever undoes the rest tries these again.
            for receipt in receipts {
                self.journal.record(receipt);
            }
            ComponentError::FeatureStore {
                event: None,
                error: e,
            }
        })
    }

    /// Like [`TransformInstance::transform`] for events that start at index
    /// `first` of a longer sequence: the event an error names counts from
    /// there.
    pub fn transform_at(
        &mut self,
        events: &[Event],
        first: usize,
    ) -> Result<Vec<f64>, ComponentError> {
        self.transform(events)
            .map_err(|e| e.counting_events_from(first))
    }

    /// Turns `events` into row-major feature rows, one per event. What it
    /// observed is kept for [`TransformInstance::take_observed`] when its
    /// feature access is `undoable` or the call failed, else let go.
    pub fn transform(&mut self, events: &[Event]) -> Result<Vec<f64>, ComponentError> {
        let events: Vec<wit::Event> = events.iter().map(wit_event).collect();
        let result = self.sandbox.call(|store, b| {
            b.edgescore_scoring_transform()
                .call_transform(store, &events)
        })?;
        if result.is_ok() && !self.features.undoable {
            self.journal.take_from(0);
        }
        match result {
            Ok(rows) if rows.len() != events.len() * self.width => {
                self.sandbox.poison();
                Err(ComponentError::Internal(format!(
                    "returned {} values for {} events of {} features",
                    rows.len(),
                    events.len(),
                    self.width
                )))
            }
            Ok(rows) => Ok(rows),
            Err(TransformError::BadInput(b)) => Err(ComponentError::BadEvent {
                event: b.row.map(|r| r as usize),
                field: b.feature,
                message: b.message,
            }),
            Err(TransformError::FeatureStore(failure)) => Err(ComponentError::FeatureStore {
                event: Some(failure.event as usize),
                error: crate::feature_store::import::from_wit_error(failure.error),
            }),
            Err(TransformError::Internal(message)) => Err(ComponentError::Internal(message)),
        }
    }

    /// Whether a call trapped; a poisoned instance refuses further calls.
    pub fn is_poisoned(&self) -> bool {
        self.sandbox.is_poisoned()
    }
}

/// A WIT `field-spec` as the event reader reads it.
fn field_spec(spec: &wit::FieldSpec) -> FieldSpec {
    FieldSpec {
        name: spec.name.clone(),
        ty: match spec.type_ {
            wit::FieldType::Boolean => InputType::Boolean,
            wit::FieldType::Integer => InputType::Integer,
            wit::FieldType::Number => InputType::Number,
            wit::FieldType::Text => InputType::Text,
            wit::FieldType::Timestamp => InputType::Timestamp,
        },
        required: spec.required,
    }
}

/// A read event as the WIT `event` the component takes.
fn wit_event(event: &Event) -> wit::Event {
    event
        .iter()
        .map(|(name, value)| wit::Field {
            name: name.clone(),
            value: match value {
                EventValue::Null => wit::FieldValue::Null,
                EventValue::Boolean(b) => wit::FieldValue::Boolean(*b),
                EventValue::Integer(i) => wit::FieldValue::Integer(*i),
                EventValue::Number(x) => wit::FieldValue::Number(*x),
                EventValue::Text(s) => wit::FieldValue::Text(s.clone()),
                EventValue::Timestamp(t) => wit::FieldValue::Timestamp(*t),
            },
        })
        .collect()
}
