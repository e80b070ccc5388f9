//! The model registry: which versions of which models are on disk, which
//! passed validation, and which one serves each model.
//!
//! Layout (Triton-like): `<root>/<model>/<version>/model.wasm`, version a
//! positive integer; or, for a pipeline (a transform and a model swapped as
//! a unit), `<root>/<pipeline>/<version>/pipeline.toml` beside the
//! components it names (see [`edgescore_runtime::pipeline`]); and optionally `<root>/<model>/routing.toml` (see
//! [`RoutingSpec`]). Unless the routing names a primary, the highest valid
//! version serves (Triton's `latest` policy); a canary and a shadow are
//! optional. A version is loaded only
//! after [`LoadedVersion`] validated it; one that fails is remembered as
//! rejected with its reason, and the serving version stays.
//!
//! A version whose feature schema ([`FeatureSchema`]) differs from the
//! primary's (the version serving, or that would serve: validation goes in
//! version order, so a restart decides as the running server did) is
//! rejected unless the routing has `allow_schema_change`; it is validated
//! again once the routing allows it or the primary's schema matches it. The
//! first version of a model has nothing to compare with.
//!
//! Every routing change made through the registry (the admin API's routing,
//! promote and rollback, the automatic rollback of a failing canary) is
//! written to `routing.toml` (atomically, synced) before it takes effect,
//! so a restart serves what was last asked for. Changes are made one at a
//! time; each first reads a hand edit of the file not yet seen, so it
//! applies on top of it, and records the file it wrote, so the watcher does
//! not read the server's own write back as a change.
//!
//! Writers should write `model.wasm.tmp` (any other name) and rename it to
//! `model.wasm`, which is atomic. A writer that writes `model.wasm` in place
//! is survived too: a file is loaded only once its size and modification
//! time are unchanged between two scans (or it is older than the settle
//! time), and a half-written file fails validation and is retried when it
//! changes again.

mod routing_changes;
mod scanning;
mod slot;
mod swaps;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

use crate::metrics::Metrics;
use edgescore_runtime::compiled_cache::CompiledCache;
use edgescore_runtime::engine::ScoringEngine;

pub use crate::loaded_version::COMPONENT_FILE;
pub use slot::{ModelSlot, VersionReport, VersionStatus};
pub use swaps::{RECENT_SWAPS, Swap};

/// Settings of a registry.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The folder scanned.
    pub root: PathBuf,
    /// A file unchanged for this long is loaded without waiting for a second scan.
    pub settle: Duration,
    /// The feature store pipelines' transforms reach (per their grants).
    pub feature_store: Option<Arc<dyn edgescore_runtime::feature_store::FeatureStore>>,
    /// How each model is served (`[models.<name>]` of the server's config);
    /// a model not named: as a component, unbatched.
    pub serving: BTreeMap<String, crate::model_serving::ModelServing>,
    /// How pipelines with a reference profile watch their drift.
    pub drift: edgescore_drift::DriftConfig,
    /// The keys a version folder must be signed by (see
    /// [`crate::signatures`]); `None`: signatures are not checked.
    pub trust: Option<Arc<edgescore_trust::TrustStore>>,
    /// Where loads, rejections, swaps and routing changes are recorded.
    pub audit: crate::audit::Audit,
}

/// All models of one registry folder.
#[derive(Debug)]
pub struct Registry {
    config: RegistryConfig,
    engine: Arc<ScoringEngine>,
    cache: Option<CompiledCache>,
    metrics: Arc<Metrics>,
    models: RwLock<BTreeMap<String, Arc<ModelSlot>>>,
    /// Scans run one at a time.
    scanning: Mutex<()>,
    /// Routing changes (and their writes of the routing file) run one at a time.
    routing_writes: Mutex<()>,
    /// The last route changes, for the dashboard.
    swaps: swaps::RecentSwaps,
}

impl Registry {
    pub fn new(
        config: RegistryConfig,
        engine: Arc<ScoringEngine>,
        cache: Option<CompiledCache>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            config,
            engine,
            cache,
            metrics,
            models: RwLock::new(BTreeMap::new()),
            scanning: Mutex::new(()),
            routing_writes: Mutex::new(()),
            swaps: swaps::RecentSwaps::default(),
        }
    }
    /// The feature store pipelines reach, when the server has one.
    pub fn feature_store(
        &self,
    ) -> Option<&Arc<dyn edgescore_runtime::feature_store::FeatureStore>> {
        self.config.feature_store.as_ref()
    }

    pub fn root(&self) -> &Path {
        &self.config.root
    }

    /// The model named `name`, if the registry has a folder for it.
    pub fn model(&self, name: &str) -> Option<Arc<ModelSlot>> {
        self.models.read().get(name).cloned()
    }

    /// Every model, by name.
    pub fn models(&self) -> Vec<Arc<ModelSlot>> {
        self.models.read().values().cloned().collect()
    }

    /// The last route changes of every model (at most [`RECENT_SWAPS`]),
    /// oldest first.
    pub fn recent_swaps(&self) -> Vec<Swap> {
        self.swaps.list()
    }

    /// Reads the registry folder and brings every model up to date: new and
    /// changed versions are validated, removed ones dropped, and each
    /// model's serving version chosen again. `force` validates files that
    /// have not settled yet (the admin API asked for it).
    pub fn scan(&self, force: bool) {
        let _scan = self.scanning.lock();
        let on_disk = self.model_folders();
        let slots: Vec<Arc<ModelSlot>> = {
            let mut models = self.models.write();
            models.retain(|name, slot| {
                let keep = on_disk.contains(name);
                if !keep {
                    tracing::info!("model {name}: folder removed, no longer served");
                    slot.serving.store(None);
                }
                keep
            });
            on_disk
                .iter()
                .map(|name| {
                    models
                        .entry(name.clone())
                        .or_insert_with(|| Arc::new(ModelSlot::new(name)))
                        .clone()
                })
                .collect()
        };
        for slot in slots {
            self.scan_model(&slot, force);
        }
    }

    /// Why each model that should serve does not: one line per model
    /// without a serving version, with each version's state (models
    /// unloaded through the API are meant to serve nothing and are left
    /// out). Empty when every model serves.
    pub fn not_serving(&self) -> Vec<String> {
        self.models()
            .iter()
            .filter(|slot| slot.route().is_none())
            .filter_map(|slot| {
                let state = slot.state.lock();
                if state.unloaded {
                    return None;
                }
                let versions: Vec<String> = state
                    .versions
                    .iter()
                    .map(|(v, entry)| match &entry.status {
                        VersionStatus::Pending => {
                            format!("version {v} waits for its file to settle")
                        }
                        VersionStatus::Ready(_) => format!("version {v} is ready"),
                        VersionStatus::Rejected(why) => format!("version {v} rejected: {why}"),
                    })
                    .collect();
                let why = if versions.is_empty() {
                    "no version on disk".to_owned()
                } else {
                    versions.join("; ")
                };
                Some(format!(
                    "model '{}' has no version serving: {why}",
                    slot.name
                ))
            })
            .collect()
    }

    /// Whether some version waits for its file to settle.
    pub fn has_pending(&self) -> bool {
        self.models().iter().any(|slot| {
            slot.state
                .lock()
                .versions
                .values()
                .any(|e| matches!(e.status, VersionStatus::Pending))
        })
    }

    /// Unloads a model: nothing serves it until [`Registry::load`].
    pub fn unload(&self, name: &str) -> bool {
        let Some(slot) = self.model(name) else {
            return false;
        };
        {
            let mut state = slot.state.lock();
            state.unloaded = true;
        }
        self.choose_serving(&slot);
        true
    }

    /// Loads (or reloads) a model from disk now; false if it has no folder.
    pub fn load(&self, name: &str) -> bool {
        self.scan(true);
        let Some(slot) = self.model(name) else {
            return false;
        };
        {
            let mut state = slot.state.lock();
            state.unloaded = false;
        }
        self.choose_serving(&slot);
        true
    }
}
