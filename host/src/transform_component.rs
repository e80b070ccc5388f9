//! A transform component loaded into the engine, and instances that turn
//! events into feature rows with it.
//!
//! Loading checks the component (it imports nothing but WIT types, WASI and
//! the `feature-store`; it exports the `transform` interface), asks it once
//! for its [`TransformInfo`] and prepares an `InstancePre`. Each instance is
//! made with the feature store it may reach and the namespaces granted to
//! it; every call runs under the engine's limits, and a call that traps
//! poisons the instance.

use wasmtime::Store;
use wasmtime::component::Component;

use crate::bindings::transformer::exports::edgescore::scoring::transform::{
    Event, FieldType, TransformError, TransformInfo,
};
use crate::bindings::transformer::{Transformer, TransformerPre};
use crate::component_scorer::{ComponentError, trap_or};
use crate::engine::ScoringEngine;
use crate::host_state::{self, FeatureAccess, HostState};

/// A transform component, checked and prepared for fast instantiation.
pub struct TransformComponent {
    info: TransformInfo,
    pre: TransformerPre<HostState>,
    sha256: String,
    memory_bytes: usize,
    deadline_ticks: u64,
    deadline_ms: u128,
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
    /// Compiles and checks a transform component.
    pub fn new(engine: &ScoringEngine, bytes: &[u8]) -> Result<Self, ComponentError> {
        let component = Component::new(engine.engine(), bytes)
            .map_err(|e| ComponentError::Invalid(format!("{e:#}")))?;
        let linker = host_state::linker_for(engine, &component, true)?;
        let instance_pre = linker.instantiate_pre(&component).map_err(|e| {
            ComponentError::UnsupportedImport(format!("{e:#}").replace("component imports ", ""))
        })?;
        let pre = TransformerPre::new(instance_pre).map_err(|e| {
            ComponentError::Invalid(format!("it does not export the transform interface: {e:#}"))
        })?;
        let limits = engine.limits();
        let mut loaded = Self {
            info: TransformInfo {
                name: String::new(),
                version: String::new(),
                inputs: Vec::new(),
                outputs: Vec::new(),
            },
            pre,
            sha256: crate::digest::sha256_hex(bytes),
            memory_bytes: limits.memory_bytes,
            deadline_ticks: limits.deadline_ticks(),
            deadline_ms: limits.call_deadline.as_millis(),
        };
        let mut instance = loaded.instantiate(FeatureAccess::default())?;
        loaded.info = instance.call(|store, b| b.edgescore_scoring_transform().call_info(store))?;
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

    /// SHA-256 of the component file, hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The one timestamp input, when there is exactly one: the event time
    /// that offline runs sort by.
    pub fn time_input(&self) -> Option<&str> {
        let mut timestamps = self
            .info
            .inputs
            .iter()
            .filter(|i| i.type_ == FieldType::Timestamp);
        match (timestamps.next(), timestamps.next()) {
            (Some(only), None) => Some(&only.name),
            _ => None,
        }
    }

    /// A fresh instance reaching `features`, in its own store.
    pub fn instantiate(
        &self,
        features: FeatureAccess,
    ) -> Result<TransformInstance, ComponentError> {
        let mut store = Store::new(
            self.pre.engine(),
            HostState::new(self.memory_bytes, features),
        );
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(self.deadline_ticks);
        store.epoch_deadline_trap();
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| trap_or(e, self.deadline_ms))?;
        Ok(TransformInstance {
            store,
            bindings,
            width: self.info.outputs.len(),
            deadline_ticks: self.deadline_ticks,
            deadline_ms: self.deadline_ms,
            poisoned: false,
        })
    }
}

/// One instance of a transform component, reusable until a call traps.
pub struct TransformInstance {
    store: Store<HostState>,
    bindings: Transformer,
    width: usize,
    deadline_ticks: u64,
    deadline_ms: u128,
    poisoned: bool,
}

impl std::fmt::Debug for TransformInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransformInstance")
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl TransformInstance {
    /// Turns `events` into row-major feature rows, one per event.
    pub fn transform(&mut self, events: &[Event]) -> Result<Vec<f32>, ComponentError> {
        let result = self.call(|store, b| {
            b.edgescore_scoring_transform()
                .call_transform(store, events)
        })?;
        match result {
            Ok(rows) if rows.len() != events.len() * self.width => {
                self.poisoned = true;
                Err(ComponentError::Internal(format!(
                    "returned {} values for {} events of {} features",
                    rows.len(),
                    events.len(),
                    self.width
                )))
            }
            Ok(rows) => Ok(rows),
            Err(TransformError::BadInput(message)) => Err(ComponentError::BadInput {
                row: None,
                feature: None,
                message,
            }),
            Err(TransformError::FeatureStore(message)) => {
                Err(ComponentError::FeatureStore(message))
            }
            Err(TransformError::Internal(message)) => Err(ComponentError::Internal(message)),
        }
    }

    /// Whether a call trapped; a poisoned instance refuses further calls.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    fn call<R>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>, &Transformer) -> wasmtime::Result<R>,
    ) -> Result<R, ComponentError> {
        if self.poisoned {
            return Err(ComponentError::Poisoned);
        }
        self.store.set_epoch_deadline(self.deadline_ticks);
        f(&mut self.store, &self.bindings).map_err(|e| {
            self.poisoned = true;
            trap_or(e, self.deadline_ms)
        })
    }
}
