//! Scanning a model's folder: versions found, changed and removed, each
//! validated in version order, and the route its state asks for served.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Registry;
use super::slot::{Fingerprint, ModelSlot, VersionEntry, VersionStatus, version_fingerprint};
use crate::audit::{actor, version_details};
use crate::loaded_version::{LoadedVersion, ServingOptions};
use crate::names::{is_valid_model_name, parse_version, why_not_a_version};
use crate::rollout;
use crate::routing::{Canary, ROUTING_FILE, Route};
use crate::schema::FeatureSchema;
use crate::signatures::{SignedBy, verify_version};
use edgescore_trust::AuditAction;

impl Registry {
    pub(super) fn model_folders(&self) -> Vec<String> {
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

    pub(super) fn scan_model(&self, slot: &ModelSlot, force: bool) {
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
        {
            let mut state = slot.state.lock();
            for (folder, why) in &ignored {
                if !state.ignored.contains_key(folder) {
                    tracing::info!(
                        "model {}: folder {} ignored: {why}",
                        slot.name,
                        dir.join(folder).display()
                    );
                }
            }
            state.ignored = ignored;
            self.refresh_routing(slot, &mut state);
            state.versions.retain(|version, _| {
                let keep = found.contains_key(version);
                if !keep {
                    tracing::info!("model {} version {version}: removed from disk", slot.name);
                    self.metrics.forget_version(&slot.name, *version);
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
            let serving = ServingOptions {
                settings: self
                    .config
                    .serving
                    .get(&slot.name)
                    .copied()
                    .unwrap_or_default(),
                metrics: Some(self.metrics.clone()),
                drift: self.config.drift,
            };
            let (status, held_schema) = match self.verify_signature(slot, version, &path) {
                Err(why) => (VersionStatus::Rejected(why), None),
                Ok(signature) => match LoadedVersion::load(
                    &self.engine,
                    self.cache.as_ref(),
                    self.config.feature_store.as_ref(),
                    &serving,
                    &slot.name,
                    version,
                    &path,
                ) {
                    Ok(mut loaded) => {
                        loaded.signature = signature;
                        match self.schema_refusal(slot, &loaded) {
                            None => {
                                tracing::info!(
                                    "model {} version {version}: validated (golden vectors reproduced)",
                                    slot.name
                                );
                                self.config.audit.record(
                                    actor::REGISTRY,
                                    AuditAction::Load,
                                    Some(&slot.name),
                                    Some(version),
                                    version_details(&loaded),
                                );
                                (VersionStatus::Ready(Arc::new(loaded)), None)
                            }
                            Some(why) => {
                                self.rejected(slot, version, &why, "schema_change");
                                (
                                    VersionStatus::Rejected(why),
                                    Some(FeatureSchema::of(&loaded)),
                                )
                            }
                        }
                    }
                    Err(e) => {
                        let why = e.to_string();
                        self.rejected(slot, version, &why, "invalid");
                        (VersionStatus::Rejected(why), None)
                    }
                },
            };
            {
                let mut state = slot.state.lock();
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

    /// With trust roots, checks the version folder's signature before
    /// anything in it is compiled: who signed it, or why it may not load
    /// (already logged, counted and audited).
    fn verify_signature(
        &self,
        slot: &ModelSlot,
        version: u64,
        path: &std::path::Path,
    ) -> Result<Option<SignedBy>, String> {
        let Some(trust) = &self.config.trust else {
            return Ok(None);
        };
        match verify_version(trust, path) {
            Ok(signed) => Ok(Some(signed)),
            Err(refusal) => {
                let kind = refusal.kind().as_str();
                let why = format!("signature refused ({kind}): {refusal}");
                self.metrics.signature_refused(&slot.name, kind);
                self.rejected(slot, version, &why, kind);
                Err(why)
            }
        }
    }

    /// Logs, counts and audits a version that may not load.
    fn rejected(&self, slot: &ModelSlot, version: u64, why: &str, kind: &str) {
        tracing::warn!("model {} version {version}: rejected: {why}", slot.name);
        self.metrics.rejected_load(&slot.name);
        self.config.audit.record(
            actor::REGISTRY,
            AuditAction::Reject,
            Some(&slot.name),
            Some(version),
            serde_json::json!({ "reason": why, "kind": kind }),
        );
    }

    /// Why `candidate` may not load for its schema: it differs from the
    /// primary's and the routing does not allow schema changes.
    pub(super) fn schema_refusal(
        &self,
        slot: &ModelSlot,
        candidate: &LoadedVersion,
    ) -> Option<String> {
        let state = slot.state.lock();
        let primary = state.primary_besides(Some(candidate.version))?;
        let change = FeatureSchema::of(candidate).change_from(&FeatureSchema::of(&primary))?;
        if state.routing.allow_schema_change {
            tracing::info!(
                "model {} version {}: schema change from version {} allowed by the routing: {change}",
                slot.name,
                candidate.version,
                primary.version
            );
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
    pub(super) fn choose_serving(&self, slot: &ModelSlot) {
        // Held across the swap, so two callers cannot store their choices
        // in the opposite order to the one they made them in.
        let state = slot.state.lock();
        let ready = state
            .versions
            .keys()
            .copied()
            .filter(|&v| state.ready(v).is_some())
            .collect();
        let wanted = rollout::Wanted {
            primary: state.routing.primary,
            canary: state.routing.canary.map(|c| (c.version, c.percent)),
            shadow: state.routing.shadow,
        };
        let chosen = rollout::choose_route(wanted, &ready, state.unloaded).and_then(|choice| {
            Some(Route {
                primary: state.ready(choice.primary)?,
                canary: choice.canary.and_then(|(version, percent)| {
                    state.ready(version).map(|v| Canary::new(v, percent))
                }),
                shadow: choice.shadow.and_then(|version| state.ready(version)),
            })
        });
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
        tracing::info!("model {}: now serving {after} (was {before})", slot.name);
        self.swaps.push(super::Swap {
            at: edgescore_models::transform::format_rfc3339_ms(
                edgescore_runtime::feature_store::now_ms(),
            ),
            model: slot.name.clone(),
            from: current.as_ref().map(|r| r.primary.version),
            to: chosen.as_ref().map(|r| r.primary.version),
            route: after.clone(),
        });
        // Recorded under the lock, so the log has the swaps in the order
        // they were served.
        self.config.audit.record(
            actor::REGISTRY,
            AuditAction::Swap,
            Some(&slot.name),
            chosen.as_ref().map(|r| r.primary.version),
            serde_json::json!({
                "from": before,
                "to": after,
                "primary": chosen.as_ref().map(|r| version_details(&r.primary)),
            }),
        );
        slot.serving.store(chosen.map(Arc::new));
        drop(state);
        self.metrics.swap(&slot.name);
    }
}
