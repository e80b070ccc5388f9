//! `edgescore stream`: transactions from a Kafka topic, in a consumer
//! group, through the very pipeline `edgescore serve` runs (a pipeline
//! folder, or a registry's pipeline hot-swapped while streaming); review
//! and block alerts to a topic (keyed by card), an alert log and a
//! webhook; every scored transaction to a date-partitioned table (Parquet
//! files or Delta Lake);
//! malformed messages to a dead-letter topic with the reason.
//!
//! Delivery is effectively once without Kafka transactions: offsets are
//! committed only after every sink holds the batch, the sinks skip what
//! they already hold, and the feature store's windows are journalled
//! (Redis) or snapshotted (embedded) so that a replay observes each
//! transaction once. [`run`] explains the order; [`windows`] the store.
//!
//! Scale-out is Kafka's: processes in one group share the partitions, and
//! with a Redis store share the windows too. Input keyed by card keeps a
//! card's transactions in order on one partition, which the windows need.

pub mod alert_log;
pub mod alert_topic;
pub mod config;
mod dashboard;
pub mod dead_letters;
pub mod delta_table;
mod error;
pub mod kafka;
pub mod message;
pub mod metrics;
mod metrics_server;
pub mod parquet_table;
pub mod pipelines;
mod replay;
pub mod run;
pub mod scored;
pub mod scoring;
pub mod sinks;
pub mod table;
pub mod webhook;
pub mod windows;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use config::{StreamConfig, TableFormat};
pub use error::StreamError;

use crate::metrics::StreamMetrics;

/// Runs the stream until Ctrl-C or SIGTERM (or `stop` is set): finishes
/// the batch in hand, writes the windows' snapshot and leaves the group.
pub fn run(config: StreamConfig, stop: Arc<AtomicBool>) -> Result<(), StreamError> {
    config.check()?;
    if let Some(dir) = &config.state_dir {
        std::fs::create_dir_all(dir).map_err(|source| StreamError::File {
            what: "the state folder",
            path: dir.clone(),
            source,
        })?;
    }
    let metrics = Arc::new(StreamMetrics::new());
    let limits = edgescore_runtime::limits::Limits::default();
    let windows = windows::Windows::open(&config, limits.call_deadline)?;
    let pipelines = Arc::new(pipelines::Pipelines::open(
        &config,
        windows.store(),
        metrics.serve.clone(),
    )?);
    {
        let serving = pipelines.current()?;
        tracing::info!(
            "pipeline '{}' version {} ({} features)",
            serving.name(),
            serving.version(),
            serving.pipeline().features().len()
        );
    }

    let (consumer, group) = kafka::consumer(&config)?;
    let partitions = kafka::partition_count(&consumer, &config.topic)?
        .ok_or_else(|| StreamError::NoTopic(config.topic.clone()))?;
    let dead_letter_topic = config.dead_letter_topic();
    let mut outputs = vec![dead_letter_topic.as_str()];
    outputs.extend(config.alerts_topic.as_deref());
    let missing: Vec<&str> = outputs
        .iter()
        .copied()
        .filter(|t| matches!(kafka::partition_count(&consumer, t), Ok(None)))
        .collect();
    if !missing.is_empty() {
        kafka::create_topics(&config, &missing, partitions)?;
    }
    if let Some(alerts) = &config.alerts_topic {
        let found = kafka::partition_count(&consumer, alerts)?.unwrap_or(0);
        if found < partitions {
            return Err(StreamError::TooFewPartitions {
                topic: alerts.clone(),
                found,
                needed: partitions,
            });
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StreamError::Invalid(format!("cannot start a runtime: {e}")))?;
    let producer = kafka::producer(&config)?;
    let sinks = sinks::Sinks {
        dead_letters: dead_letters::DeadLetters::new(
            producer.clone(),
            &dead_letter_topic,
            &config.topic,
        ),
        table: config
            .table
            .as_ref()
            .map(|root| table::Table::open(config.table_format, root, &config.topic, &runtime))
            .transpose()
            .map_err(|e| StreamError::Table {
                path: e.path,
                reason: e.reason,
            })?,
        alert_topic: config
            .alerts_topic
            .as_ref()
            .map(|t| alert_topic::AlertTopic::new(producer.clone(), t)),
        alert_log: config
            .alert_log()
            .map(|path| alert_log::AlertLog::open(&path, &config.topic))
            .transpose()
            .map_err(|e| StreamError::File {
                what: "the alert log",
                path: e.path,
                source: e.source,
            })?,
    };

    let webhook = match (&config.alert_webhook, config.alert_log()) {
        (Some(url), Some(log)) => {
            let agent = edgescore_serve::webhook::agent(&edgescore_serve::webhook::WebhookConfig {
                url: url.clone(),
                ca_file: None,
            })
            .map_err(|e| StreamError::Invalid(e.to_string()))?;
            let cursor = config.state_dir.as_ref().map_or_else(
                || std::path::PathBuf::from(format!("{}.webhook-cursor", log.display())),
                |d| d.join("webhook.cursor"),
            );
            Some(
                webhook::start(
                    agent,
                    url.clone(),
                    log,
                    cursor,
                    metrics.webhook.clone(),
                    stop.clone(),
                )
                .map_err(|e| {
                    StreamError::Invalid(format!("cannot start the webhook thread: {e}"))
                })?,
            )
        }
        _ => None,
    };

    let dashboard = dashboard::Dashboard {
        metrics: metrics.clone(),
        group: group.clone(),
        pipelines: pipelines.clone(),
        topic: config.topic.clone(),
        group_id: config.group.clone(),
    };
    let signals = metrics_server::start(
        config.metrics_listen,
        metrics.clone(),
        Arc::new(dashboard),
        stop.clone(),
    )?;

    tracing::info!(
        "consuming '{}' ({partitions} partitions) as group '{}'; dead letters to '{dead_letter_topic}'",
        config.topic,
        config.group
    );
    let result = run::StreamLoop::new(
        config,
        consumer,
        group,
        windows,
        pipelines,
        sinks,
        metrics,
        runtime,
        stop.clone(),
    )
    .run();
    stop.store(true, Ordering::Relaxed);
    if let Some(webhook) = webhook {
        let _ = webhook.join();
    }
    drop(signals);
    result
}
