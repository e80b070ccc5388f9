//! One partition's batch through the pipeline: events read by the
//! pipeline's rules, transformed (observed into the feature store), scored,
//! decided and explained, exactly as `POST /v1/pipelines/<p>/score` does.
//!
//! A transaction the pipeline refuses (the event rules, a transform's
//! `bad-input`, a row the model refuses) becomes a dead letter with the
//! reason, and the rest of the batch is scored without it. A failure that
//! names no transaction (a trap, a deadline) is narrowed down by scoring the
//! batch in halves, in order, until the one transaction that fails alone is
//! found and dead-lettered; the others are scored as they would have been
//! in one call (the store observes them in the same order). A feature
//! store that fails fails the whole batch, with what it observed taken
//! back: the caller retries it.

use edgescore_events::{Clock, Event, EventRules};
use edgescore_runtime::component_scorer::ComponentError;
use edgescore_runtime::feature_store::{StoreError, Uncommitted};
use edgescore_runtime::pipeline::Pipeline;

use crate::message::{DeadLetter, Received, Transaction};
use crate::scored::Scored;

/// The longest text value of a transaction (ids, names), and the most
/// fields: the server's defaults.
const MAX_TEXT_BYTES: usize = 1024;
const MAX_FIELDS: usize = 256;

/// A transaction with its event, not yet scored.
#[derive(Debug)]
pub struct Item {
    pub message: Received,
    pub transaction: Transaction,
    pub event: Event,
}

/// What a batch came to.
#[derive(Default, Debug)]
pub struct BatchResult {
    pub scored: Vec<Scored>,
    pub dead: Vec<DeadLetter>,
    /// What the transforms observed, to commit once the batch is durable.
    pub observed: Vec<Uncommitted>,
}

impl BatchResult {
    /// Takes back everything observed.
    pub fn undo(self) -> Result<(), StoreError> {
        for observed in self.observed {
            observed.undo()?;
        }
        Ok(())
    }
}

/// Why a batch failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum BatchFailure {
    #[error("{0}")]
    Store(ComponentError),
}

/// Reads each transaction's event by the pipeline's rules; a transaction
/// that breaks them is a dead letter.
pub fn read_events(
    pipeline: &Pipeline,
    transactions: Vec<(Received, Transaction)>,
    dead: &mut Vec<DeadLetter>,
) -> Vec<Item> {
    let rules = EventRules {
        max_text_bytes: MAX_TEXT_BYTES,
        max_fields: MAX_FIELDS,
        ..pipeline.event_rules().clone()
    };
    let reader = match pipeline.event_reader(&rules, Clock::system("the stream's clock")) {
        Ok(reader) => reader,
        Err(reason) => {
            // Checked when the pipeline loaded; were it not, nothing can be read.
            dead.extend(transactions.into_iter().map(|(message, _)| DeadLetter {
                message,
                reason: reason.clone(),
            }));
            return Vec::new();
        }
    };
    let mut items = Vec::with_capacity(transactions.len());
    for (message, transaction) in transactions {
        match reader.event_from_json(&transaction.fields) {
            Ok(event) => items.push(Item {
                message,
                transaction,
                event,
            }),
            Err(e) => dead.push(DeadLetter {
                message,
                reason: e.to_string(),
            }),
        }
    }
    items
}

/// Scores `items` in order through `pipeline`, into `result`.
pub fn score(
    pipeline: &Pipeline,
    mut items: Vec<Item>,
    result: &mut BatchResult,
) -> Result<(), BatchFailure> {
    loop {
        if items.is_empty() {
            return Ok(());
        }
        match score_once(pipeline, &items) {
            Ok((scored, observed)) => {
                result.observed.push(observed);
                result.scored.extend(scored);
                return Ok(());
            }
            Err(Failed::At(i, reason)) => {
                let item = items.remove(i);
                result.dead.push(DeadLetter {
                    message: item.message,
                    reason,
                });
            }
            Err(Failed::Store(e)) => return Err(BatchFailure::Store(e)),
            Err(Failed::Unlocated(e)) if items.len() == 1 => {
                let item = items.remove(0);
                result.dead.push(DeadLetter {
                    message: item.message,
                    reason: e.to_string(),
                });
            }
            Err(Failed::Unlocated(_)) => {
                let second = items.split_off(items.len() / 2);
                score(pipeline, items, result)?;
                items = second;
            }
        }
    }
}

enum Failed {
    /// Transaction `i` of the call is at fault.
    At(usize, String),
    Unlocated(ComponentError),
    Store(ComponentError),
}

fn classify(e: ComponentError, rows: usize) -> Failed {
    match e {
        ComponentError::BadEvent { event: Some(i), .. } if i < rows => {
            let reason = e.to_string();
            Failed::At(i, reason)
        }
        ComponentError::BadInput { row: Some(r), .. } if (r as usize) < rows => {
            let reason = e.to_string();
            Failed::At(r as usize, reason)
        }
        ComponentError::FeatureStore { .. } | ComponentError::UndoFailed { .. } => Failed::Store(e),
        other => Failed::Unlocated(other),
    }
}

/// One call of each step over all of `items`; what they observed is taken
/// back when a later step fails.
fn score_once(pipeline: &Pipeline, items: &[Item]) -> Result<(Vec<Scored>, Uncommitted), Failed> {
    let events: Vec<Event> = items.iter().map(|i| i.event.clone()).collect();
    let (rows, observed) = pipeline
        .transform(&events, |_| {})
        .map_err(|e| classify(e, items.len()))?;
    let outcomes = pipeline
        .score(&rows)
        .and_then(|scores| pipeline.outcomes(&rows, &scores, false));
    let outcomes = match outcomes {
        Ok(outcomes) => outcomes,
        Err(e) => {
            return Err(match observed.undo() {
                Ok(()) => classify(e, items.len()),
                Err(undo) => Failed::Store(ComponentError::UndoFailed {
                    error: Box::new(e),
                    undo,
                }),
            });
        }
    };
    let width = pipeline.features().len();
    let time = pipeline
        .event_reader(pipeline.event_rules(), Clock::system("the stream's clock"))
        .ok()
        .and_then(|r| r.time())
        .and_then(|i| pipeline.transform_component().inputs().get(i))
        .map(|spec| spec.name.clone());
    let scored = items
        .iter()
        .zip(outcomes)
        .enumerate()
        .map(|(i, (item, outcome))| Scored {
            transaction: item.transaction.clone(),
            event_time_ms: time
                .as_deref()
                .and_then(|name| event_time(&item.event, name)),
            features: rows[i * width..(i + 1) * width].to_vec(),
            outcome,
        })
        .collect();
    Ok((scored, observed))
}

fn event_time(event: &Event, name: &str) -> Option<i64> {
    event
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| match v {
            edgescore_models::transform::EventValue::Timestamp(ms)
            | edgescore_models::transform::EventValue::Integer(ms) => Some(*ms),
            _ => None,
        })
}
