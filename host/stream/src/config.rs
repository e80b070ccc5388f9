//! What `edgescore stream` is told: the command's flags, or the same keys
//! in a TOML file (`edgescore stream --config stream.toml`; a flag given
//! beside the file overrides its key).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::StreamError;

/// Where every scored transaction is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableFormat {
    /// Parquet files under `date=YYYY-MM-DD/` folders (Hive partitioning).
    #[default]
    Parquet,
    /// A Delta Lake table partitioned by `date`, one commit per batch.
    Delta,
}

/// The settings of one `edgescore stream` process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// Kafka bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    /// The topic transactions arrive on (JSON objects, keyed by card).
    pub topic: String,
    /// The consumer group: processes in one group share the partitions.
    pub group: String,
    /// This process's static member id in the group (Kafka's
    /// `group.instance.id`): a process restarted with the same id takes its
    /// partitions back at once, without waiting for the group to notice
    /// the old one is gone. Give each process of a group its own.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// A pipeline folder, or with `registry` a pipeline's name in it.
    pub pipeline: String,
    /// The registry folder the pipeline is served from (hot-swapped).
    #[serde(default)]
    pub registry: Option<PathBuf>,
    /// `embedded` (in this process; windows kept across restarts by
    /// snapshots in `state_dir`) or a `redis://` URL (shared by a group).
    #[serde(default = "default_feature_store")]
    pub feature_store: String,
    /// The topic review and block alerts go to, keyed by card.
    #[serde(default)]
    pub alerts_topic: Option<String>,
    /// Where alerts are POSTed (with an `Idempotency-Key` header).
    #[serde(default)]
    pub alert_webhook: Option<String>,
    /// The alert log: JSON lines, appended and synced before an offset is
    /// committed. Defaults to `alerts.jsonl` in `state_dir` when a webhook
    /// is set (it is the webhook's outbox).
    #[serde(default)]
    pub alert_log: Option<PathBuf>,
    /// The table folder every scored transaction is written to.
    #[serde(default)]
    pub table: Option<PathBuf>,
    #[serde(default)]
    pub table_format: TableFormat,
    /// Where malformed messages go, with the reason. Default:
    /// `<topic>.dead-letters`.
    #[serde(default)]
    pub dead_letter_topic: Option<String>,
    /// Serve `/metrics` here.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// The field that names a transaction (its idempotency key); it is
    /// taken out before the pipeline reads the fields. A message without
    /// it is named `<topic>/<partition>/<offset>`.
    #[serde(default = "default_id_field")]
    pub id_field: String,
    /// The process's own state: snapshots of the embedded feature store,
    /// the webhook's cursor in the alert log.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// How often the embedded store is snapshotted (seconds).
    #[serde(default = "default_snapshot_seconds")]
    pub snapshot_interval_seconds: u64,
    /// The most messages scored as one batch.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// How long a batch waits to fill once it has a message (ms).
    #[serde(default = "default_max_batch_wait_ms")]
    pub max_batch_wait_ms: u64,
    /// How often the registry is scanned besides its file events (ms).
    #[serde(default = "default_poll_ms")]
    pub registry_poll_ms: u64,
    /// More librdkafka properties for the consumer and the producer
    /// (e.g. `security.protocol`); ours win where they overlap.
    #[serde(default)]
    pub kafka: BTreeMap<String, String>,
    /// How a pipeline with a reference profile watches its drift
    /// (`[drift]`, as in `serve`'s config); crossings go to the alert log.
    #[serde(default)]
    pub drift: edgescore_drift::DriftConfig,
    /// Trust files (`[[key]]` tables, as in `serve`'s `trust`): the
    /// pipeline folder, or each registry version, must be signed by one of
    /// their keys. Empty: signatures are not checked (said loudly).
    #[serde(default)]
    pub trust: Vec<PathBuf>,
}

fn default_feature_store() -> String {
    "embedded".into()
}

fn default_id_field() -> String {
    "transaction_id".into()
}

fn default_snapshot_seconds() -> u64 {
    30
}

fn default_max_batch() -> usize {
    1000
}

fn default_max_batch_wait_ms() -> u64 {
    2
}

fn default_poll_ms() -> u64 {
    1000
}

impl StreamConfig {
    /// The settings with every default, for the required keys.
    pub fn new(brokers: &str, topic: &str, group: &str, pipeline: &str) -> Self {
        Self {
            brokers: brokers.into(),
            topic: topic.into(),
            group: group.into(),
            instance_id: None,
            pipeline: pipeline.into(),
            registry: None,
            feature_store: default_feature_store(),
            alerts_topic: None,
            alert_webhook: None,
            alert_log: None,
            table: None,
            table_format: TableFormat::default(),
            dead_letter_topic: None,
            metrics_listen: None,
            id_field: default_id_field(),
            state_dir: None,
            snapshot_interval_seconds: default_snapshot_seconds(),
            max_batch: default_max_batch(),
            max_batch_wait_ms: default_max_batch_wait_ms(),
            registry_poll_ms: default_poll_ms(),
            kafka: BTreeMap::new(),
            drift: edgescore_drift::DriftConfig::default(),
            trust: Vec::new(),
        }
    }

    /// Reads a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self, StreamError> {
        let text = std::fs::read_to_string(path).map_err(|e| StreamError::Config {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| StreamError::Config {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    }

    pub fn dead_letter_topic(&self) -> String {
        self.dead_letter_topic
            .clone()
            .unwrap_or_else(|| format!("{}.dead-letters", self.topic))
    }

    /// The alert log, when alerts are logged.
    pub fn alert_log(&self) -> Option<PathBuf> {
        self.alert_log.clone().or_else(|| {
            let dir = self.state_dir.as_ref()?;
            self.alert_webhook.as_ref()?;
            Some(dir.join("alerts.jsonl"))
        })
    }

    pub fn batch_wait(&self) -> Duration {
        Duration::from_millis(self.max_batch_wait_ms)
    }

    /// Refuses settings that cannot work, each with what to change.
    pub fn check(&self) -> Result<(), StreamError> {
        let bad = |reason: String| Err(StreamError::Invalid(reason));
        if self.brokers.trim().is_empty() {
            return bad("--brokers is empty: give host:port of a Kafka broker".into());
        }
        for (name, value) in [("--topic", &self.topic), ("--group", &self.group)] {
            if value.trim().is_empty() {
                return bad(format!("{name} is empty"));
            }
        }
        if self.alerts_topic.as_deref() == Some(self.topic.as_str())
            || self.dead_letter_topic() == self.topic
        {
            return bad(format!(
                "the alerts and dead-letter topics must differ from the input topic '{}'",
                self.topic
            ));
        }
        if self.max_batch == 0 {
            return bad("max_batch is 0: a batch holds at least one message".into());
        }
        if self.table_format == TableFormat::Delta && self.table.is_none() {
            return bad(
                "--table-format delta says how to write the table, not where: give --table DIR too"
                    .into(),
            );
        }
        if self.alert_webhook.is_some() && self.alert_log().is_none() {
            return bad(
                "--alert-webhook needs the alert log as its outbox: give --alert-log FILE or --state-dir DIR"
                    .into(),
            );
        }
        if let Some(table) = &self.table
            && table.is_file()
        {
            return bad(format!(
                "--table {} is a file; name a folder",
                table.display()
            ));
        }
        Ok(())
    }
}
