//! The options of `edgescore serve`.

use std::path::PathBuf;

use crate::cli::LogFormat;

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The registry folder (default: the embedded demo registry, written to
    /// the temporary folder as edgescore-demo-registry-<pid>-...; removed on
    /// exit, or by the next demo server if this one crashed).
    #[arg(long, value_name = "DIR")]
    pub(crate) registry: Option<PathBuf>,

    /// The address to listen on (default 127.0.0.1:8080; port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<std::net::SocketAddr>,

    /// The feature store pipelines use: `embedded` (in process, the
    /// default) or redis://host:port[/db] to share windows across a fleet.
    #[arg(long, value_name = "STORE")]
    pub(crate) feature_store: Option<String>,

    /// Append review and block decisions to this JSON-lines file (rotated;
    /// created with the first alert; default edgescore-alerts.jsonl in the
    /// working folder).
    #[arg(long, value_name = "FILE")]
    pub(crate) alert_log: Option<std::path::PathBuf>,

    /// Also POST each alert to this http:// or https:// URL (retried; never
    /// slows scoring).
    #[arg(long, value_name = "URL")]
    pub(crate) alert_webhook: Option<String>,

    /// Verify an https webhook against only the certificates in this PEM
    /// file (a private CA) instead of Mozilla's roots.
    #[arg(long, value_name = "PEM")]
    pub(crate) alert_webhook_ca: Option<PathBuf>,

    /// A trust file (`[[key]]` tables; the .pub of `edgescore keygen` is
    /// one). Repeat for several. With any, a version loads only if its
    /// folder is signed (`edgescore sign`) by a trusted key that is not
    /// revoked or expired; others are refused with why and the serving
    /// version stays. Without, signatures are not checked (said loudly).
    #[arg(long = "trust", value_name = "FILE")]
    pub(crate) trust: Vec<PathBuf>,

    /// Append every load, rejection, swap, routing change and admin call
    /// to this audit log (hash-chained JSON lines; `edgescore audit verify`).
    #[arg(long, value_name = "FILE")]
    pub(crate) audit_log: Option<PathBuf>,

    /// A TOML file of settings (listen, registry, admin_token, max_body_bytes,
    /// max_rows_per_request, max_text_bytes, max_fields_per_event,
    /// body_timeout_ms, poll_interval_ms, settle_ms, deadline_ms, memory_mib,
    /// cache_dir, feature_store, alert_log, alert_log_max_bytes,
    /// alert_webhook, alert_webhook_ca, trust, audit_log, [admin_tokens]
    /// (name = token: who the audit log says acted), [drift], and
    /// [models.<name>] tables: backend, max_batch_rows, max_queue_delay_us).
    /// Command-line options win over it.
    #[arg(long, value_name = "TOML")]
    pub(crate) config: Option<PathBuf>,

    /// How the server logs to standard error: `text` (one readable line per
    /// event) or `json` (one JSON object per line, for a log collector).
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}
