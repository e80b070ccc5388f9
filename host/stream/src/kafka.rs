//! The Kafka clients (rdkafka over its bundled librdkafka): the group
//! consumer, which records what each rebalance assigns and revokes and the
//! lag librdkafka reports; the idempotent producer every sink uses; the
//! topics checked (or created) at start.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::FutureProducer;
use rdkafka::statistics::Statistics;
use rdkafka::{Offset, TopicPartitionList};

use crate::StreamError;
use crate::config::StreamConfig;

/// How long a metadata or offset call to the brokers may take.
pub const BROKER_TIMEOUT: Duration = Duration::from_secs(10);

/// What rebalances did since the loop last looked, and the lag.
#[derive(Debug, Default)]
pub struct GroupState {
    /// Partitions of the input topic this process holds now.
    pub assigned: BTreeSet<i32>,
    /// Partitions revoked since the loop last looked: messages of theirs
    /// not yet committed are dropped (the next owner reads them again).
    pub revoked: BTreeSet<i32>,
    /// Partitions assigned since the loop last looked: each is recovered
    /// before its first message is scored.
    pub fresh: BTreeSet<i32>,
    /// Consumer lag per partition, from librdkafka's statistics.
    pub lag: BTreeMap<i32, i64>,
}

/// The consumer's callbacks.
pub struct GroupContext {
    topic: String,
    pub state: Arc<Mutex<GroupState>>,
}

impl ClientContext for GroupContext {
    fn stats(&self, statistics: Statistics) {
        let Some(topic) = statistics.topics.get(&self.topic) else {
            return;
        };
        let mut state = self.state.lock();
        for (id, p) in &topic.partitions {
            if *id >= 0 && state.assigned.contains(id) && p.consumer_lag >= 0 {
                state.lag.insert(*id, p.consumer_lag);
            }
        }
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let mut state = self.state.lock();
            for p in partitions_of(list, &self.topic) {
                state.assigned.remove(&p);
                state.fresh.remove(&p);
                state.lag.remove(&p);
                state.revoked.insert(p);
            }
            tracing::info!("partitions revoked: {:?}", partitions_of(list, &self.topic));
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => {
                let mut state = self.state.lock();
                for p in partitions_of(list, &self.topic) {
                    state.assigned.insert(p);
                    state.fresh.insert(p);
                }
                tracing::info!(
                    "partitions assigned: {:?}",
                    partitions_of(list, &self.topic)
                );
            }
            Rebalance::Error(e) => tracing::warn!("rebalance failed: {e}"),
            Rebalance::Revoke(_) => {}
        }
    }
}

fn partitions_of(list: &TopicPartitionList, topic: &str) -> Vec<i32> {
    list.elements()
        .iter()
        .filter(|e| e.topic() == topic)
        .map(|e| e.partition())
        .collect()
}

/// The settings every client shares: the brokers, IPv4 (a broker that
/// advertises `localhost` may listen on IPv4 only), the user's extras.
pub(crate) fn base(config: &StreamConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("broker.address.family", "v4");
    for (key, value) in &config.kafka {
        client.set(key, value);
    }
    client.set("bootstrap.servers", &config.brokers);
    client
}

pub type GroupConsumer = BaseConsumer<GroupContext>;

/// The group consumer, subscribed to the input topic. Offsets are
/// committed by hand, after the sinks are durable; a group with nothing
/// committed starts at the earliest message.
pub fn consumer(
    config: &StreamConfig,
) -> Result<(GroupConsumer, Arc<Mutex<GroupState>>), StreamError> {
    let state = Arc::new(Mutex::new(GroupState::default()));
    let context = GroupContext {
        topic: config.topic.clone(),
        state: state.clone(),
    };
    let mut client = base(config);
    if let Some(id) = &config.instance_id {
        client.set("group.instance.id", id);
    }
    client
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("statistics.interval.ms", "1000")
        .set("fetch.wait.max.ms", "10");
    // The user's properties may change the tunables above, not what
    // effectively-once rests on below.
    for (key, value) in &config.kafka {
        client.set(key, value);
    }
    let consumer: GroupConsumer = client
        .set("group.id", &config.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .create_with_context(context)
        .map_err(StreamError::kafka("creating the consumer"))?;
    consumer
        .subscribe(&[&config.topic])
        .map_err(StreamError::kafka(format!(
            "subscribing to '{}'",
            config.topic
        )))?;
    Ok((consumer, state))
}

/// The idempotent producer of alerts and dead letters: acknowledged by
/// every in-sync replica, retried without duplicates or reordering.
pub fn producer(config: &StreamConfig) -> Result<FutureProducer, StreamError> {
    base(config)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "1")
        .set("message.timeout.ms", "30000")
        .create()
        .map_err(StreamError::kafka("creating the producer"))
}

/// How many partitions `topic` has, `None` when it does not exist.
pub fn partition_count<C: ConsumerContext>(
    consumer: &impl Consumer<C>,
    topic: &str,
) -> Result<Option<usize>, StreamError> {
    let metadata = consumer
        .fetch_metadata(Some(topic), BROKER_TIMEOUT)
        .map_err(StreamError::kafka(format!(
            "reading the metadata of '{topic}' (are the brokers up and reachable?)"
        )))?;
    Ok(metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len())
        .filter(|&n| n > 0))
}

/// Creates `topics` that do not exist yet, each with `partitions`.
pub fn create_topics(
    config: &StreamConfig,
    topics: &[&str],
    partitions: usize,
) -> Result<(), StreamError> {
    let admin: AdminClient<DefaultClientContext> = base(config)
        .create()
        .map_err(StreamError::kafka("creating the admin client"))?;
    let count = i32::try_from(partitions).unwrap_or(i32::MAX);
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, count, TopicReplication::Fixed(1)))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StreamError::Invalid(format!("cannot start a runtime: {e}")))?;
    let results = runtime
        .block_on(admin.create_topics(
            &new,
            &AdminOptions::new().operation_timeout(Some(BROKER_TIMEOUT)),
        ))
        .map_err(StreamError::kafka("creating topics"))?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!("created topic '{topic}' with {partitions} partitions"),
            Err((topic, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {
                tracing::debug!("topic '{topic}' exists");
            }
            Err((topic, code)) => {
                return Err(StreamError::Invalid(format!(
                    "cannot create topic '{topic}': {code}"
                )));
            }
        }
    }
    Ok(())
}

/// The last (up to) `count` messages of one partition of `topic`, read by
/// a consumer of no group.
pub fn tail(
    config: &StreamConfig,
    topic: &str,
    partition: i32,
    count: i64,
) -> Result<Vec<OwnedMessage>, StreamError> {
    let consumer: BaseConsumer = base(config)
        .set("group.id", format!("{}-tail", config.group))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .map_err(StreamError::kafka("creating a reader"))?;
    let what = || format!("reading the end of '{topic}' partition {partition}");
    let (low, high) = consumer
        .fetch_watermarks(topic, partition, BROKER_TIMEOUT)
        .map_err(StreamError::kafka(what()))?;
    if high <= low {
        return Ok(Vec::new());
    }
    let start = (high - count).max(low);
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, partition, Offset::Offset(start))
        .map_err(StreamError::kafka(what()))?;
    consumer.assign(&list).map_err(StreamError::kafka(what()))?;
    let mut messages = Vec::new();
    let deadline = std::time::Instant::now() + BROKER_TIMEOUT;
    while std::time::Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let next = m.offset() + 1;
                messages.push(m.detach());
                if next >= high {
                    return Ok(messages);
                }
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => return Ok(messages),
            Some(Err(e)) => return Err(StreamError::kafka(what())(e)),
            None => {}
        }
    }
    Err(StreamError::Invalid(format!(
        "{}: the broker sent no message within {BROKER_TIMEOUT:?}",
        what()
    )))
}

impl std::fmt::Debug for GroupContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupContext")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

/// Waits for `deliveries` (each tagged) in order; `acknowledged` hears
/// the tag of each one the brokers acknowledged, up to the first that
/// failed, whose reason is returned.
pub(crate) fn await_deliveries<T>(
    runtime: &tokio::runtime::Runtime,
    deliveries: Vec<(T, rdkafka::producer::DeliveryFuture)>,
    mut acknowledged: impl FnMut(T),
) -> Result<(), String> {
    runtime.block_on(async {
        for (tag, delivery) in deliveries {
            match tokio::time::timeout(Duration::from_secs(60), delivery).await {
                Ok(Ok(Ok(_))) => acknowledged(tag),
                Ok(Ok(Err((e, _)))) => return Err(format!("not delivered: {e}")),
                Ok(Err(_)) => return Err("the producer was closed".into()),
                Err(_) => return Err("no acknowledgement within 60 s".into()),
            }
        }
        Ok(())
    })
}
