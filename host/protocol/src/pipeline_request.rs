//! The body of `POST /v1/pipelines/<p>/score`: raw transactions and the
//! request's options.
//!
//! ```json
//! {"transactions": [{"timestamp": "2026-03-01T03:12:00Z", "card_id": "c42",
//!                    "amount": 1450.0, ...}],
//!  "key": "c42", "features": false, "explain": false}
//! ```
//!
//! Each transaction is a [`JsonEvent`] (its fields in order, each once);
//! what its fields may hold is the pipeline's event rules' to say
//! ([`edgescore_events::EventReader`]), after this.

use edgescore_events::JsonEvent;
use serde::Deserialize;

use crate::ProtocolError;
use crate::bounded_json::{self, BoundedJsonError};

/// A request's fields besides `transactions` (read with a bound on their
/// number, see [`bounded_json`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineOptions {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    features: bool,
    #[serde(default)]
    explain: bool,
}

/// A parsed pipeline request: at least one transaction, at most the limit.
#[derive(Debug)]
pub struct PipelineRequest {
    pub transactions: Vec<JsonEvent>,
    /// The canary split's key (a transaction or entity id); chance without one.
    pub key: Option<String>,
    /// Include each transaction's feature row.
    pub features: bool,
    /// Give reasons for allowed transactions too (by default only review
    /// and block decisions carry reasons: computing them costs more than
    /// the score).
    pub explain: bool,
}

impl PipelineRequest {
    /// Parses `body`, refusing it as soon as a transaction past
    /// `max_transactions` is read ([`ProtocolError::TooManyRows`]), and
    /// refusing a request of none.
    pub fn parse(body: &[u8], max_transactions: usize) -> Result<Self, ProtocolError> {
        let (transactions, options): (Vec<JsonEvent>, PipelineOptions) =
            bounded_json::parse(body, "transactions", max_transactions).map_err(|e| match e {
                BoundedJsonError::TooMany { limit } => ProtocolError::TooManyRows {
                    limit,
                    what: "transactions",
                },
                BoundedJsonError::Json(e) => ProtocolError::PipelineBody(e),
            })?;
        if transactions.is_empty() {
            return Err(ProtocolError::NoTransactions);
        }
        Ok(Self {
            transactions,
            key: options.key,
            features: options.features,
            explain: options.explain,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_and_options_are_read() {
        let request = PipelineRequest::parse(
            br#"{"transactions": [{"card_id": "c1", "amount": 3}], "key": "c1", "explain": true}"#,
            2,
        )
        .expect("parses");
        assert_eq!(request.transactions.len(), 1);
        assert_eq!(request.key.as_deref(), Some("c1"));
        assert!(request.explain && !request.features);
    }

    #[test]
    fn empty_repeated_or_too_many_transactions_are_refused() {
        let e = PipelineRequest::parse(br#"{"transactions": []}"#, 2).expect_err("empty");
        assert_eq!(e.to_string(), "\"transactions\" is empty");
        let e = PipelineRequest::parse(br#"{"transactions": [{}, {}, {}]}"#, 2).expect_err("3");
        assert!(
            matches!(
                e,
                ProtocolError::TooManyRows {
                    limit: 2,
                    what: "transactions"
                }
            ),
            "{e}"
        );
        let e = PipelineRequest::parse(br#"{"transactions": [{"a": 1, "a": 2}]}"#, 2)
            .expect_err("repeated field");
        assert!(
            e.to_string().starts_with(
                "expected {\"transactions\": [{\"<field>\": <value>, ...}, ...]}: field 'a' is given twice"
            ),
            "{e}"
        );
    }
}
