//! What each component's store carries, and the imports a component may have.
//!
//! A store holds its resource limits; made on the first WASI call of a
//! component that imports WASI, a WASI context that grants nothing (see
//! [`crate::deny_all_wasi`]); and, for transform components only, the
//! feature store with the namespaces granted to it. There is nothing else a
//! guest could reach.

use std::sync::Arc;

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtxView, WasiView};

use crate::component_error::ComponentError;
use crate::deny_all_wasi::{self, DenyAllWasi};
use crate::engine::ScoringEngine;
use crate::feature_store::{FeatureStore, Receipt};

/// The WIT name of the feature-store import.
pub const FEATURE_STORE_IMPORT: &str = "edgescore:scoring/feature-store@0.2.0";

/// Which feature-store namespaces a component may use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Grants {
    /// None: every call is refused (`denied`).
    #[default]
    Nothing,
    /// Only these.
    Namespaces(Vec<String>),
    /// Every namespace (offline runs over history on a private store).
    All,
}

impl Grants {
    pub fn allows(&self, namespace: &str) -> bool {
        match self {
            Self::Nothing => false,
            Self::Namespaces(names) => names.iter().any(|n| n == namespace),
            Self::All => true,
        }
    }
}

/// The feature store a transform instance reaches, and what it may touch.
#[derive(Clone, Default)]
pub struct FeatureAccess {
    pub store: Option<Arc<dyn FeatureStore>>,
    pub grants: Grants,
    /// For error messages: the component the grant is for.
    pub component: String,
    /// Whether what a run of calls observed is kept until its caller takes
    /// it ([`crate::transform_component::TransformInstance::take_observed`])
    /// to commit or undo (a request that must be all or nothing); otherwise
    /// each call's is let go once the call succeeds (an offline replay).
    pub undoable: bool,
    /// Where each observation's receipt is recorded: every instance gets
    /// its own ([`crate::transform_component::TransformComponent::instantiate`]).
    pub journal: Option<Journal>,
}

impl std::fmt::Debug for FeatureAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureAccess")
            .field("grants", &self.grants)
            .field("component", &self.component)
            .field("undoable", &self.undoable)
            .finish_non_exhaustive()
    }
}

/// The receipts of what one instance observed, in order. Shared between
/// the instance's store data (which records) and the host's handle on the
/// instance (which reads it even after a call trapped).
#[derive(Debug, Clone, Default)]
pub struct Journal(Arc<std::sync::Mutex<Vec<Receipt>>>);

impl Journal {
    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<Receipt>> {
        // A panic while the lock is held leaves the list whole (pushes and
        // drains only), so a poisoned lock is still read.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn record(&self, receipt: Receipt) {
        self.entries().push(receipt);
    }

    pub(crate) fn len(&self) -> usize {
        self.entries().len()
    }

    /// The receipts from `from` on, taken out.
    pub(crate) fn take_from(&self, from: usize) -> Vec<Receipt> {
        let mut entries = self.entries();
        let from = from.min(entries.len());
        entries.split_off(from)
    }
}

/// The data of every store the host makes for a component.
#[derive(Debug)]
pub struct HostState {
    pub(crate) limits: StoreLimits,
    wasi: Option<DenyAllWasi>,
    pub(crate) features: FeatureAccess,
}

impl HostState {
    /// A store's data capped at `memory_bytes`, reaching `features`.
    pub fn new(memory_bytes: usize, features: FeatureAccess) -> Self {
        let limits = StoreLimitsBuilder::new()
            .memory_size(memory_bytes)
            .instances(4)
            .build();
        Self {
            limits,
            wasi: None,
            features,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.wasi.get_or_insert_with(DenyAllWasi::default).view()
    }
}

/// A linker that satisfies `component`'s imports, or the import refused.
///
/// Allowed: interfaces of type definitions only (the WIT `types` interface:
/// nothing can be called through them; satisfied with empty instances), WASI
/// (the deny-everything implementation), and, when `feature_store` is set,
/// the `feature-store` interface. Anything else is refused by name before
/// any of the component's code runs.
pub fn linker_for(
    engine: &ScoringEngine,
    component: &Component,
    feature_store: bool,
) -> Result<Linker<HostState>, ComponentError> {
    let mut linker: Linker<HostState> = Linker::new(engine.engine());
    let component_type = component.component_type();
    let mut imports_wasi = false;
    let mut imports_store = false;
    for (name, item) in component_type.imports(engine.engine()) {
        let types_only = match &item.ty {
            ComponentItem::ComponentInstance(instance) => instance
                .exports(engine.engine())
                .all(|(_, export)| matches!(export.ty, ComponentItem::Type(_))),
            ComponentItem::Type(_) => true,
            _ => false,
        };
        if name.starts_with("wasi:") {
            imports_wasi = true;
        } else if feature_store && name == FEATURE_STORE_IMPORT {
            imports_store = true;
        } else if !types_only {
            return Err(ComponentError::UnsupportedImport(name.to_owned()));
        } else if matches!(item.ty, ComponentItem::ComponentInstance(_)) {
            linker
                .instance(name)
                .map_err(|e| ComponentError::Invalid(format!("{e:#}")))?;
        }
    }
    if imports_wasi {
        deny_all_wasi::add_to_linker(&mut linker)
            .map_err(|e| ComponentError::Invalid(format!("linking WASI: {e:#}")))?;
    }
    if imports_store {
        crate::bindings::transformer::edgescore::scoring::feature_store::add_to_linker::<
            HostState,
            HasSelf<HostState>,
        >(&mut linker, |state| state)
        .map_err(|e| ComponentError::Invalid(format!("linking the feature store: {e:#}")))?;
    }
    Ok(linker)
}
