//! Dynamic batching, with the semantics of Triton's dynamic batcher:
//! concurrent requests to one version wait in a queue and are scored
//! together, in one call of at most `max_batch_rows` rows, once the batch is
//! full or its oldest request has waited `max_queue_delay_us`.
//!
//! One thread per batched version takes requests off the queue, scores each
//! batch and answers every request with its own slice of the scores. A
//! batch that fails (a refused row) is scored again request by request, so
//! a bad row costs only the request that sent it, with the row numbered
//! within that request, as when unbatched. Requests keep their order within
//! a batch, and a row's score does not depend on its batch: the scores are
//! the bits an unbatched call gives.
//!
//! The thread ends when the version is dropped (the queue's sender goes with
//! it) after answering what it had taken.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use edgescore_runtime::component_scorer::ComponentError;

use crate::version_scorer::VersionScorer;

/// Requests that may wait in one version's queue; beyond it a request is
/// scored on its own rather than queued.
const QUEUE_CAPACITY: usize = 4096;

/// One batch, as `/metrics` records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSize {
    pub rows: usize,
    pub requests: usize,
    /// From the oldest request's arrival in the queue to its answer: the
    /// wait for the batch to fill plus the batch's scoring.
    pub oldest_in_batcher: Duration,
}

/// What the batch thread tells the server about each batch it scored.
pub type BatchObserver = Box<dyn Fn(BatchSize) + Send>;

/// A version's batch queue. Dropping it ends its thread.
#[derive(Debug)]
pub struct Batcher {
    queue: SyncSender<Request>,
    max_batch_rows: usize,
    width: usize,
}

/// One request waiting for its batch.
struct Request {
    rows: Vec<f64>,
    queued: Instant,
    answer: oneshot::Sender<Result<Vec<f64>, ComponentError>>,
}

/// The answer to a request handed to the batcher.
pub type Pending = oneshot::Receiver<Result<Vec<f64>, ComponentError>>;

impl Batcher {
    /// Starts the batch thread of `scorer` (named after `label`).
    pub fn start(
        scorer: Arc<VersionScorer>,
        max_batch_rows: usize,
        max_queue_delay: Duration,
        label: &str,
        observe: BatchObserver,
    ) -> std::io::Result<Self> {
        let (queue, requests) = mpsc::sync_channel(QUEUE_CAPACITY);
        let width = scorer.manifest().features.len();
        let worker = BatchWorker {
            scorer,
            max_rows: max_batch_rows.max(1),
            max_delay: max_queue_delay,
            width,
            observe,
        };
        std::thread::Builder::new()
            .name(format!("edgescore-batch-{label}"))
            .spawn(move || worker.run(&requests))?;
        Ok(Self {
            queue,
            max_batch_rows,
            width,
        })
    }

    /// Queues `rows` (row-major) for the next batch. Gives the rows back
    /// when they should be scored on their own: no whole rows (the scorer
    /// says what is wrong), more rows than a batch holds, or a full queue.
    pub fn submit(&self, rows: Vec<f64>) -> Result<Pending, Vec<f64>> {
        let whole_rows =
            self.width > 0 && !rows.is_empty() && rows.len().is_multiple_of(self.width);
        if !whole_rows || rows.len() / self.width > self.max_batch_rows {
            return Err(rows);
        }
        let (answer, pending) = oneshot::channel();
        let request = Request {
            rows,
            queued: Instant::now(),
            answer,
        };
        match self.queue.try_send(request) {
            Ok(()) => Ok(pending),
            Err(TrySendError::Full(request) | TrySendError::Disconnected(request)) => {
                Err(request.rows)
            }
        }
    }
}

struct BatchWorker {
    scorer: Arc<VersionScorer>,
    max_rows: usize,
    max_delay: Duration,
    width: usize,
    observe: BatchObserver,
}

impl BatchWorker {
    fn run(&self, requests: &Receiver<Request>) {
        // A request that did not fit the batch before it opens the next one.
        let mut carried: Option<Request> = None;
        loop {
            let first = match carried.take() {
                Some(carried) => carried,
                None => match requests.recv() {
                    Ok(request) => request,
                    Err(_) => return,
                },
            };
            // The oldest request waits at most the delay from its arrival.
            let opened = first.queued;
            let deadline = opened + self.max_delay;
            let mut rows = self.rows_of(&first);
            let mut batch = vec![first];
            while rows < self.max_rows {
                let wait = deadline.saturating_duration_since(Instant::now());
                let next = if wait.is_zero() {
                    requests.try_recv().map_err(|_| RecvTimeoutError::Timeout)
                } else {
                    requests.recv_timeout(wait)
                };
                match next {
                    Ok(request) if rows + self.rows_of(&request) > self.max_rows => {
                        carried = Some(request);
                        break;
                    }
                    Ok(request) => {
                        rows += self.rows_of(&request);
                        batch.push(request);
                    }
                    Err(_) => break,
                }
            }
            let requests = batch.len();
            // A panic must not end batching for the version: the batch's
            // requests not yet answered get "lost" (their senders drop),
            // and the thread goes on.
            let scoring = std::panic::AssertUnwindSafe(|| self.score(batch));
            if std::panic::catch_unwind(scoring).is_err() {
                tracing::error!(
                    "the batch thread's scoring panicked; its {requests} requests were answered with an error"
                );
            }
            (self.observe)(BatchSize {
                rows,
                requests,
                oldest_in_batcher: opened.elapsed(),
            });
        }
    }

    fn rows_of(&self, request: &Request) -> usize {
        request.rows.len() / self.width.max(1)
    }

    /// Scores `batch` in one call and answers each request with its scores;
    /// when the call fails, each request on its own.
    fn score(&self, batch: Vec<Request>) {
        if let [_] = batch.as_slice() {
            for request in batch {
                let _ = request.answer.send(self.scorer.score(&request.rows));
            }
            return;
        }
        let all: Vec<f64> = batch.iter().flat_map(|r| r.rows.iter().copied()).collect();
        match self.scorer.score(&all) {
            Ok(scores) => {
                let mut start = 0;
                for request in batch {
                    let end = start + self.rows_of(&request);
                    let own = scores.get(start..end).map(<[f64]>::to_vec).ok_or_else(|| {
                        ComponentError::Internal("the batch's scores came back short".into())
                    });
                    start = end;
                    // A client that went away does not take its answer.
                    let _ = request.answer.send(own);
                }
            }
            Err(_) => {
                for request in batch {
                    let _ = request.answer.send(self.scorer.score(&request.rows));
                }
            }
        }
    }
}
