//! What the pipeline made of one transaction, as every sink writes it.

use edgescore_runtime::pipeline::{Decision, Outcome};
use serde_json::{Value, json};

use crate::message::Transaction;

/// The pipeline version a batch ran through.
#[derive(Debug, Clone)]
pub struct ScoredBy {
    pub topic: String,
    pub pipeline: String,
    pub version: String,
    /// The feature names, in the rows' order.
    pub features: Vec<String>,
}

/// One scored transaction.
#[derive(Debug, Clone)]
pub struct Scored {
    pub transaction: Transaction,
    /// The event time (the transform's time field), ms since the epoch.
    pub event_time_ms: Option<i64>,
    /// The feature row (NaN is missing).
    pub features: Vec<f64>,
    pub outcome: Outcome,
}

impl Scored {
    pub fn offset(&self) -> i64 {
        self.transaction.position.offset
    }

    pub fn is_alert(&self) -> bool {
        self.outcome.decision != Decision::Allow
    }

    /// The alert a review or block decision sends (to the topic, the log
    /// and the webhook alike): what `serve` sends, plus where it came from.
    pub fn alert(&self, by: &ScoredBy) -> Value {
        json!({
            "transaction_id": self.transaction.id,
            "pipeline": by.pipeline,
            "version": by.version,
            "decision": self.outcome.decision,
            "score": self.outcome.score,
            "reasons": self.outcome.reasons,
            "topic": by.topic,
            "partition": self.transaction.position.partition,
            "offset": self.transaction.position.offset,
            "transaction": self.transaction.fields,
        })
    }
}

/// One input partition's scored transactions of a batch, in offset order.
#[derive(Debug, Clone, Copy)]
pub struct PartitionScored<'a> {
    pub partition: i32,
    pub by: &'a ScoredBy,
    pub scored: &'a [Scored],
}
