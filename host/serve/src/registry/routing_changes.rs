//! Routing changes made through the registry (the admin API's routing,
//! promote and rollback, the automatic rollback of a failing canary): each
//! computed from the current routing, written durably, then served.

use std::io::Write as _;
use std::sync::Arc;

use super::Registry;
use super::slot::{Fingerprint, ModelSlot, SlotState};
use crate::routing::{ROUTING_FILE, Route, RoutingError, RoutingSpec};
use edgescore_runtime::atomic_file::AtomicFile;

impl Registry {
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
        {
            let mut state = slot.state.lock();
            state.routing.canary = None;
        }
        self.metrics.canary_rollback(name);
        self.config.audit.record(
            crate::audit::actor::CANARY_GUARD,
            edgescore_trust::AuditAction::Rollback,
            Some(name),
            route.canary.as_ref().map(|c| c.version.version),
            serde_json::json!({ "reason": "the canary failed too often; rolled back automatically" }),
        );
        self.choose_serving(&slot);
        let written = self.change_routing(name, |_, r| {
            Ok(RoutingSpec {
                canary: None,
                ..r.clone()
            })
        });
        if let Err(e) = written {
            tracing::warn!(
                "model {name}: the canary is rolled back, but a restart would bring it back: {e}"
            );
        }
    }

    /// Makes one routing change: reads a hand edit of the routing file not
    /// yet seen, computes the new routing from the current one, writes it
    /// durably, and only then serves it. Nothing changes when the file
    /// cannot be written.
    pub(super) fn change_routing(
        &self,
        name: &str,
        change: impl FnOnce(&SlotState, &RoutingSpec) -> Result<RoutingSpec, RoutingError>,
    ) -> Result<(), RoutingError> {
        let slot = self
            .model(name)
            .ok_or_else(|| RoutingError::Refused(format!("no model named '{name}'")))?;
        let _one_at_a_time = self.routing_writes.lock();
        let spec = {
            let mut state = slot.state.lock();
            self.refresh_routing(&slot, &mut state);
            change(&state, &state.routing)?
        };
        spec.validate().map_err(RoutingError::Refused)?;
        let written = self.write_routing(&slot.name, &spec)?;
        let released = {
            let mut state = slot.state.lock();
            state.routing_file = Some(written);
            state.routing_error = None;
            state.routing = spec;
            !state.released_versions().is_empty()
        };
        if released {
            // Versions held back for their schema may load now: validate
            // them before answering, so the answer shows them.
            let _scan = self.scanning.lock();
            self.scan_model(&slot, false);
        } else {
            self.choose_serving(&slot);
        }
        Ok(())
    }

    /// Writes `spec` as the routing file of model `name`, durably; answers
    /// what identifies the file written.
    pub(super) fn write_routing(
        &self,
        name: &str,
        spec: &RoutingSpec,
    ) -> Result<Fingerprint, RoutingError> {
        let path = self.config.root.join(name).join(ROUTING_FILE);
        let not_persisted = |e: &dyn std::fmt::Display| RoutingError::NotPersisted(e.to_string());
        let text = spec.to_toml().map_err(|e| not_persisted(&e))?;
        let mut file = AtomicFile::create(&path).map_err(|e| not_persisted(&e))?;
        file.writer()
            .write_all(text.as_bytes())
            .map_err(|e| not_persisted(&format!("cannot write {}: {e}", path.display())))?;
        let meta = file.commit_with_metadata().map_err(|e| not_persisted(&e))?;
        tracing::info!(
            "model {name}: routing {spec:?} written to {}",
            path.display()
        );
        Ok(Fingerprint::of(&meta))
    }

    /// Reads the routing file of `slot` again if it changed since it was
    /// last read or written (a missing file is the default routing; a file
    /// that does not parse is refused and the routing stays).
    pub(super) fn refresh_routing(&self, slot: &ModelSlot, state: &mut SlotState) {
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
                tracing::info!("model {}: routing {spec:?}", slot.name);
                state.routing = spec;
                state.routing_error = None;
            }
            Err(e) => {
                tracing::warn!(
                    "model {}: {} refused, routing unchanged: {e}",
                    slot.name,
                    routing_path.display()
                );
                state.routing_error = Some(e);
            }
        }
    }
}
