//! The server's settings: a TOML file (`--config`), overridden by the
//! command line, with defaults for everything.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! registry = "/srv/models"
//! admin_token = "..."          # or the EDGESCORE_ADMIN_TOKEN environment variable (named "admin")
//! trust = ["keys/trust.toml"]  # versions must be signed by one of these keys (edgescore sign)
//! audit_log = "/var/log/edgescore/audit.jsonl"  # hash-chained; edgescore audit verify
//! max_body_bytes = 4194304     # 4 MiB
//! max_rows_per_request = 10000 # rows (/v1, /v2) or transactions (pipelines)
//! max_text_bytes = 1024        # per text value of an event (ids, names)
//! max_fields_per_event = 256
//! body_timeout_ms = 10000
//! header_timeout_ms = 10000     # slow clients are disconnected
//! poll_interval_ms = 1000
//! settle_ms = 2000
//! deadline_ms = 10             # per call into a component
//! memory_mib = 64              # per instance
//! cache_dir = "/var/cache/edgescore"
//! canary_max_error_rate = 0.05 # automatic rollback above this failure share...
//! canary_min_requests = 20     # ...after this many canary requests
//!
//! [models.fraud]               # per model (crate::model_serving)
//! backend = "native"           # "component" (default), "native" or "gpu" (trusted models)
//! max_batch_rows = 64          # dynamic batching; 0 (default): off
//! max_queue_delay_us = 200
//!
//! [admin_tokens]               # more admin tokens, by name (the audit log's "actor")
//! alice = "..."
//!
//! [drift]                      # pipelines with a profile.json (edgescore_drift)
//! window_events = 10000        # the live window: the last N events...
//! window_seconds = 3600        # ...no older than this
//! min_events = 1000            # no state judged on fewer
//! check_every = 100            # states judged every N events
//! moderate = 0.1               # PSI thresholds
//! act = 0.25
//! hysteresis = 0.2             # a state is left 20% below its threshold
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use edgescore_runtime::limits::Limits;

use crate::model_serving::ModelServing;

/// The environment variable that holds the admin token when the file does not.
pub const ADMIN_TOKEN_ENV: &str = "EDGESCORE_ADMIN_TOKEN";

/// Every setting of `edgescore serve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// `None`: the embedded demo registry.
    pub registry: Option<PathBuf>,
    pub admin_token: Option<String>,
    /// Admin tokens by name: the name is who the audit log says acted.
    pub admin_tokens: BTreeMap<String, String>,
    /// Trust files (`[[key]]` tables, see `edgescore_trust`): with any,
    /// a version folder loads only if signed by one of their keys. Empty:
    /// signatures are not checked (and the server says so loudly).
    pub trust: Vec<PathBuf>,
    /// The audit trail (JSON lines, hash-chained); `None`: none kept.
    pub audit_log: Option<PathBuf>,
    pub max_body_bytes: usize,
    /// The most rows (`/v1`, `/v2`) or transactions (pipelines) one
    /// request may carry; more is a 413 naming the limit.
    pub max_rows_per_request: usize,
    /// The longest text value (an id, a merchant name) an event may carry,
    /// in bytes; longer is a 400 naming the field and the limit.
    pub max_text_bytes: usize,
    /// The most fields one event may have; more is a 400.
    pub max_fields_per_event: usize,
    pub body_timeout_ms: u64,
    /// A client must send a request's headers within this time.
    pub header_timeout_ms: u64,
    pub poll_interval_ms: u64,
    pub settle_ms: u64,
    pub deadline_ms: u64,
    pub memory_mib: usize,
    pub cache_dir: Option<PathBuf>,
    pub no_cache: bool,
    /// A canary failing more than this share of its requests (traps,
    /// deadlines; not client errors) is rolled back automatically...
    pub canary_max_error_rate: f64,
    /// ...once it has served at least this many.
    pub canary_min_requests: u64,
    /// The feature store pipelines use: `embedded` (in process, the
    /// default) or a `redis://host:port[/db]` URL shared by a fleet.
    pub feature_store: String,
    /// Where `review` and `block` decisions are appended (JSON lines,
    /// rotated; created with the first alert); `None`:
    /// `edgescore-alerts.jsonl` in the working folder.
    pub alert_log: Option<PathBuf>,
    /// Rotate the alert log when it reaches this size.
    pub alert_log_max_bytes: u64,
    /// POST each alert here too (with retries; never blocks scoring).
    pub alert_webhook: Option<String>,
    /// A PEM file of the only roots an https webhook is verified against
    /// (a private CA); `None`: Mozilla's roots.
    pub alert_webhook_ca: Option<PathBuf>,
    /// How each model is served (`[models.<name>]`): backend and batching.
    /// A model not named here is served as a component, unbatched.
    pub models: BTreeMap<String, ModelServing>,
    /// How pipelines with a reference profile (`profile.json`) watch their
    /// drift (`[drift]`: window, thresholds; see `edgescore_drift`).
    pub drift: edgescore_drift::DriftConfig,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            registry: None,
            admin_token: None,
            admin_tokens: BTreeMap::new(),
            trust: Vec::new(),
            audit_log: None,
            max_body_bytes: 4 << 20,
            max_rows_per_request: 10_000,
            max_text_bytes: 1024,
            max_fields_per_event: 256,
            body_timeout_ms: 10_000,
            header_timeout_ms: 10_000,
            poll_interval_ms: 1_000,
            settle_ms: 2_000,
            deadline_ms: 10,
            memory_mib: 64,
            cache_dir: None,
            no_cache: false,
            canary_max_error_rate: 0.05,
            canary_min_requests: 20,
            feature_store: "embedded".to_owned(),
            alert_log: None,
            alert_log_max_bytes: 64 << 20,
            alert_webhook: None,
            alert_webhook_ca: None,
            models: BTreeMap::new(),
            drift: edgescore_drift::DriftConfig::default(),
        }
    }
}

/// What one request may carry, beyond the body size: checked before the
/// request costs anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    pub max_rows: usize,
    pub max_text_bytes: usize,
    pub max_fields_per_event: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        ServeConfig::default().request_limits()
    }
}

impl ServeConfig {
    /// The request limits this configuration sets.
    pub fn request_limits(&self) -> RequestLimits {
        RequestLimits {
            max_rows: self.max_rows_per_request,
            max_text_bytes: self.max_text_bytes,
            max_fields_per_event: self.max_fields_per_event,
        }
    }

    /// Reads a TOML file; unknown keys are errors (they are usually typos).
    pub fn from_file(path: &Path) -> Result<Self, crate::ServeError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| crate::ServeError::ReadConfig {
                path: path.to_owned(),
                source,
            })?;
        toml::from_str(&text).map_err(|source| crate::ServeError::InvalidConfig {
            path: path.to_owned(),
            source,
        })
    }

    /// The admin token: the file's, else the environment's; empty means none.
    pub fn admin_token(&self) -> Option<String> {
        self.admin_token
            .clone()
            .or_else(|| std::env::var(ADMIN_TOKEN_ENV).ok())
            .filter(|t| !t.is_empty())
    }

    /// Every admin token, by name: `[admin_tokens]` and the single
    /// `admin_token` (or the environment's) as `admin`.
    pub fn admin_tokens(&self) -> Result<crate::admin_tokens::AdminTokens, crate::ServeError> {
        crate::admin_tokens::AdminTokens::new(&self.admin_tokens, self.admin_token())
            .map_err(crate::ServeError::AdminTokens)
    }

    /// Where alerts go.
    pub fn alert_config(&self) -> super::alerts::AlertConfig {
        super::alerts::AlertConfig {
            log: self
                .alert_log
                .clone()
                .unwrap_or_else(|| PathBuf::from("edgescore-alerts.jsonl")),
            max_log_bytes: self.alert_log_max_bytes,
            webhook: self
                .alert_webhook
                .clone()
                .map(|url| super::webhook::WebhookConfig {
                    url,
                    ca_file: self.alert_webhook_ca.clone(),
                }),
        }
    }

    /// Checks every `[models.<name>]` table (backends this build has,
    /// batching within bounds).
    pub fn validate_models(&self) -> Result<(), crate::ServeError> {
        for (model, serving) in &self.models {
            serving
                .validate(model)
                .map_err(crate::ServeError::ModelServing)?;
        }
        Ok(())
    }

    pub fn limits(&self) -> Limits {
        Limits {
            call_deadline: Duration::from_millis(self.deadline_ms.max(1)),
            memory_bytes: self.memory_mib.max(1) << 20,
            ..Limits::default()
        }
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.max(10))
    }

    pub fn settle(&self) -> Duration {
        Duration::from_millis(self.settle_ms)
    }

    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms.max(1))
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms.max(1))
    }
}
