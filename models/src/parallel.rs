//! One batch scored on several threads: the rows split into contiguous
//! chunks, each scored by the same code as on one thread. A row's score
//! depends on that row alone, so the scores are the same bits whatever the
//! thread count (the golden tests check it on every case).

use crate::{Model, ScoreError};

/// Batches smaller than this are scored on the calling thread: starting a
/// thread costs tens of microseconds, more than a small batch takes, and a
/// single row never waits for one.
pub const PARALLEL_MIN_ROWS: usize = 1024;

/// Chunks are whole multiples of this many rows (the tree walk's block).
const CHUNK_ALIGN: usize = 64;

impl Model {
    /// [`Model::score_into`] on up to `threads` threads (scoped, started per
    /// call). Batches under [`PARALLEL_MIN_ROWS`] rows, and `threads <= 1`,
    /// score on the calling thread. On an error the first failing row in
    /// batch order is reported, counted from the start of `rows`.
    pub fn score_into_threads(
        &self,
        rows: &[f64],
        out: &mut [f64],
        threads: usize,
    ) -> Result<(), ScoreError> {
        let width = self.num_features().max(1);
        let n = out.len();
        if threads <= 1 || n < PARALLEL_MIN_ROWS || rows.len() != n * width {
            // (A shape error is the one-thread path's to report.)
            return self.score_into(rows, out);
        }
        let chunk = n.div_ceil(threads).next_multiple_of(CHUNK_ALIGN);
        let results: Vec<Result<(), ScoreError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = rows
                .chunks(chunk * width)
                .zip(out.chunks_mut(chunk))
                .enumerate()
                .map(|(i, (rows, out))| {
                    scope.spawn(move || {
                        self.score_into(rows, out)
                            .map_err(|e| e.with_rows_before(i * chunk))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        results.into_iter().collect()
    }

    /// [`Model::score`] on up to `threads` threads; see
    /// [`Model::score_into_threads`].
    pub fn score_threads(&self, rows: &[f64], threads: usize) -> Result<Vec<f64>, ScoreError> {
        let width = self.num_features().max(1);
        if !rows.len().is_multiple_of(width) {
            return self.score(rows);
        }
        let mut out = vec![0.0; rows.len() / width];
        self.score_into_threads(rows, &mut out, threads)?;
        Ok(out)
    }
}
