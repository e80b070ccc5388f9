//! How much one call into a component may carry: the one rule by which
//! `serve`, `score --component`, `transform` and `eval` split their input.
//!
//! The call deadline bounds one call, not a request or a file; so a batch is
//! cut into calls whose estimated work fits well inside the deadline. The
//! estimate comes from the model itself (its manifest records the steps one
//! row takes: a tree level, or a linear term). Should a call still run past
//! the deadline (a machine much slower or busier than the estimate assumes),
//! a pure scoring call is retried in two halves on a fresh instance, down to
//! one row; a single row that cannot finish is the only deadline error, and
//! it names the row. Transform calls are sized as they go
//! ([`AdaptiveCalls`]), from the time the calls before took, to an eighth
//! of the deadline; one that still runs over is taken back (its
//! observations forgotten by the feature store) and retried in smaller
//! calls on a fresh instance.

use std::time::Duration;

use edgescore_models::Manifest;

use crate::component_error::ComponentError;

/// Nanoseconds one step may take inside a component, several times what a
/// 300-tree model measures on a busy 2-core machine (about 3 ns per tree
/// level per row in WebAssembly), so an estimate errs on the safe side.
const NS_PER_STEP: u128 = 10;
/// The share of the deadline a call is sized to fill: a deadline counts in
/// whole epoch ticks, and the machine may be busy.
const DEADLINE_SHARE: u128 = 2;
/// Rows (or events) per call at most, however cheap each is: bounds the
/// memory one call copies in and out.
const MAX_PER_CALL: usize = 4096;
/// What a row costs when the manifest does not say: a large forest.
const UNKNOWN_STEPS_PER_ROW: u64 = 20_000;
/// The first adaptive call's size, before any call was timed.
const FIRST_ADAPTIVE_CALL: usize = 4;
/// The share of the deadline an adaptive call is sized to fill: calls that
/// cannot be retried leave room for the machine to slow down eightfold.
const ADAPTIVE_SHARE: u32 = 8;

/// The call deadline, and how many items fit in one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallBudget {
    deadline: Duration,
}

impl CallBudget {
    /// The budget of calls that run under `deadline`.
    pub fn new(deadline: Duration) -> Self {
        Self { deadline }
    }

    /// How many items costing `steps_per_item` each fit in one call: at
    /// least 1, at most 4096.
    pub fn items_per_call(&self, steps_per_item: u64) -> usize {
        let steps = self.deadline.as_nanos() / DEADLINE_SHARE / NS_PER_STEP;
        let items = steps / u128::from(steps_per_item.max(1));
        items.clamp(1, MAX_PER_CALL as u128) as usize
    }

    /// Rows per scoring call for the model a manifest describes; with
    /// `contributions`, the much larger work of TreeSHAP decides.
    pub fn rows_per_call(&self, manifest: &Manifest, contributions: bool) -> usize {
        let steps = match contributions {
            false => manifest.steps_per_row,
            true => manifest.contribution_steps_per_row,
        };
        self.items_per_call(if steps == 0 {
            UNKNOWN_STEPS_PER_ROW
        } else {
            steps
        })
    }

    /// Call sizes for work whose cost per item is not known in advance.
    pub fn adaptive(&self) -> AdaptiveCalls {
        AdaptiveCalls {
            target: self.deadline / ADAPTIVE_SHARE,
            size: FIRST_ADAPTIVE_CALL,
        }
    }
}

/// Sizes of successive calls that cannot be retried (a transform records
/// its events): the first is small; each next one is what the calls so far
/// say fits an eighth of the deadline, at most twice the last, so a slow
/// patch of events (a card with a long history) shrinks the calls before
/// one of them can run out of time.
#[derive(Debug, Clone)]
pub struct AdaptiveCalls {
    target: std::time::Duration,
    size: usize,
}

impl AdaptiveCalls {
    /// How many items the next call takes (at least 1).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Records that a call of `items` items took `elapsed`.
    pub fn record(&mut self, items: usize, elapsed: std::time::Duration) {
        let per_item = elapsed.as_nanos() / items.max(1) as u128;
        let fits = self.target.as_nanos() / per_item.max(1);
        let grown = (items.max(1) * 2) as u128;
        self.size = fits.min(grown).clamp(1, MAX_PER_CALL as u128) as usize;
    }
}

/// Scores `rows` (row-major, `width` values each) in calls of at most
/// `rows_per_call` rows through `call`, collecting what each call returns
/// (one item per row). `call` is given a slice of whole rows; it must use a
/// fresh instance after a trap (a trapped instance is poisoned). A call that
/// runs past its deadline is retried in two halves, down to a single row,
/// which gets one more try; its second deadline error becomes
/// [`ComponentError::RowDeadline`] naming the row (counted from 0 within
/// `rows`).
///
/// Only for calls without side effects: a retried call runs its rows again.
pub fn score_in_calls<T>(
    rows: &[f64],
    width: usize,
    rows_per_call: usize,
    mut call: impl FnMut(&[f64]) -> Result<Vec<T>, ComponentError>,
) -> Result<Vec<T>, ComponentError> {
    let width = width.max(1);
    let mut out = Vec::with_capacity(rows.len() / width);
    for (k, chunk) in rows.chunks(rows_per_call.max(1) * width).enumerate() {
        score_splitting(chunk, width, k * rows_per_call.max(1), &mut call, &mut out)?;
    }
    Ok(out)
}

fn score_splitting<T>(
    rows: &[f64],
    width: usize,
    first_row: usize,
    call: &mut impl FnMut(&[f64]) -> Result<Vec<T>, ComponentError>,
    out: &mut Vec<T>,
) -> Result<(), ComponentError> {
    match call(rows) {
        Ok(scored) => {
            out.extend(scored);
            Ok(())
        }
        Err(ComponentError::Deadline { deadline_ms }) => {
            let count = rows.len() / width;
            if count <= 1 {
                // A busy machine can stall one call past the deadline, not
                // two in a row: a single row gets one more try.
                return match call(rows) {
                    Ok(scored) => {
                        out.extend(scored);
                        Ok(())
                    }
                    Err(ComponentError::Deadline { .. }) => Err(ComponentError::RowDeadline {
                        row: first_row,
                        deadline_ms,
                    }),
                    Err(e) => Err(e),
                };
            }
            let half = count / 2;
            let (front, back) = rows.split_at(half * width);
            score_splitting(front, width, first_row, call, out)?;
            score_splitting(back, width, first_row + half, call, out)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_sized_by_the_work_of_a_row() {
        let budget = CallBudget::new(Duration::from_millis(10));
        // 10 ms / 2 / 10 ns = 500,000 steps.
        assert_eq!(budget.items_per_call(2_700), 185);
        assert_eq!(budget.items_per_call(1), MAX_PER_CALL);
        assert_eq!(budget.items_per_call(0), MAX_PER_CALL);
        assert_eq!(budget.items_per_call(10_000_000), 1);
        assert!(CallBudget::new(Duration::from_millis(100)).items_per_call(2_700) > 1_800);
    }

    #[test]
    fn adaptive_calls_grow_while_fast_and_shrink_when_slow() {
        let mut calls = CallBudget::new(Duration::from_millis(10)).adaptive();
        assert_eq!(calls.size(), FIRST_ADAPTIVE_CALL);
        // 1 µs an event: the target (1.25 ms) would fit 1,250; growth is capped.
        calls.record(4, Duration::from_micros(4));
        assert_eq!(calls.size(), 8);
        calls.record(8, Duration::from_micros(8));
        assert_eq!(calls.size(), 16);
        // Then 0.5 ms an event: 2 fit.
        calls.record(16, Duration::from_millis(8));
        assert_eq!(calls.size(), 2);
        calls.record(2, Duration::from_secs(1));
        assert_eq!(calls.size(), 1);
    }

    /// A call of more than 3 rows "runs past the deadline": a batch of 10
    /// is scored in pieces, in order; a row that alone fails is named.
    #[test]
    fn a_call_past_the_deadline_is_split_down_to_the_row_at_fault() {
        let rows: Vec<f64> = (0..20).map(f64::from).collect();
        let mut calls = 0;
        let scores = score_in_calls(&rows, 2, 10, |chunk| {
            calls += 1;
            if chunk.len() > 6 {
                return Err(ComponentError::Deadline { deadline_ms: 10 });
            }
            Ok(chunk.chunks(2).map(|r| r[0]).collect::<Vec<f64>>())
        })
        .expect("scored in pieces");
        assert_eq!(
            scores,
            (0..10).map(|r| f64::from(2 * r)).collect::<Vec<_>>()
        );
        assert!(calls > 3);

        let err = score_in_calls(&rows, 2, 4, |chunk| {
            if chunk.contains(&14.0) {
                return Err(ComponentError::Deadline { deadline_ms: 10 });
            }
            Ok(vec![0.0; chunk.len() / 2])
        })
        .expect_err("row 7 never fits");
        assert!(
            matches!(err, ComponentError::RowDeadline { row: 7, .. }),
            "{err:?}"
        );
    }
}
