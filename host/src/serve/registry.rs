//! The model registry: which versions of which models are on disk, which
//! passed validation, and which one serves each model.
//!
//! Layout (Triton-like): `<root>/<model>/<version>/model.wasm`, version a
//! positive integer; or, for a pipeline (a transform and a model swapped as
//! a unit), `<root>/<pipeline>/<version>/pipeline.toml` beside the
//! components it names (see [`crate::pipeline`]); and optionally `<root>/<model>/routing.toml` (see
//! [`RoutingSpec`]). Unless the routing names a primary, the highest valid
//! version serves (Triton's `latest` policy); a canary and a shadow are
//! optional. A version is loaded only
//! after [`LoadedVersion`] validated it; one that fails is remembered as
//! rejected with its reason, and the serving version stays.
//!
//! Writers should write `model.wasm.tmp` (any other name) and rename it to
//! `model.wasm`, which is atomic. A writer that writes `model.wasm` in place
//! is survived too: a file is loaded only once its size and modification
//! time are unchanged between two scans (or it is older than the settle
//! time), and a half-written file fails validation and is retried when it
//! changes again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;

use super::loaded_version::LoadedVersion;
use super::log;
use super::metrics::Metrics;
use super::names::{is_valid_model_name, parse_version};
use super::routing::{Canary, ROUTING_FILE, Route, RoutingSpec};
use crate::compiled_cache::CompiledCache;
use crate::engine::ScoringEngine;

/// The file each version folder holds.
pub const COMPONENT_FILE: &str = "model.wasm";

/// What identifies the contents of a version folder: for a model its
/// `model.wasm`; for a pipeline every file in the folder together (the
/// largest modification time, the total size), so a part written late
/// is noticed. `None` when the folder holds neither.
fn version_fingerprint(dir: &Path) -> Option<Fingerprint> {
    let single = |file: &Path| {
        let meta = std::fs::metadata(file).ok().filter(|m| m.is_file())?;
        Some(Fingerprint {
            len: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        })
    };
    if dir.join(crate::pipeline::PIPELINE_FILE).is_file() {
        let mut total = Fingerprint {
            len: 0,
            modified: SystemTime::UNIX_EPOCH,
        };
        for entry in std::fs::read_dir(dir).ok()?.filter_map(Result::ok) {
            if let Some(f) = single(&entry.path()) {
                total.len += f.len;
                total.modified = total.modified.max(f.modified);
            }
        }
        return Some(total);
    }
    single(&dir.join(COMPONENT_FILE))
}

/// One model: the route serving it (swapped atomically) and what is known
/// of every version on disk.
#[derive(Debug)]
pub struct ModelSlot {
    pub name: String,
    serving: ArcSwapOption<Route>,
    state: Mutex<SlotState>,
}

#[derive(Debug, Default)]
struct SlotState {
    versions: BTreeMap<u64, VersionEntry>,
    /// What the routing file or the admin API asked for, whichever was last.
    routing: RoutingSpec,
    /// The routing file as last read, so it is read again only when it changes.
    routing_file: Option<Fingerprint>,
    /// Why the routing file was refused, if it was.
    routing_error: Option<String>,
    /// Unloaded through the repository API: nothing serves until loaded again.
    unloaded: bool,
}

#[derive(Debug)]
struct VersionEntry {
    fingerprint: Fingerprint,
    status: VersionStatus,
}

/// A version's state, as the API reports it.
#[derive(Debug, Clone)]
pub enum VersionStatus {
    /// Seen, waiting for the file to stop changing.
    Pending,
    Ready(Arc<LoadedVersion>),
    Rejected(String),
}

/// What identifies one state of a file: its length and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: SystemTime,
}

/// A version and its state, for listings.
#[derive(Debug, Clone)]
pub struct VersionReport {
    pub model: String,
    pub version: u64,
    pub status: VersionStatus,
    pub serving: bool,
}

impl ModelSlot {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            serving: ArcSwapOption::empty(),
            state: Mutex::new(SlotState::default()),
        }
    }

    /// The primary version serving now, if any. The returned `Arc` keeps it
    /// alive for as long as the caller holds it, whatever swaps happen.
    pub fn serving(&self) -> Option<Arc<LoadedVersion>> {
        self.serving
            .load()
            .as_ref()
            .map(|route| route.primary.clone())
    }

    /// The whole route (primary, canary, shadow) serving now.
    pub fn route(&self) -> Option<Arc<Route>> {
        self.serving.load_full()
    }

    /// The routing asked for, and why the routing file was refused if it was.
    pub fn routing(&self) -> (RoutingSpec, Option<String>) {
        self.state
            .lock()
            .map(|s| (s.routing.clone(), s.routing_error.clone()))
            .unwrap_or_default()
    }

    /// A specific ready version.
    pub fn version(&self, version: u64) -> Option<Arc<LoadedVersion>> {
        let state = self.state.lock().ok()?;
        match state.versions.get(&version).map(|e| &e.status) {
            Some(VersionStatus::Ready(v)) => Some(v.clone()),
            _ => None,
        }
    }

    /// Every known version, lowest first.
    pub fn report(&self) -> Vec<VersionReport> {
        let serving = self.serving().map(|v| v.version);
        let Ok(state) = self.state.lock() else {
            return Vec::new();
        };
        state
            .versions
            .iter()
            .map(|(&version, entry)| VersionReport {
                model: self.name.clone(),
                version,
                status: entry.status.clone(),
                serving: serving == Some(version),
            })
            .collect()
    }
}

/// Settings of a registry.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The folder scanned.
    pub root: PathBuf,
    /// A file unchanged for this long is loaded without waiting for a second scan.
    pub settle: Duration,
    /// The feature store pipelines' transforms reach (per their grants).
    pub feature_store: Option<Arc<dyn crate::feature_store::FeatureStore>>,
}

impl std::fmt::Debug for dyn crate::feature_store::FeatureStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FeatureStore")
    }
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
        }
    }

    pub fn root(&self) -> &Path {
        &self.config.root
    }

    /// The model named `name`, if the registry has a folder for it.
    pub fn model(&self, name: &str) -> Option<Arc<ModelSlot>> {
        self.models.read().ok()?.get(name).cloned()
    }

    /// Every model, by name.
    pub fn models(&self) -> Vec<Arc<ModelSlot>> {
        self.models
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Reads the registry folder and brings every model up to date: new and
    /// changed versions are validated, removed ones dropped, and each
    /// model's serving version chosen again. `force` validates files that
    /// have not settled yet (the admin API asked for it).
    pub fn scan(&self, force: bool) {
        let Ok(_scan) = self.scanning.lock() else {
            return;
        };
        let on_disk = self.model_folders();
        let slots: Vec<Arc<ModelSlot>> = {
            let Ok(mut models) = self.models.write() else {
                return;
            };
            models.retain(|name, slot| {
                let keep = on_disk.contains(name);
                if !keep {
                    log(&format!("model {name}: folder removed, no longer served"));
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

    /// Whether some version waits for its file to settle.
    pub fn has_pending(&self) -> bool {
        self.models().iter().any(|slot| {
            slot.state.lock().is_ok_and(|s| {
                s.versions
                    .values()
                    .any(|e| matches!(e.status, VersionStatus::Pending))
            })
        })
    }

    /// Unloads a model: nothing serves it until [`Registry::load`].
    pub fn unload(&self, name: &str) -> bool {
        let Some(slot) = self.model(name) else {
            return false;
        };
        if let Ok(mut state) = slot.state.lock() {
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
        if let Ok(mut state) = slot.state.lock() {
            state.unloaded = false;
        }
        self.choose_serving(&slot);
        true
    }

    /// Replaces the routing of `name` (until the routing file changes).
    pub fn set_routing(&self, name: &str, spec: RoutingSpec) -> Result<(), String> {
        spec.validate()?;
        self.change_routing(name, |_| Ok(spec))
    }

    /// Makes the canary the primary and ends the canary.
    pub fn promote(&self, name: &str) -> Result<(), String> {
        self.change_routing(name, |r| {
            let canary = r
                .canary
                .ok_or_else(|| format!("model '{name}' has no canary to promote"))?;
            Ok(RoutingSpec {
                primary: Some(canary.version),
                canary: None,
                shadow: r.shadow,
            })
        })
    }

    /// Ends the canary; without one, pins the primary to the highest ready
    /// version below the one serving.
    pub fn rollback(&self, name: &str) -> Result<(), String> {
        let slot = self
            .model(name)
            .ok_or_else(|| format!("no model named '{name}'"))?;
        let serving = slot.serving().map(|v| v.version);
        let previous = slot
            .report()
            .iter()
            .rev()
            .filter(|r| matches!(r.status, VersionStatus::Ready(_)))
            .map(|r| r.version)
            .find(|&v| Some(v) < serving);
        self.change_routing(name, |r| {
            if r.canary.is_some() {
                return Ok(RoutingSpec {
                    canary: None,
                    ..r.clone()
                });
            }
            let previous = previous.ok_or_else(|| {
                format!("model '{name}' has no canary and no ready version below the one serving")
            })?;
            Ok(RoutingSpec {
                primary: Some(previous),
                ..r.clone()
            })
        })
    }

    /// Ends the canary of `route` if it is still the one serving `name`
    /// (the automatic rollback when the canary fails too often).
    pub fn rollback_canary_of(&self, name: &str, route: &Arc<Route>) {
        let Some(slot) = self.model(name) else {
            return;
        };
        let current = slot.route();
        if !current.is_some_and(|c| Arc::ptr_eq(&c, route)) {
            return;
        }
        if let Ok(mut state) = slot.state.lock() {
            state.routing.canary = None;
        }
        self.metrics.canary_rollback(name);
        self.choose_serving(&slot);
    }

    fn change_routing(
        &self,
        name: &str,
        change: impl FnOnce(&RoutingSpec) -> Result<RoutingSpec, String>,
    ) -> Result<(), String> {
        let slot = self
            .model(name)
            .ok_or_else(|| format!("no model named '{name}'"))?;
        {
            let mut state = slot
                .state
                .lock()
                .map_err(|_| "the registry is unavailable".to_owned())?;
            state.routing = change(&state.routing)?;
        }
        self.choose_serving(&slot);
        Ok(())
    }

    fn model_folders(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.config.root) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| is_valid_model_name(name))
            .collect();
        names.sort();
        names
    }

    fn scan_model(&self, slot: &ModelSlot, force: bool) {
        let dir = self.config.root.join(&slot.name);
        let mut found: BTreeMap<u64, Fingerprint> = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.filter_map(Result::ok) {
                let Some(version) = entry.file_name().to_str().and_then(parse_version) else {
                    continue;
                };
                if let Some(fingerprint) = version_fingerprint(&entry.path()) {
                    found.insert(version, fingerprint);
                }
            }
        }

        let routing_path = dir.join(ROUTING_FILE);
        let routing_file = std::fs::metadata(&routing_path)
            .ok()
            .map(|meta| Fingerprint {
                len: meta.len(),
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });

        // Decide what to validate while holding the lock; validate without it.
        let mut to_validate = Vec::new();
        if let Ok(mut state) = slot.state.lock() {
            if routing_file != state.routing_file {
                state.routing_file = routing_file;
                let parsed = match routing_file {
                    None => Ok(RoutingSpec::default()),
                    Some(_) => std::fs::read_to_string(&routing_path)
                        .map_err(|e| e.to_string())
                        .and_then(|text| {
                            toml::from_str::<RoutingSpec>(&text).map_err(|e| e.to_string())
                        })
                        .and_then(|spec| spec.validate().map(|()| spec)),
                };
                match parsed {
                    Ok(spec) => {
                        log(&format!("model {}: routing {spec:?}", slot.name));
                        state.routing = spec;
                        state.routing_error = None;
                    }
                    Err(e) => {
                        log(&format!(
                            "model {}: {} refused, routing unchanged: {e}",
                            slot.name,
                            routing_path.display()
                        ));
                        state.routing_error = Some(e);
                    }
                }
            }
            state.versions.retain(|version, _| {
                let keep = found.contains_key(version);
                if !keep {
                    log(&format!(
                        "model {} version {version}: removed from disk",
                        slot.name
                    ));
                }
                keep
            });
            for (&version, &fingerprint) in &found {
                let previous = state.versions.get(&version);
                let unchanged = previous.is_some_and(|e| e.fingerprint == fingerprint);
                let settled = unchanged
                    || force
                    || fingerprint
                        .modified
                        .elapsed()
                        .is_ok_and(|age| age >= self.config.settle);
                let already_done = unchanged
                    && previous.is_some_and(|e| !matches!(e.status, VersionStatus::Pending));
                if already_done {
                    continue;
                }
                if settled {
                    to_validate.push((version, fingerprint));
                } else {
                    state.versions.insert(
                        version,
                        VersionEntry {
                            fingerprint,
                            status: VersionStatus::Pending,
                        },
                    );
                }
            }
        }

        for (version, fingerprint) in to_validate {
            let path = dir.join(version.to_string());
            let status = match LoadedVersion::load(
                &self.engine,
                self.cache.as_ref(),
                self.config.feature_store.as_ref(),
                &slot.name,
                version,
                &path,
            ) {
                Ok(loaded) => {
                    log(&format!(
                        "model {} version {version}: validated (golden vectors reproduced)",
                        slot.name
                    ));
                    VersionStatus::Ready(Arc::new(loaded))
                }
                Err(e) => {
                    log(&format!(
                        "model {} version {version}: rejected: {e}",
                        slot.name
                    ));
                    self.metrics.rejected_load(&slot.name);
                    VersionStatus::Rejected(e.to_string())
                }
            };
            if let Ok(mut state) = slot.state.lock() {
                state.versions.insert(
                    version,
                    VersionEntry {
                        fingerprint,
                        status,
                    },
                );
            }
        }
        self.choose_serving(slot);
    }

    /// Points the model at the route its routing asks for: the primary if it
    /// is ready, else the highest ready version; the canary and the shadow
    /// when they are ready and not the primary; nothing when unloaded.
    fn choose_serving(&self, slot: &ModelSlot) {
        let chosen = {
            let Ok(state) = slot.state.lock() else {
                return;
            };
            let ready = |v: &u64| match state.versions.get(v).map(|e| &e.status) {
                Some(VersionStatus::Ready(loaded)) => Some(loaded.clone()),
                _ => None,
            };
            let primary = if state.unloaded {
                None
            } else {
                state
                    .routing
                    .primary
                    .as_ref()
                    .and_then(ready)
                    .or_else(|| state.versions.keys().rev().find_map(ready))
            };
            primary.map(|primary| {
                let other = |v: u64| ready(&v).filter(|l| !Arc::ptr_eq(l, &primary));
                Route {
                    canary: state
                        .routing
                        .canary
                        .and_then(|c| other(c.version).map(|v| Canary::new(v, c.percent))),
                    shadow: state.routing.shadow.and_then(other),
                    primary,
                }
            })
        };
        let current = slot.serving.load_full();
        let describe = |route: Option<&Route>| match route {
            None => "nothing".to_owned(),
            Some(r) => {
                let mut text = format!("version {}", r.primary.version);
                if let Some(c) = &r.canary {
                    text.push_str(&format!(", canary {} at {}%", c.version.version, c.percent));
                }
                if let Some(s) = &r.shadow {
                    text.push_str(&format!(", shadow {}", s.version));
                }
                text
            }
        };
        let (before, after) = (describe(current.as_deref()), describe(chosen.as_ref()));
        let same_versions = |a: &Route, b: &Route| {
            Arc::ptr_eq(&a.primary, &b.primary)
                && match (&a.canary, &b.canary) {
                    (Some(x), Some(y)) => {
                        Arc::ptr_eq(&x.version, &y.version) && x.percent == y.percent
                    }
                    (None, None) => true,
                    _ => false,
                }
                && match (&a.shadow, &b.shadow) {
                    (Some(x), Some(y)) => Arc::ptr_eq(x, y),
                    (None, None) => true,
                    _ => false,
                }
        };
        let unchanged = match (&current, &chosen) {
            (Some(a), Some(b)) => same_versions(a, b),
            (None, None) => true,
            _ => false,
        };
        if unchanged {
            return;
        }
        log(&format!(
            "model {}: now serving {after} (was {before})",
            slot.name
        ));
        slot.serving.store(chosen.map(Arc::new));
        self.metrics.swap(&slot.name);
    }
}
