//! Every sink of a batch, written in one place and in one order: dead
//! letters, the table, the alerts topic, the alert log. Each is durable
//! when its call returns, and each skips what it already holds (its
//! watermark per partition, read back when the partition is assigned).

use std::time::Instant;

use crate::StreamError;
use crate::alert_log::AlertLog;
use crate::alert_topic::AlertTopic;
use crate::config::StreamConfig;
use crate::dead_letters::DeadLetters;
use crate::message::DeadLetter;
use crate::metrics::StreamMetrics;
use crate::scored::PartitionScored;
use crate::table::Table;

#[derive(Debug)]
pub struct Sinks {
    pub dead_letters: DeadLetters,
    pub table: Option<Table>,
    pub alert_topic: Option<AlertTopic>,
    pub alert_log: Option<AlertLog>,
}

impl Sinks {
    /// Reads every sink's watermark of `partition`.
    pub fn recover(
        &mut self,
        config: &StreamConfig,
        partition: i32,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<(), StreamError> {
        if let Some(table) = &mut self.table {
            table
                .recover(partition, runtime)
                .map_err(|e| StreamError::Table {
                    path: e.path,
                    reason: e.reason,
                })?;
        }
        if let Some(topic) = &mut self.alert_topic {
            topic.recover(config, partition)?;
        }
        if let Some(log) = &mut self.alert_log {
            log.recover(partition).map_err(|e| StreamError::File {
                what: "the alert log",
                path: e.path,
                source: e.source,
            })?;
        }
        Ok(())
    }

    /// Writes a batch (each input partition's part in `batches`) to every
    /// sink, each skipping what it holds; the first failure, with its sink.
    /// `dead` are the batch's dead letters not on their topic yet: emptied
    /// once they are, so a retry does not send them again.
    pub fn write(
        &mut self,
        batches: &[PartitionScored<'_>],
        dead: &mut Vec<DeadLetter>,
        metrics: &StreamMetrics,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<(), String> {
        let timed = |sink: &'static str, result: Result<(), String>, started: Instant| {
            match &result {
                Ok(()) => metrics.sink(sink, started.elapsed()),
                Err(_) => metrics.sink_failed(sink),
            }
            result
        };
        if !dead.is_empty() {
            let started = Instant::now();
            let result = self
                .dead_letters
                .send(dead, runtime)
                .map_err(|e| e.to_string());
            timed("dead_letters", result, started)?;
            dead.clear();
        }
        if let Some(table) = &mut self.table {
            let started = Instant::now();
            let result = table
                .write(batches, runtime)
                .map(drop)
                .map_err(|e| format!("the table {e}"));
            timed("table", result, started)?;
        }
        if let Some(topic) = &mut self.alert_topic {
            let started = Instant::now();
            let result = topic
                .send(batches, runtime)
                .map(drop)
                .map_err(|e| e.to_string());
            timed("alerts_topic", result, started)?;
        }
        if let Some(log) = &mut self.alert_log {
            let started = Instant::now();
            let result = log.append(batches).map(drop).map_err(|e| e.to_string());
            timed("alert_log", result, started)?;
        }
        Ok(())
    }
}
