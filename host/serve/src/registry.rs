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

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;

use super::loaded_version::LoadedVersion;
use super::log;
use super::metrics::Metrics;
use super::names::{is_valid_model_name, parse_version, why_not_a_version};
use super::routing::{Canary, ROUTING_FILE, Route, RoutingError, RoutingSpec};
use super::schema::FeatureSchema;
use edgescore_runtime::atomic_file::AtomicFile;
use edgescore_runtime::compiled_cache::CompiledCache;
use edgescore_runtime::engine::ScoringEngine;

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
    if dir
        .join(edgescore_runtime::pipeline::PIPELINE_FILE)
        .is_file()
    {
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
    /// Folders of the model that are not versions (`latest`, `010`), with
    /// why: logged once when first seen, listed by `GET /v1/models/<m>`.
    ignored: BTreeMap<String, &'static str>,
}

#[derive(Debug)]
struct VersionEntry {
    fingerprint: Fingerprint,
    status: VersionStatus,
    /// For a version rejected only because its schema differs from the
    /// primary's: that schema, to know when to validate it again.
    held_schema: Option<FeatureSchema>,
}

impl SlotState {
    /// A ready version.
    fn ready(&self, version: u64) -> Option<Arc<LoadedVersion>> {
        match self.versions.get(&version).map(|e| &e.status) {
            Some(VersionStatus::Ready(loaded)) => Some(loaded.clone()),
            _ => None,
        }
    }

    /// The primary the routing asks for if it is ready, else the highest
    /// ready version (whether or not the model is unloaded).
    fn primary(&self) -> Option<Arc<LoadedVersion>> {
        self.primary_besides(None)
    }

    /// [`SlotState::primary`] as if version `besides` were not there: what
    /// a version is compared with, whatever an older file of the same
    /// version held (as a restart would, validating in version order).
    fn primary_besides(&self, besides: Option<u64>) -> Option<Arc<LoadedVersion>> {
        let ready = |v: u64| {
            Some(v)
                .filter(|&v| Some(v) != besides)
                .and_then(|v| self.ready(v))
        };
        self.routing
            .primary
            .and_then(ready)
            .or_else(|| self.versions.keys().rev().find_map(|&v| ready(v)))
    }

    /// Versions held back for their schema that may load now: the routing
    /// allows schema changes, the primary has their schema, or nothing
    /// is left to compare with.
    fn released_versions(&self) -> BTreeSet<u64> {
        self.versions
            .iter()
            .filter_map(|(&v, e)| e.held_schema.as_ref().map(|s| (v, s)))
            .filter(|&(v, schema)| {
                self.routing.allow_schema_change
                    || self
                        .primary_besides(Some(v))
                        .is_none_or(|p| FeatureSchema::of(&p) == *schema)
            })
            .map(|(v, _)| v)
            .collect()
    }
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

impl Fingerprint {
    fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            len: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        }
    }
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

    /// Whether `version` was rejected only for a schema change, so that a
    /// routing with `allow_schema_change` would load it.
    pub fn held_for_schema_change(&self, version: u64) -> bool {
        self.state.lock().is_ok_and(|state| {
            state
                .versions
                .get(&version)
                .is_some_and(|e| e.held_schema.is_some())
        })
    }

    /// The model's folders that are not versions, by name, with why they
    /// are ignored. Hidden folders (a leading `.`) are not listed.
    pub fn ignored_folders(&self) -> Vec<(String, &'static str)> {
        self.state
            .lock()
            .map(|s| s.ignored.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
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
    pub feature_store: Option<Arc<dyn edgescore_runtime::feature_store::FeatureStore>>,
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

    /// Why each model that should serve does not: one line per model
    /// without a serving version, with each version's state (models
    /// unloaded through the API are meant to serve nothing and are left
    /// out). Empty when every model serves.
    pub fn not_serving(&self) -> Vec<String> {
        self.models()
            .iter()
            .filter(|slot| slot.route().is_none())
            .filter_map(|slot| {
                let Ok(state) = slot.state.lock() else {
                    return Some(format!(
                        "model '{}': its state is unavailable after an internal error",
                        slot.name
                    ));
                };
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

    /// Replaces the routing of `name`. Every version it names must be
    /// ready, or (with `allow_schema_change`) rejected only for its schema:
    /// such versions are validated again at once.
    pub fn set_routing(&self, name: &str, spec: RoutingSpec) -> Result<(), RoutingError> {
        spec.validate().map_err(RoutingError::Refused)?;
        self.change_routing(name, |state, _| {
            let named = [spec.primary, spec.canary.map(|c| c.version), spec.shadow];
            let usable = |v: u64| {
                state.ready(v).is_some()
                    || (spec.allow_schema_change
                        && state
                            .versions
                            .get(&v)
                            .is_some_and(|e| e.held_schema.is_some()))
            };
            match named.into_iter().flatten().find(|&v| !usable(v)) {
                Some(missing) => Err(RoutingError::Refused(format!(
                    "model '{name}' has no ready version {missing}; GET /v1/models/{name} lists them"
                ))),
                None => Ok(spec),
            }
        })
    }

    /// Makes the canary the primary and ends the canary.
    pub fn promote(&self, name: &str) -> Result<(), RoutingError> {
        self.change_routing(name, |_, r| {
            let canary = r.canary.ok_or_else(|| {
                RoutingError::Refused(format!("model '{name}' has no canary to promote"))
            })?;
            Ok(RoutingSpec {
                primary: Some(canary.version),
                canary: None,
                ..r.clone()
            })
        })
    }

    /// Ends the canary; without one, pins the primary to the highest ready
    /// version below the one serving.
    pub fn rollback(&self, name: &str) -> Result<(), RoutingError> {
        let slot = self
            .model(name)
            .ok_or_else(|| RoutingError::Refused(format!("no model named '{name}'")))?;
        let serving = slot.serving().map(|v| v.version);
        self.change_routing(name, |state, r| {
            if r.canary.is_some() {
                return Ok(RoutingSpec {
                    canary: None,
                    ..r.clone()
                });
            }
            let previous = state
                .versions
                .keys()
                .rev()
                .copied()
                .filter(|&v| state.ready(v).is_some())
                .find(|&v| Some(v) < serving)
                .ok_or_else(|| {
                    RoutingError::Refused(format!(
                        "model '{name}' has no canary and no ready version below the one serving"
                    ))
                })?;
            Ok(RoutingSpec {
                primary: Some(previous),
                ..r.clone()
            })
        })
    }

    /// Ends the canary of `route` if it is still the one serving `name`
    /// (the automatic rollback when the canary fails too often). The canary
    /// stops taking requests at once; the routing file is written after.
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
        let written = self.change_routing(name, |_, r| {
            Ok(RoutingSpec {
                canary: None,
                ..r.clone()
            })
        });
        if let Err(e) = written {
            log(&format!(
                "model {name}: the canary is rolled back, but a restart would bring it back: {e}"
            ));
        }
    }

    /// Makes one routing change: reads a hand edit of the routing file not
    /// yet seen, computes the new routing from the current one, writes it
    /// durably, and only then serves it. Nothing changes when the file
    /// cannot be written.
    fn change_routing(
        &self,
        name: &str,
        change: impl FnOnce(&SlotState, &RoutingSpec) -> Result<RoutingSpec, RoutingError>,
    ) -> Result<(), RoutingError> {
        let slot = self
            .model(name)
            .ok_or_else(|| RoutingError::Refused(format!("no model named '{name}'")))?;
        // The guard protects no data, so a panic elsewhere leaves nothing to repair.
        let _one_at_a_time = self
            .routing_writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let unavailable = || RoutingError::Refused("the registry is unavailable".to_owned());
        let spec = {
            let mut state = slot.state.lock().map_err(|_| unavailable())?;
            self.refresh_routing(&slot, &mut state);
            change(&state, &state.routing)?
        };
        spec.validate().map_err(RoutingError::Refused)?;
        let written = self.write_routing(&slot.name, &spec)?;
        let released = {
            let mut state = slot.state.lock().map_err(|_| unavailable())?;
            state.routing_file = Some(written);
            state.routing_error = None;
            state.routing = spec;
            !state.released_versions().is_empty()
        };
        if released {
            // Versions held back for their schema may load now: validate
            // them before answering, so the answer shows them.
            let _scan = self
                .scanning
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            self.scan_model(&slot, false);
        } else {
            self.choose_serving(&slot);
        }
        Ok(())
    }

    /// Writes `spec` as the routing file of model `name`, durably; answers
    /// what identifies the file written.
    fn write_routing(&self, name: &str, spec: &RoutingSpec) -> Result<Fingerprint, RoutingError> {
        let path = self.config.root.join(name).join(ROUTING_FILE);
        let not_persisted = |e: &dyn std::fmt::Display| RoutingError::NotPersisted(e.to_string());
        let text = spec.to_toml().map_err(|e| not_persisted(&e))?;
        let mut file = AtomicFile::create(&path).map_err(|e| not_persisted(&e))?;
        file.writer()
            .write_all(text.as_bytes())
            .map_err(|e| not_persisted(&format!("cannot write {}: {e}", path.display())))?;
        let meta = file.commit_with_metadata().map_err(|e| not_persisted(&e))?;
        log(&format!(
            "model {name}: routing {spec:?} written to {}",
            path.display()
        ));
        Ok(Fingerprint::of(&meta))
    }

    /// Reads the routing file of `slot` again if it changed since it was
    /// last read or written (a missing file is the default routing; a file
    /// that does not parse is refused and the routing stays).
    fn refresh_routing(&self, slot: &ModelSlot, state: &mut SlotState) {
        let routing_path = self.config.root.join(&slot.name).join(ROUTING_FILE);
        let routing_file = std::fs::metadata(&routing_path)
            .ok()
            .map(|meta| Fingerprint::of(&meta));
        if routing_file == state.routing_file {
            return;
        }
        state.routing_file = routing_file;
        let parsed = match routing_file {
            None => Ok(RoutingSpec::default()),
            Some(_) => std::fs::read_to_string(&routing_path)
                .map_err(|e| e.to_string())
                .and_then(|text| RoutingSpec::from_toml(&text)),
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
        let mut ignored: BTreeMap<String, &'static str> = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.filter_map(Result::ok) {
                let name = entry.file_name();
                let Some(version) = name.to_str().and_then(parse_version) else {
                    let name = name.to_string_lossy();
                    if !name.starts_with('.') && entry.file_type().is_ok_and(|t| t.is_dir()) {
                        ignored.insert(name.to_string(), why_not_a_version(&name));
                    }
                    continue;
                };
                if let Some(fingerprint) = version_fingerprint(&entry.path()) {
                    found.insert(version, fingerprint);
                }
            }
        }

        // Decide what to validate while holding the lock; validate without it.
        let mut to_validate = Vec::new();
        if let Ok(mut state) = slot.state.lock() {
            for (folder, why) in &ignored {
                if !state.ignored.contains_key(folder) {
                    log(&format!(
                        "model {}: folder {} ignored: {why}",
                        slot.name,
                        dir.join(folder).display()
                    ));
                }
            }
            state.ignored = ignored;
            self.refresh_routing(slot, &mut state);
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
            let released = state.released_versions();
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
                    && previous.is_some_and(|e| !matches!(e.status, VersionStatus::Pending))
                    && !released.contains(&version);
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
                            held_schema: None,
                        },
                    );
                }
            }
        }

        // In version order, each compared with the primary as it stands
        // after the versions before it.
        for (version, fingerprint) in to_validate {
            let path = dir.join(version.to_string());
            let (status, held_schema) = match LoadedVersion::load(
                &self.engine,
                self.cache.as_ref(),
                self.config.feature_store.as_ref(),
                &slot.name,
                version,
                &path,
            ) {
                Ok(loaded) => match self.schema_refusal(slot, &loaded) {
                    None => {
                        log(&format!(
                            "model {} version {version}: validated (golden vectors reproduced)",
                            slot.name
                        ));
                        (VersionStatus::Ready(Arc::new(loaded)), None)
                    }
                    Some(why) => {
                        log(&format!(
                            "model {} version {version}: rejected: {why}",
                            slot.name
                        ));
                        self.metrics.rejected_load(&slot.name);
                        (
                            VersionStatus::Rejected(why),
                            Some(FeatureSchema::of(&loaded)),
                        )
                    }
                },
                Err(e) => {
                    log(&format!(
                        "model {} version {version}: rejected: {e}",
                        slot.name
                    ));
                    self.metrics.rejected_load(&slot.name);
                    (VersionStatus::Rejected(e.to_string()), None)
                }
            };
            if let Ok(mut state) = slot.state.lock() {
                state.versions.insert(
                    version,
                    VersionEntry {
                        fingerprint,
                        status,
                        held_schema,
                    },
                );
            }
        }
        self.choose_serving(slot);
    }

    /// Why `candidate` may not load for its schema: it differs from the
    /// primary's and the routing does not allow schema changes.
    fn schema_refusal(&self, slot: &ModelSlot, candidate: &LoadedVersion) -> Option<String> {
        let state = slot.state.lock().ok()?;
        let primary = state.primary_besides(Some(candidate.version))?;
        let change = FeatureSchema::of(candidate).change_from(&FeatureSchema::of(&primary))?;
        if state.routing.allow_schema_change {
            log(&format!(
                "model {} version {}: schema change from version {} allowed by the routing: {change}",
                slot.name, candidate.version, primary.version
            ));
            return None;
        }
        Some(format!(
            "its schema differs from version {}'s, the primary ({change}): clients of version {} \
             would be refused. To accept the change, set allow_schema_change = true in \
             {}/{ROUTING_FILE} or POST /admin/models/{}/routing with \"allow_schema_change\": true",
            primary.version, primary.version, slot.name, slot.name
        ))
    }

    /// Points the model at the route its routing asks for: the primary if it
    /// is ready, else the highest ready version; the canary and the shadow
    /// when they are ready and not the primary; nothing when unloaded.
    fn choose_serving(&self, slot: &ModelSlot) {
        // Held across the swap, so two callers cannot store their choices
        // in the opposite order to the one they made them in.
        let Ok(state) = slot.state.lock() else {
            return;
        };
        let chosen = {
            let primary = if state.unloaded {
                None
            } else {
                state.primary()
            };
            primary.map(|primary| {
                let other = |v: u64| state.ready(v).filter(|l| !Arc::ptr_eq(l, &primary));
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
        drop(state);
        self.metrics.swap(&slot.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(root: &Path) -> Registry {
        Registry::new(
            RegistryConfig {
                root: root.to_owned(),
                settle: Duration::ZERO,
                feature_store: None,
            },
            Arc::new(
                ScoringEngine::new(edgescore_runtime::limits::Limits::default()).expect("engine"),
            ),
            None,
            Arc::new(Metrics::default()),
        )
    }

    #[test]
    fn a_model_whose_versions_are_all_rejected_is_named_with_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        for version in ["1", "2"] {
            let folder = dir.path().join("broken").join(version);
            std::fs::create_dir_all(&folder).expect("mkdir");
            std::fs::write(folder.join(COMPONENT_FILE), b"not a component").expect("write");
        }
        std::fs::create_dir_all(dir.path().join("empty")).expect("mkdir");
        let registry = registry(dir.path());
        registry.scan(true);

        let not_serving = registry.not_serving();
        assert_eq!(not_serving.len(), 2, "{not_serving:?}");
        assert!(
            not_serving[0]
                .starts_with("model 'broken' has no version serving: version 1 rejected: ")
                && not_serving[0].contains("; version 2 rejected: "),
            "{not_serving:?}"
        );
        assert_eq!(
            not_serving[1],
            "model 'empty' has no version serving: no version on disk"
        );

        // Unloaded on purpose, a model is not expected to serve.
        assert!(registry.unload("broken"));
        assert!(registry.unload("empty"));
        assert!(registry.not_serving().is_empty());
    }
}
