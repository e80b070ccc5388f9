//! The pipeline a stream runs: a pipeline folder, loaded once; or a
//! pipeline served from a registry folder, hot-swapped as `serve` swaps it
//! (the same registry code: validation, golden vectors, routing files).
//! Each batch takes the serving version once and runs wholly on it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use edgescore_runtime::engine::ScoringEngine;
use edgescore_runtime::feature_store::FeatureStore;
use edgescore_runtime::limits::Limits;
use edgescore_runtime::pipeline::{Pipeline, StoreAccess};
use edgescore_serve::drift::VersionDrift;
use edgescore_serve::loaded_version::LoadedVersion;
use edgescore_serve::registry::{Registry, RegistryConfig};
use edgescore_serve::registry_watch::RegistryWatch;

use crate::StreamError;
use crate::config::StreamConfig;

/// A pipeline version in use.
#[derive(Debug, Clone)]
pub enum Serving {
    Folder {
        pipeline: Arc<Pipeline>,
        name: String,
        version: String,
        drift: Option<VersionDrift>,
    },
    Registry(Arc<LoadedVersion>),
}

impl Serving {
    pub fn pipeline(&self) -> &Pipeline {
        match self {
            Self::Folder { pipeline, .. } => pipeline,
            Self::Registry(version) => version
                .pipeline()
                .expect("a registry version is checked to be a pipeline when taken"),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Folder { name, .. } => name,
            Self::Registry(version) => &version.model,
        }
    }

    /// The version's live drift, when it has a reference profile.
    pub fn drift(&self) -> Option<&VersionDrift> {
        match self {
            Self::Folder { drift, .. } => drift.as_ref(),
            Self::Registry(version) => version.drift.as_ref(),
        }
    }

    pub fn version(&self) -> String {
        match self {
            Self::Folder { version, .. } => version.clone(),
            Self::Registry(version) => version.version.to_string(),
        }
    }
}

#[derive(Debug)]
pub enum Pipelines {
    Folder(Serving),
    Registry {
        registry: Arc<Registry>,
        _watch: RegistryWatch,
        name: String,
    },
}

impl Pipelines {
    /// Loads the pipeline `config` names, its transform reaching `store`.
    pub fn open(
        config: &StreamConfig,
        store: Arc<dyn FeatureStore>,
        metrics: Arc<edgescore_serve::metrics::Metrics>,
    ) -> Result<Self, StreamError> {
        let trust = edgescore_serve::load_trust(&config.trust)
            .map_err(|e| StreamError::Pipeline(e.to_string()))?;
        metrics.set_signatures_checked(trust.is_some());
        let limits = Limits::default();
        let engine = ScoringEngine::new(limits)
            .map_err(|e| StreamError::Pipeline(format!("cannot start the engine: {e}")))?;
        match &config.registry {
            None => {
                let dir = Path::new(&config.pipeline);
                if !dir.is_dir() {
                    return Err(StreamError::Pipeline(format!(
                        "{} is not a folder: give a pipeline folder (with pipeline.toml), or --registry DIR with the pipeline's name",
                        dir.display()
                    )));
                }
                let name = dir
                    .canonicalize()
                    .ok()
                    .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_else(|| "pipeline".into());
                // Checked before anything in the folder is compiled.
                if let Some(trust) = &trust {
                    let signed = edgescore_serve::signatures::verify_version(trust, dir).map_err(
                        |refusal| {
                            StreamError::Pipeline(format!(
                                "{}: signature refused ({}): {refusal}",
                                dir.display(),
                                refusal.kind().as_str()
                            ))
                        },
                    )?;
                    tracing::info!(
                        "pipeline {}: signed by {}",
                        dir.display(),
                        signed.signers.join(", ")
                    );
                }
                let access = StoreAccess {
                    store: Some(store),
                    undoable: true,
                };
                let pipeline = Pipeline::load(&engine, None, dir, &name, "1", access)
                    .map_err(|e| StreamError::Pipeline(e.to_string()))?;
                // The folder's version: what its model is, by content.
                let version = pipeline.model_sha256()[..12].to_owned();
                let drift = VersionDrift::load(dir, &pipeline, &name, &version, &config.drift)
                    .map_err(|e| StreamError::Pipeline(format!("its reference profile {e}")))?;
                Ok(Self::Folder(Serving::Folder {
                    pipeline: Arc::new(pipeline),
                    name,
                    version,
                    drift,
                }))
            }
            Some(root) => {
                if !root.is_dir() {
                    return Err(StreamError::Pipeline(format!(
                        "the registry {} is not a folder",
                        root.display()
                    )));
                }
                let registry = Arc::new(Registry::new(
                    RegistryConfig {
                        root: root.clone(),
                        settle: Duration::from_secs(2),
                        feature_store: Some(store),
                        serving: Default::default(),
                        drift: config.drift,
                        trust: trust.clone(),
                        audit: Default::default(),
                    },
                    Arc::new(engine),
                    None,
                    metrics,
                ));
                registry.scan(true);
                let this = Self::Registry {
                    _watch: RegistryWatch::start(
                        registry.clone(),
                        Duration::from_millis(config.registry_poll_ms.max(10)),
                    )
                    .map_err(|e| {
                        StreamError::Pipeline(format!("cannot watch the registry: {e}"))
                    })?,
                    registry,
                    name: config.pipeline.clone(),
                };
                // Refused at start rather than message by message.
                this.current()?;
                Ok(this)
            }
        }
    }

    /// The registry the pipeline is served from, if it is.
    pub fn registry(&self) -> Option<&Arc<Registry>> {
        match self {
            Self::Folder(_) => None,
            Self::Registry { registry, .. } => Some(registry),
        }
    }

    /// The version serving now.
    pub fn current(&self) -> Result<Serving, StreamError> {
        match self {
            Self::Folder(serving) => Ok(serving.clone()),
            Self::Registry { registry, name, .. } => {
                let slot = registry.model(name).ok_or_else(|| {
                    StreamError::Pipeline(format!(
                        "the registry {} has no folder '{name}'",
                        registry.root().display()
                    ))
                })?;
                let version = slot.serving().ok_or_else(|| {
                    StreamError::Pipeline(format!(
                        "pipeline '{name}' has no version serving: {}",
                        registry.not_serving().join("; ")
                    ))
                })?;
                if version.pipeline().is_none() {
                    return Err(StreamError::Pipeline(format!(
                        "'{name}' in the registry is a model, not a pipeline"
                    )));
                }
                Ok(Serving::Registry(version))
            }
        }
    }
}
