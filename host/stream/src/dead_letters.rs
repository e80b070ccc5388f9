//! Malformed messages to the dead-letter topic, keyed as they came, each a
//! JSON object: `error` (why, in words that say what to fix), the source
//! (`topic`, `partition`, `offset`), and the message's `value` as text
//! (or `value_base64` when it is not UTF-8). Not headers: tansu 0.6, the
//! broker of the tests, stalls on them.
//! A dead letter is acknowledged by the brokers before its offset is
//! committed, so none is lost; a replay after a crash may send one again
//! (the headers name its source, so a reader can drop the repeat).

use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::message::DeadLetter;

#[derive(Debug, thiserror::Error)]
#[error("dead-letter topic '{topic}': {reason}")]
pub struct DeadLetterError {
    pub topic: String,
    pub reason: String,
}

pub struct DeadLetters {
    producer: FutureProducer,
    topic: String,
    source: String,
}

impl DeadLetters {
    pub fn new(producer: FutureProducer, topic: &str, source: &str) -> Self {
        Self {
            producer,
            topic: topic.to_owned(),
            source: source.to_owned(),
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Sends `letters` and waits until the brokers have them.
    pub fn send(
        &self,
        letters: &[DeadLetter],
        runtime: &tokio::runtime::Runtime,
    ) -> Result<(), DeadLetterError> {
        let failed = |reason: String| DeadLetterError {
            topic: self.topic.clone(),
            reason,
        };
        let mut deliveries = Vec::with_capacity(letters.len());
        for letter in letters {
            let position = letter.message.position;
            tracing::info!(
                "dead letter {}/{}/{}: {}",
                self.source,
                position.partition,
                position.offset,
                letter.reason
            );
            let body = envelope(&self.source, letter).to_string();
            let mut record = FutureRecord::to(&self.topic).payload(&body);
            if let Some(key) = &letter.message.key {
                record = record.key(key);
            }
            let delivery = self
                .producer
                .send_result(record)
                .map_err(|(e, _)| failed(format!("cannot queue a dead letter: {e}")))?;
            deliveries.push(((), delivery));
        }
        crate::kafka::await_deliveries(runtime, deliveries, drop).map_err(failed)
    }
}

/// The dead letter as the topic holds it.
pub fn envelope(source: &str, letter: &DeadLetter) -> serde_json::Value {
    let position = letter.message.position;
    let mut body = serde_json::json!({
        "error": letter.reason,
        "topic": source,
        "partition": position.partition,
        "offset": position.offset,
    });
    match letter.message.payload.as_deref().map(std::str::from_utf8) {
        Some(Ok(text)) => body["value"] = text.into(),
        Some(Err(_)) => {
            use base64::Engine as _;
            let bytes = letter.message.payload.as_deref().unwrap_or_default();
            body["value_base64"] = base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .into();
        }
        None => body["value"] = serde_json::Value::Null,
    }
    body
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters")
            .field("topic", &self.topic)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}
