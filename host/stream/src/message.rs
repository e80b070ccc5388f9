//! One Kafka message as a transaction: a JSON object of the fields
//! `POST /v1/pipelines/<p>/score` takes, plus the transaction's id. What
//! cannot be read is a [`DeadLetter`] with the reason, never an error that
//! stops the stream.

use edgescore_events::JsonEvent;
use serde_json::Value;

/// The longest transaction id kept (it keys the webhook's idempotency).
pub const MAX_ID_BYTES: usize = 256;

/// Where a message came from in the input topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub partition: i32,
    pub offset: i64,
}

/// A message as it was received.
#[derive(Debug, Clone)]
pub struct Received {
    pub position: Position,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
}

/// A message read as a transaction.
#[derive(Debug, Clone)]
pub struct Transaction {
    pub position: Position,
    pub key: Option<Vec<u8>>,
    /// The id field's value, or `<topic>/<partition>/<offset>`.
    pub id: String,
    /// The fields the pipeline reads (the id taken out).
    pub fields: JsonEvent,
}

/// A message that cannot be scored, and why.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub message: Received,
    pub reason: String,
}

/// Reads `message` as a transaction of `topic` whose id is in `id_field`.
pub fn read(message: Received, topic: &str, id_field: &str) -> Result<Transaction, DeadLetter> {
    match parse(&message, topic, id_field) {
        Ok((id, fields)) => Ok(Transaction {
            position: message.position,
            key: message.key,
            id,
            fields,
        }),
        Err(reason) => Err(DeadLetter { message, reason }),
    }
}

fn parse(message: &Received, topic: &str, id_field: &str) -> Result<(String, JsonEvent), String> {
    let Some(payload) = message.payload.as_deref() else {
        return Err("the message has no value: send the transaction as a JSON object".into());
    };
    let text = std::str::from_utf8(payload).map_err(|e| {
        format!(
            "the message is not UTF-8 text (byte {}): send the transaction as a JSON object",
            e.valid_up_to()
        )
    })?;
    let JsonEvent(mut fields) = serde_json::from_str::<JsonEvent>(text)
        .map_err(|e| format!("not a JSON object of transaction fields: {e}"))?;
    let id = match fields.iter().position(|(name, _)| name == id_field) {
        None => format!(
            "{topic}/{}/{}",
            message.position.partition, message.position.offset
        ),
        Some(i) => match fields.remove(i).1 {
            Value::String(id) if !id.is_empty() && id.len() <= MAX_ID_BYTES => id,
            Value::String(id) if id.is_empty() => {
                return Err(format!("'{id_field}' is empty: give the transaction an id"));
            }
            Value::String(_) => {
                return Err(format!("'{id_field}' is longer than {MAX_ID_BYTES} bytes"));
            }
            other => {
                return Err(format!(
                    "'{id_field}' is {}, not a text: give the transaction's id as a JSON string",
                    kind(&other)
                ));
            }
        },
    };
    Ok((id, JsonEvent(fields)))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(payload: &[u8]) -> Received {
        Received {
            position: Position {
                partition: 2,
                offset: 7,
            },
            key: None,
            payload: Some(payload.to_vec()),
        }
    }

    #[test]
    fn the_id_is_taken_out_of_the_fields() {
        let t = read(
            received(br#"{"transaction_id":"t1","amount":3}"#),
            "in",
            "transaction_id",
        )
        .expect("no error");
        assert_eq!(t.id, "t1");
        assert_eq!(t.fields.0.len(), 1);
        assert_eq!(t.fields.0[0].0, "amount");
    }

    #[test]
    fn a_message_without_an_id_is_named_by_its_position() {
        let t = read(received(br#"{"amount":3}"#), "in", "transaction_id").expect("no error");
        assert_eq!(t.id, "in/2/7");
    }

    #[test]
    fn malformed_messages_are_dead_letters_with_the_reason() {
        for (payload, says) in [
            (&b"not json"[..], "not a JSON object"),
            (b"[1,2]", "not a JSON object"),
            (b"\xff\xfe", "not UTF-8"),
            (br#"{"a":1,"a":2}"#, "given twice"),
            (br#"{"transaction_id":5}"#, "a number, not a text"),
            (br#"{"transaction_id":""}"#, "is empty"),
        ] {
            let dead = read(received(payload), "in", "transaction_id").expect_err("refused");
            assert!(dead.reason.contains(says), "{payload:?}: {}", dead.reason);
        }
        let none = Received {
            payload: None,
            ..received(b"")
        };
        assert!(
            read(none, "in", "transaction_id")
                .expect_err("refused")
                .reason
                .contains("no value")
        );
    }
}
