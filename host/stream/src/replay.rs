//! Rebuilding the embedded store's windows after a restart: the messages
//! of a partition between the snapshot's offset and the committed one are
//! read again, by a reader of their own (the group consumer's position
//! never moves back), and scored by the same code as live batches, so the
//! store observes exactly what it observed before the crash (a transaction
//! refused then is refused again). Nothing is written: the sinks already
//! hold every one of them.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::StreamError;
use crate::kafka::BROKER_TIMEOUT;
use crate::message::{self, Position, Received};
use crate::run::StreamLoop;
use crate::scoring::{self, BatchResult};

/// Scores partition `partition`'s messages `from..until` into the windows;
/// returns how many were read.
pub(crate) fn replay(
    stream: &StreamLoop,
    partition: i32,
    from: i64,
    until: i64,
) -> Result<usize, StreamError> {
    let config = &stream.config;
    let what = || format!("reading partition {partition} from {from} to rebuild windows");
    let reader: BaseConsumer = crate::kafka::base(config)
        .set("group.id", format!("{}-replay", config.group))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        .create()
        .map_err(StreamError::kafka(what()))?;
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(&config.topic, partition, Offset::Offset(from))
        .map_err(StreamError::kafka(what()))?;
    reader.assign(&list).map_err(StreamError::kafka(what()))?;
    let started = Instant::now();
    let mut next = from;
    let mut read = 0;
    while next < until {
        let mut chunk = Vec::new();
        let mut last_message = Instant::now();
        while chunk.len() < config.max_batch && next < until {
            match reader.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    last_message = Instant::now();
                    if m.offset() >= until {
                        next = until;
                        continue;
                    }
                    next = m.offset() + 1;
                    chunk.push(Received {
                        position: Position {
                            partition,
                            offset: m.offset(),
                        },
                        key: m.key().map(<[u8]>::to_vec),
                        payload: m.payload().map(<[u8]>::to_vec),
                    });
                }
                Some(Err(e)) => return Err(StreamError::kafka(what())(e)),
                None if chunk.is_empty() && last_message.elapsed() > BROKER_TIMEOUT => {
                    return Err(StreamError::Invalid(format!(
                        "{}: nothing read past offset {next} (of {until}) in {BROKER_TIMEOUT:?}",
                        what()
                    )));
                }
                None => break,
            }
        }
        read += chunk.len();
        observe(stream, partition, chunk)?;
    }
    tracing::info!(
        "partition {partition}: windows rebuilt from {read} messages ({from} to {until}) in {:?}",
        started.elapsed()
    );
    Ok(read)
}

/// Scores `messages` and keeps what they observed; a store that fails is
/// tried again after a pause.
fn observe(
    stream: &StreamLoop,
    partition: i32,
    messages: Vec<Received>,
) -> Result<(), StreamError> {
    let mut pause = Duration::from_millis(100);
    loop {
        let serving = stream.pipelines.current()?;
        let pipeline = serving.pipeline();
        let mut result = BatchResult::default();
        let mut readable = Vec::with_capacity(messages.len());
        for m in &messages {
            if let Ok(t) = message::read(m.clone(), &stream.config.topic, &stream.config.id_field) {
                readable.push((m.clone(), t));
            }
        }
        let items = scoring::read_events(pipeline, readable, &mut result.dead);
        match scoring::score(pipeline, items, &mut result) {
            Ok(()) => {
                for observed in result.observed {
                    observed.commit();
                }
                return Ok(());
            }
            Err(e) => {
                if let Err(undo) = result.undo() {
                    tracing::warn!("partition {partition}: {undo}");
                }
                tracing::warn!(
                    "partition {partition}: rebuilding windows: {e}; trying again in {pause:?}"
                );
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        }
    }
}
