//! Why `edgescore stream` cannot start, or stopped.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("config file {path}: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("Kafka ({what}): {source}")]
    Kafka {
        what: String,
        source: rdkafka::error::KafkaError,
    },
    #[error(
        "topic '{topic}' has {found} partitions, fewer than the {needed} of the input topic: alerts of input partition p go to partition p, so a replay can tell what it already sent; recreate it with at least {needed}"
    )]
    TooFewPartitions {
        topic: String,
        found: usize,
        needed: usize,
    },
    #[error("topic '{0}' does not exist on the brokers; create it first")]
    NoTopic(String),
    #[error("the pipeline: {0}")]
    Pipeline(String),
    #[error("the feature store: {0}")]
    FeatureStore(#[from] edgescore_runtime::feature_store::StoreError),
    #[error("{what} {path}: {source}")]
    File {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the table {path}: {reason}")]
    Table { path: PathBuf, reason: String },
    #[error("the metrics listener {addr}: {source}")]
    Metrics {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

impl StreamError {
    pub(crate) fn kafka(
        what: impl Into<String>,
    ) -> impl FnOnce(rdkafka::error::KafkaError) -> Self {
        let what = what.into();
        move |source| Self::Kafka { what, source }
    }
}
