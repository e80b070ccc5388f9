//! What every component instance runs in, scorer and transform alike: its
//! own store with the engine's memory cap and call deadline, and calls that
//! poison the instance when they trap (its memory may be half-written, so it
//! is never used again).

use wasmtime::{Engine, Store};

use crate::component_error::ComponentError;
use crate::engine::ScoringEngine;
use crate::host_state::{FeatureAccess, HostState};

/// The engine's limits, as each instance applies them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InstanceLimits {
    memory_bytes: usize,
    deadline_ticks: u64,
    deadline: std::time::Duration,
}

impl InstanceLimits {
    pub(crate) fn of(engine: &ScoringEngine) -> Self {
        Self::from_limits(*engine.limits())
    }

    /// The engine's limits for the calls that check a version before it
    /// serves ([`crate::limits::Limits::for_validation`]).
    pub(crate) fn validating(engine: &ScoringEngine) -> Self {
        Self::from_limits(engine.limits().for_validation())
    }

    fn from_limits(limits: crate::limits::Limits) -> Self {
        Self {
            memory_bytes: limits.memory_bytes,
            deadline_ticks: limits.deadline_ticks(),
            deadline: limits.call_deadline,
        }
    }

    /// How much one call may carry under this deadline.
    pub(crate) fn call_budget(&self) -> crate::call_budget::CallBudget {
        crate::call_budget::CallBudget::new(self.deadline)
    }

    /// Turns a wasmtime error into the matching [`ComponentError`].
    pub(crate) fn error(&self, e: wasmtime::Error) -> ComponentError {
        match e.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => ComponentError::Deadline {
                deadline_ms: self.deadline.as_millis(),
            },
            Some(trap) => ComponentError::Trap(trap.to_string()),
            None => ComponentError::Trap(format!("{e:#}")),
        }
    }
}

/// One instance in its own store; `B` is its generated bindings.
pub(crate) struct SandboxedInstance<B> {
    store: Store<HostState>,
    bindings: B,
    limits: InstanceLimits,
    poisoned: bool,
}

impl<B> std::fmt::Debug for SandboxedInstance<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxedInstance")
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl<B> SandboxedInstance<B> {
    /// A fresh store under `limits` reaching `features`, and the instance
    /// `instantiate` makes in it.
    pub(crate) fn new(
        engine: &Engine,
        limits: InstanceLimits,
        features: FeatureAccess,
        instantiate: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<B>,
    ) -> Result<Self, ComponentError> {
        let mut store = Store::new(engine, HostState::new(limits.memory_bytes, features));
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(limits.deadline_ticks);
        store.epoch_deadline_trap();
        let bindings = instantiate(&mut store).map_err(|e| limits.error(e))?;
        Ok(Self {
            store,
            bindings,
            limits,
            poisoned: false,
        })
    }

    /// Runs one call with a fresh deadline; a trap poisons the instance.
    pub(crate) fn call<R>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>, &B) -> wasmtime::Result<R>,
    ) -> Result<R, ComponentError> {
        if self.poisoned {
            return Err(ComponentError::Poisoned);
        }
        self.store.set_epoch_deadline(self.limits.deadline_ticks);
        f(&mut self.store, &self.bindings).map_err(|e| {
            self.poisoned = true;
            self.limits.error(e)
        })
    }

    /// Marks the instance unusable (it answered something impossible).
    pub(crate) fn poison(&mut self) {
        self.poisoned = true;
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned
    }
}
