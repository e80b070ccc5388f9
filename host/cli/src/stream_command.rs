//! `edgescore stream`: the command line over `edgescore_stream::run`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use edgescore_stream::{StreamConfig, TableFormat};

use crate::cli::LogFormat;

#[derive(Debug, clap::Args)]
pub(crate) struct StreamArgs {
    /// Kafka bootstrap servers, host:port[,host:port...].
    #[arg(long, value_name = "HOST:PORT,...")]
    pub(crate) brokers: Option<String>,

    /// The topic transactions arrive on: one JSON object per message, the
    /// fields of POST /v1/pipelines/<p>/score, keyed by card so a card's
    /// transactions stay in order on one partition.
    #[arg(long, value_name = "TOPIC")]
    pub(crate) topic: Option<String>,

    /// The consumer group. Processes of one group share the partitions;
    /// the group's committed offsets are where a restart resumes.
    #[arg(long, value_name = "GROUP")]
    pub(crate) group: Option<String>,

    /// This process's static member id in the group (group.instance.id):
    /// restarted with the same id, it takes its partitions back at once.
    /// Give each process of a group its own.
    #[arg(long, value_name = "ID")]
    pub(crate) instance_id: Option<String>,

    /// A pipeline folder (with pipeline.toml), or with --registry the name
    /// of a pipeline in the registry (hot-swapped while streaming).
    #[arg(long, value_name = "DIR|NAME")]
    pub(crate) pipeline: Option<String>,

    /// The registry folder the pipeline is served from, as `serve` reads it.
    #[arg(long, value_name = "DIR")]
    pub(crate) registry: Option<PathBuf>,

    /// `embedded` (default; kept across restarts by snapshots in
    /// --state-dir) or redis://host:port[/db] (shared by the group).
    #[arg(long, value_name = "STORE")]
    pub(crate) feature_store: Option<String>,

    /// The topic review and block alerts go to (keyed by card; created
    /// with the input's partition count if missing).
    #[arg(long, value_name = "TOPIC")]
    pub(crate) alerts_topic: Option<String>,

    /// POST each alert here, with an Idempotency-Key header of the
    /// transaction id; a webhook that is down is retried, the alerts
    /// waiting in the alert log.
    #[arg(long, value_name = "URL")]
    pub(crate) alert_webhook: Option<String>,

    /// The alert log (JSON lines, synced before offsets are committed;
    /// default with a webhook: <state-dir>/alerts.jsonl).
    #[arg(long, value_name = "FILE")]
    pub(crate) alert_log: Option<PathBuf>,

    /// Write every scored transaction to this table folder.
    #[arg(long, value_name = "DIR")]
    pub(crate) table: Option<PathBuf>,

    /// The table's format: parquet (one file per batch and partition under
    /// date=YYYY-MM-DD/ folders, for Spark, DuckDB, pandas) or delta (a
    /// Delta Lake table partitioned by date, one commit per batch; the
    /// features in one map column). Default: parquet.
    #[arg(long, value_name = "FORMAT", value_enum)]
    pub(crate) table_format: Option<TableFormatArg>,

    /// Where malformed messages go, with the reason (default
    /// <topic>.dead-letters; created if missing).
    #[arg(long, value_name = "TOPIC")]
    pub(crate) dead_letter_topic: Option<String>,

    /// Serve GET /metrics here (consumer lag, events, latency, sinks).
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics_listen: Option<std::net::SocketAddr>,

    /// The field naming a transaction (default transaction_id): its
    /// idempotency key, taken out before the pipeline reads the fields.
    #[arg(long, value_name = "FIELD")]
    pub(crate) id_field: Option<String>,

    /// This process's own state: the embedded store's snapshots, the
    /// webhook's place in the alert log.
    #[arg(long, value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,

    /// How often the embedded store's windows are written to --state-dir
    /// (default 30 s; a restart replays the stream since the last one).
    #[arg(long, value_name = "SECONDS")]
    pub(crate) snapshot_interval_seconds: Option<u64>,

    /// The most messages scored as one batch (default 1000).
    #[arg(long, value_name = "N")]
    pub(crate) max_batch: Option<usize>,

    /// A librdkafka property for the consumer and producer, KEY=VALUE
    /// (repeatable): security.protocol, sasl.*, group.instance.id, ...
    #[arg(long = "kafka", value_name = "KEY=VALUE", value_parser = key_value)]
    pub(crate) kafka: Vec<(String, String)>,

    /// A trust file (`[[key]]` tables; repeatable): the pipeline (its folder,
    /// or each version in the registry) must be signed by a trusted key
    /// (`edgescore sign`). Without, signatures are not checked (said loudly).
    #[arg(long = "trust", value_name = "FILE")]
    pub(crate) trust: Vec<PathBuf>,

    /// A TOML file with the same keys (brokers, topic, group, pipeline,
    /// ..., and [kafka] for more librdkafka properties); flags override it.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Log lines as text or JSON.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum TableFormatArg {
    Parquet,
    Delta,
}

pub(crate) fn stream(args: StreamArgs) -> anyhow::Result<()> {
    crate::start_logging(args.log_format);
    let mut config = match &args.config {
        Some(path) => StreamConfig::from_file(path)?,
        None => {
            let missing: Vec<&str> = [
                ("--brokers", args.brokers.is_none()),
                ("--topic", args.topic.is_none()),
                ("--group", args.group.is_none()),
                ("--pipeline", args.pipeline.is_none()),
            ]
            .into_iter()
            .filter_map(|(flag, absent)| absent.then_some(flag))
            .collect();
            if !missing.is_empty() {
                anyhow::bail!(
                    "give {} (or --config FILE); see edgescore stream --help",
                    missing.join(", ")
                );
            }
            StreamConfig::new("", "", "", "")
        }
    };
    macro_rules! set {
        ($($field:ident),*) => {
            $(if let Some(value) = args.$field {
                config.$field = value;
            })*
        };
    }
    set!(
        brokers,
        topic,
        group,
        pipeline,
        feature_store,
        id_field,
        max_batch,
        snapshot_interval_seconds
    );
    macro_rules! set_some {
        ($($field:ident),*) => {
            $(if let Some(value) = args.$field {
                config.$field = Some(value);
            })*
        };
    }
    set_some!(
        instance_id,
        registry,
        alerts_topic,
        alert_webhook,
        alert_log,
        table,
        dead_letter_topic,
        metrics_listen,
        state_dir
    );
    config.kafka.extend(args.kafka);
    if !args.trust.is_empty() {
        config.trust = args.trust;
    }
    if let Some(format) = args.table_format {
        config.table_format = match format {
            TableFormatArg::Parquet => TableFormat::Parquet,
            TableFormatArg::Delta => TableFormat::Delta,
        };
    }
    Ok(edgescore_stream::run(
        config,
        Arc::new(AtomicBool::new(false)),
    )?)
}

fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!(
            "'{text}' is not KEY=VALUE (e.g. security.protocol=SSL)"
        )),
    }
}
