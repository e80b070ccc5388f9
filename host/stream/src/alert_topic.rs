//! Alerts to a Kafka topic, keyed by card (the input message's key), from
//! the idempotent producer.
//!
//! The alerts of input partition `p` go to partition `p` of the alerts
//! topic, in offset order, each naming its source in its JSON (`topic`,
//! `partition`, `offset`; not in headers, which tansu 0.6, the broker of
//! the tests, stalls on). That is
//! what makes a replay exact without Kafka transactions: when `p` is
//! assigned, the end of alerts partition `p` says the last source offset
//! already sent, and the replay sends only alerts past it. Since the input
//! is keyed by card, each card's alerts still stay on one partition, in
//! order.

use std::collections::HashMap;

use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::StreamError;
use crate::config::StreamConfig;
use crate::scored::PartitionScored;

/// Alerts read back at the end of a partition to find the last one sent.
const TAIL: i64 = 1000;

/// Why alerts could not be sent.
#[derive(Debug, thiserror::Error)]
#[error("alerts topic '{topic}': {reason}")]
pub struct AlertTopicError {
    pub topic: String,
    pub reason: String,
}

pub struct AlertTopic {
    producer: FutureProducer,
    topic: String,
    /// Per input partition, the last source offset already on the topic.
    watermarks: HashMap<i32, i64>,
}

impl AlertTopic {
    pub fn new(producer: FutureProducer, topic: &str) -> Self {
        Self {
            producer,
            topic: topic.to_owned(),
            watermarks: HashMap::new(),
        }
    }

    /// Reads the last source offset of input `partition` at the end of its
    /// alerts partition.
    pub fn recover(
        &mut self,
        config: &StreamConfig,
        partition: i32,
    ) -> Result<Option<i64>, StreamError> {
        let messages = crate::kafka::tail(config, &self.topic, partition, TAIL)?;
        let last = messages
            .iter()
            .filter_map(|m| {
                let alert: serde_json::Value = serde_json::from_slice(m.payload()?).ok()?;
                (alert["topic"] == config.topic.as_str() && alert["partition"] == partition)
                    .then(|| alert["offset"].as_i64())?
            })
            .max();
        match last {
            Some(o) => self.watermarks.insert(partition, o),
            None => self.watermarks.remove(&partition),
        };
        Ok(last)
    }

    /// Sends the alerts of `batches` (each one input partition's, in
    /// offset order) past each partition's watermark and waits until the
    /// brokers have them all; returns how many were sent.
    pub fn send(
        &mut self,
        batches: &[PartitionScored<'_>],
        runtime: &tokio::runtime::Runtime,
    ) -> Result<usize, AlertTopicError> {
        let failed = |reason: String| AlertTopicError {
            topic: self.topic.clone(),
            reason,
        };
        let mut deliveries = Vec::new();
        for batch in batches {
            let partition = batch.partition;
            let watermark = self.watermarks.get(&partition).copied();
            for s in batch
                .scored
                .iter()
                .filter(|s| s.is_alert() && watermark.is_none_or(|w| s.offset() > w))
            {
                let body = s.alert(batch.by).to_string();
                let mut record = FutureRecord::to(&self.topic)
                    .partition(partition)
                    .payload(&body);
                if let Some(key) = &s.transaction.key {
                    record = record.key(key);
                }
                let delivery = self
                    .producer
                    .send_result(record)
                    .map_err(|(e, _)| failed(format!("cannot queue an alert: {e}")))?;
                deliveries.push(((partition, s.offset()), delivery));
            }
        }
        let sent = deliveries.len();
        // Deliveries of a partition are acknowledged in order (the
        // idempotent producer keeps it): each one acknowledged moves its
        // watermark, so a retry after a failure sends only what is not on
        // the topic.
        let watermarks = &mut self.watermarks;
        crate::kafka::await_deliveries(runtime, deliveries, |(partition, offset)| {
            watermarks.insert(partition, offset);
        })
        .map_err(failed)?;
        Ok(sent)
    }
}

impl std::fmt::Debug for AlertTopic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertTopic")
            .field("topic", &self.topic)
            .field("watermarks", &self.watermarks)
            .finish_non_exhaustive()
    }
}
