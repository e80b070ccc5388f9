//! One model's slot in the registry: the route serving it (swapped
//! atomically) and what is known of each version folder on disk.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use parking_lot::Mutex;

use crate::loaded_version::{COMPONENT_FILE, LoadedVersion};
use crate::routing::{Route, RoutingSpec};
use crate::schema::FeatureSchema;

/// What identifies the contents of a version folder: for a model its
/// `model.wasm` (and its signature `model.sig`, when there is one); for a pipeline every file in the folder together (the
/// largest modification time, the total size), so a part written late
/// is noticed. `None` when the folder holds neither.
pub(super) fn version_fingerprint(dir: &Path) -> Option<Fingerprint> {
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
    // The component and its detached signature together: a signature
    // added or replaced later is a change of the version.
    let mut model = single(&dir.join(COMPONENT_FILE))?;
    if let Some(signature) = single(&dir.join(crate::signatures::SIGNATURE_FILE)) {
        model.len += signature.len;
        model.modified = model.modified.max(signature.modified);
    }
    Some(model)
}

/// One model: the route serving it (swapped atomically) and what is known
/// of every version on disk.
#[derive(Debug)]
pub struct ModelSlot {
    pub name: String,
    pub(super) serving: ArcSwapOption<Route>,
    pub(super) state: Mutex<SlotState>,
}

#[derive(Debug, Default)]
pub(super) struct SlotState {
    pub(super) versions: BTreeMap<u64, VersionEntry>,
    /// What the routing file or the admin API asked for, whichever was last.
    pub(super) routing: RoutingSpec,
    /// The routing file as last read, so it is read again only when it changes.
    pub(super) routing_file: Option<Fingerprint>,
    /// Why the routing file was refused, if it was.
    pub(super) routing_error: Option<String>,
    /// Unloaded through the repository API: nothing serves until loaded again.
    pub(super) unloaded: bool,
    /// Folders of the model that are not versions (`latest`, `010`), with
    /// why: logged once when first seen, listed by `GET /v1/models/<m>`.
    pub(super) ignored: BTreeMap<String, &'static str>,
}

#[derive(Debug)]
pub(super) struct VersionEntry {
    pub(super) fingerprint: Fingerprint,
    pub(super) status: VersionStatus,
    /// For a version rejected only because its schema differs from the
    /// primary's: that schema, to know when to validate it again.
    pub(super) held_schema: Option<FeatureSchema>,
}

impl SlotState {
    /// A ready version.
    pub(super) fn ready(&self, version: u64) -> Option<Arc<LoadedVersion>> {
        match self.versions.get(&version).map(|e| &e.status) {
            Some(VersionStatus::Ready(loaded)) => Some(loaded.clone()),
            _ => None,
        }
    }

    /// The primary the routing asks for if it is ready, else the highest
    /// ready version (whether or not the model is unloaded), as if version
    /// `besides` were not there: what a version is compared with, whatever
    /// an older file of the same version held (as a restart would,
    /// validating in version order).
    pub(super) fn primary_besides(&self, besides: Option<u64>) -> Option<Arc<LoadedVersion>> {
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
    pub(super) fn released_versions(&self) -> BTreeSet<u64> {
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
pub(super) struct Fingerprint {
    pub(super) len: u64,
    pub(super) modified: SystemTime,
}

impl Fingerprint {
    pub(super) fn of(meta: &std::fs::Metadata) -> Self {
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

impl VersionReport {
    /// The keys that signed a ready version (`None`: signatures are not
    /// checked, or the version is not ready).
    pub fn signers(&self) -> Option<Vec<String>> {
        match &self.status {
            VersionStatus::Ready(v) => v.signature.as_ref().map(|s| s.signers.clone()),
            _ => None,
        }
    }
}

impl ModelSlot {
    pub(super) fn new(name: &str) -> Self {
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
        let state = self.state.lock();
        (state.routing.clone(), state.routing_error.clone())
    }

    /// A specific ready version.
    pub fn version(&self, version: u64) -> Option<Arc<LoadedVersion>> {
        let state = self.state.lock();
        match state.versions.get(&version).map(|e| &e.status) {
            Some(VersionStatus::Ready(v)) => Some(v.clone()),
            _ => None,
        }
    }

    /// Whether `version` was rejected only for a schema change, so that a
    /// routing with `allow_schema_change` would load it.
    pub fn held_for_schema_change(&self, version: u64) -> bool {
        self.state
            .lock()
            .versions
            .get(&version)
            .is_some_and(|e| e.held_schema.is_some())
    }

    /// The model's folders that are not versions, by name, with why they
    /// are ignored. Hidden folders (a leading `.`) are not listed.
    pub fn ignored_folders(&self) -> Vec<(String, &'static str)> {
        let state = self.state.lock();
        state.ignored.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Every known version, lowest first.
    pub fn report(&self) -> Vec<VersionReport> {
        let serving = self.serving().map(|v| v.version);
        let state = self.state.lock();
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
