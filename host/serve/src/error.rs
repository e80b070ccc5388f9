//! Why `edgescore serve` could not start. Once it serves, a request's
//! failure is an [`crate::api_error::ApiError`] and costs only that request.

use std::net::SocketAddr;
use std::path::PathBuf;

use edgescore_runtime::feature_store::StoreError;

/// A server that cannot start, and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the registry {0} is not a folder; create it, or leave out --registry to serve the demo model"
    )]
    RegistryNotAFolder(PathBuf),
    #[error("cannot start the wasmtime engine: {0:#}")]
    Engine(wasmtime::Error),
    #[error("cannot create the demo registry in {path}: {source}")]
    DemoRegistry {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("feature store {url}: {source}")]
    FeatureStore {
        url: String,
        #[source]
        source: StoreError,
    },
    #[error("unknown feature store '{0}': use `embedded` or a redis://host:port URL")]
    UnknownFeatureStore(String),
    #[error("cannot read the config {path}: {source}")]
    ReadConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the config {path} is not valid: {source}")]
    InvalidConfig {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// A `[models.<m>]` table asks for something this server cannot do.
    #[error("the config's model settings: {0}")]
    ModelServing(String),
    #[error("cannot start the alert log: {0}")]
    Alerts(#[source] std::io::Error),
    #[error("the config's admin tokens: {0}")]
    AdminTokens(#[source] crate::admin_tokens::AdminTokenError),
    #[error("the trust roots: {0}")]
    Trust(#[source] edgescore_trust::TrustError),
    #[error("cannot open the audit log: {0}")]
    Audit(#[source] edgescore_trust::AuditError),
    #[error("cannot watch the registry: {0}")]
    Watch(#[source] std::io::Error),
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}
