//! `edgescore bench`: throughput over many rows and single-row latency, for
//! a model scored natively or a component scored in the sandbox: what users
//! and CI measure with, as onnxruntime's `perf_test` and Triton's
//! `perf_analyzer` are for those servers.
//!
//! The input's rows are scored once first (so a bad file fails with the
//! usual error, row and column), then repeated up to the requested count and
//! timed: one untimed warm-up pass, then [`BenchConfig::passes`] timed passes
//! whose median is reported. Single-row latency is timed call by call on one
//! thread.

use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use edgescore_gpu::GpuScorer;
use edgescore_models::Model;
use edgescore_runtime::component_scorer::{ScorerComponent, ScorerInstance};

use crate::csv_rows::{CsvOptions, CsvRows, InputSchema};
use crate::error::TableError;
use crate::row_scorer::ScoreFailure;
use crate::table::Format;
use crate::{Error, Result};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Rows scored per timed pass (the input's rows repeated).
    pub rows: usize,
    /// Rows per scoring call; `None` scores a pass's rows as one batch.
    pub batch: Option<usize>,
    /// Threads scoring a pass.
    pub threads: usize,
    /// Single-row calls timed for the latency percentiles.
    pub single_row_calls: usize,
    /// Timed passes over the rows (their median is reported).
    pub passes: usize,
}

/// Every core this process may use (1 when that cannot be known).
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            rows: 100_000,
            batch: None,
            threads: all_cores(),
            single_row_calls: 10_000,
            passes: 3,
        }
    }
}

/// What scores: the model core, a component in the sandbox, or the GPU.
#[derive(Debug, Clone, Copy)]
pub enum BenchScorer<'a> {
    Native(&'a Model),
    Component(&'a ScorerComponent),
    Gpu(&'a GpuScorer),
}

impl BenchScorer<'_> {
    /// The backend's name, as `--backend` takes it.
    pub fn backend(&self) -> &'static str {
        match self {
            BenchScorer::Native(_) => "native",
            BenchScorer::Component(_) => "component",
            BenchScorer::Gpu(_) => "gpu",
        }
    }

    fn width(&self) -> usize {
        match self {
            BenchScorer::Native(model) => model.num_features(),
            BenchScorer::Component(component) => component.manifest().features.len(),
            BenchScorer::Gpu(gpu) => gpu.model().num_features(),
        }
    }

    /// Scores `rows` into `out` on the calling thread; a component on
    /// `instance` (made on first use).
    fn score(
        &self,
        instance: &mut Option<ScorerInstance>,
        rows: &[f64],
        out: &mut [f64],
    ) -> std::result::Result<(), ScoreFailure> {
        match self {
            BenchScorer::Native(model) => model.score_into(rows, out).map_err(ScoreFailure::Native),
            BenchScorer::Component(component) => {
                let scores = component
                    .score_all(instance, rows)
                    .map_err(ScoreFailure::Component)?;
                out.copy_from_slice(&scores);
                Ok(())
            }
            BenchScorer::Gpu(gpu) => {
                out.copy_from_slice(&gpu.score(rows)?);
                Ok(())
            }
        }
    }
}

/// The measurements, as `--json` prints them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    pub backend: &'static str,
    /// The instruction set a native batch walk uses (`avx512`), or null for
    /// the portable walk.
    pub simd: Option<&'static str>,
    /// The GPU backend's adapter, as its driver names it (null otherwise).
    pub adapter: Option<String>,
    /// The GPU walk alone, its rows already on the device (one chunk of up
    /// to 4M rows walked ten times): rows per second (null off the GPU).
    pub gpu_resident_rows_per_s: Option<f64>,
    pub threads: usize,
    pub rows: usize,
    /// Rows per batch, as asked (`--batch`, default all of a pass's rows);
    /// a batch larger than a thread's share is split between the threads.
    pub batch: usize,
    pub features: usize,
    /// Distinct rows read from the input (repeated up to `rows`).
    pub input_rows: usize,
    /// Rows per second of the median timed pass.
    pub rows_per_s: f64,
    /// Each timed pass, in seconds.
    pub pass_seconds: Vec<f64>,
    pub single_row_calls: usize,
    pub single_row_p50_us: f64,
    pub single_row_p99_us: f64,
}

/// Reads every row of `input` (CSV, or Parquet by its name) in `scorer`'s
/// feature order and checks that each scores; returns the rows, row-major.
pub fn read_rows(scorer: BenchScorer<'_>, input: &Path) -> Result<Vec<f64>> {
    let reader: Box<dyn Read> = if Format::of(input) == Format::Parquet {
        Box::new(std::io::Cursor::new(crate::table::read(input)?.to_csv()?))
    } else {
        Box::new(
            std::fs::File::open(input).map_err(|source| Error::ReadInput {
                path: input.to_owned(),
                source,
            })?,
        )
    };
    let names: Option<Vec<String>> = match scorer {
        BenchScorer::Native(model) => model.feature_names().map(<[String]>::to_vec),
        BenchScorer::Gpu(gpu) => gpu.model().feature_names().map(<[String]>::to_vec),
        BenchScorer::Component(component) => {
            let names: Vec<String> = component
                .manifest()
                .features
                .iter()
                .map(|f| f.name.clone())
                .collect();
            names.iter().all(|n| !n.is_empty()).then_some(names)
        }
    };
    let schema = InputSchema {
        names: names.as_deref(),
        width: scorer.width(),
    };
    let mut rows = CsvRows::new(reader, input, schema, CsvOptions::default())?;
    let mut values = Vec::new();
    while rows.read_batch(usize::MAX, &mut values)? > 0 {}
    if values.is_empty() {
        return Err(TableError::Csv {
            path: input.to_owned(),
            message: "the file has a header but no rows to score".into(),
        }
        .into());
    }
    let mut out = vec![0.0; values.len() / scorer.width().max(1)];
    scorer
        .score(&mut None, &values, &mut out)
        .map_err(|e| crate::score_csv::locate(e, input, 0))?;
    Ok(values)
}

/// Measures `scorer` on `input_rows` (row-major, as [`read_rows`] gives).
pub fn run(
    scorer: BenchScorer<'_>,
    input_rows: &[f64],
    config: &BenchConfig,
) -> Result<BenchReport> {
    let width = scorer.width().max(1);
    let distinct = input_rows.len() / width;
    let rows = config.rows.max(1);
    let tiled: Vec<f64> = input_rows
        .iter()
        .copied()
        .cycle()
        .take(rows * width)
        .collect();
    let threads = config.threads.max(1);
    let batch = config.batch.unwrap_or(rows).clamp(1, rows);
    // A batch larger than a thread's share is split, so every thread works.
    let unit = batch.min(rows.div_ceil(threads));
    let mut out = vec![0.0; rows];
    timed_pass(scorer, &tiled, &mut out, unit, threads, width)?;
    let mut pass_seconds = Vec::with_capacity(config.passes.max(1));
    for _ in 0..config.passes.max(1) {
        let took = timed_pass(scorer, &tiled, &mut out, unit, threads, width)?;
        pass_seconds.push(took.as_secs_f64());
    }
    let mut sorted = pass_seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let (p50, p99) = single_row_latency(scorer, input_rows, width, config.single_row_calls)?;
    let gpu_resident_rows_per_s = match scorer {
        BenchScorer::Gpu(gpu) => Some(gpu.resident_rows_per_s(&tiled, 10)?),
        _ => None,
    };
    Ok(BenchReport {
        backend: scorer.backend(),
        simd: match scorer {
            BenchScorer::Native(model) => model.simd(),
            BenchScorer::Component(_) | BenchScorer::Gpu(_) => None,
        },
        adapter: match scorer {
            BenchScorer::Gpu(gpu) => {
                Some(format!("{} [{}]", gpu.adapter(), gpu.adapter_kind().name()))
            }
            _ => None,
        },
        gpu_resident_rows_per_s,
        threads,
        rows,
        batch,
        features: scorer.width(),
        input_rows: distinct,
        rows_per_s: rows as f64 / median,
        pass_seconds,
        single_row_calls: config.single_row_calls,
        single_row_p50_us: p50,
        single_row_p99_us: p99,
    })
}

/// Scores `rows` in calls of `unit` rows, `threads` workers taking the next
/// call's rows as they finish. Returns the wall time.
fn timed_pass(
    scorer: BenchScorer<'_>,
    rows: &[f64],
    out: &mut [f64],
    unit: usize,
    threads: usize,
    width: usize,
) -> Result<Duration> {
    let work = Mutex::new(rows.chunks(unit * width).zip(out.chunks_mut(unit)));
    let start = Instant::now();
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut instance = None;
                    loop {
                        let next = work.lock().unwrap_or_else(|p| p.into_inner()).next();
                        let Some((rows, out)) = next else {
                            return Ok(());
                        };
                        scorer
                            .score(&mut instance, rows, out)
                            .map_err(failure_into_error)?;
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let took = start.elapsed();
    results.into_iter().collect::<Result<()>>()?;
    Ok(took)
}

/// Single-row calls cycle over at most this many of the input's rows, so
/// each row is in cache, as a request's row is when it has just been parsed
/// (cycling through a large file would time memory, not scoring).
const SINGLE_ROW_CYCLE: usize = 1024;

/// p50 and p99 of `calls` single-row calls (after a tenth as many untimed),
/// in microseconds, on the calling thread.
fn single_row_latency(
    scorer: BenchScorer<'_>,
    rows: &[f64],
    width: usize,
    calls: usize,
) -> Result<(f64, f64)> {
    let calls = calls.max(1);
    let mut instance = None;
    let mut out = [0.0];
    let cycle = &rows[..rows.len().min(SINGLE_ROW_CYCLE * width)];
    let mut row_at = cycle.chunks(width).cycle();
    let mut next_row = || row_at.next().unwrap_or(&[]);
    for _ in 0..calls / 10 {
        scorer
            .score(&mut instance, next_row(), &mut out)
            .map_err(failure_into_error)?;
    }
    let mut nanos = Vec::with_capacity(calls);
    for _ in 0..calls {
        let row = next_row();
        let start = Instant::now();
        scorer
            .score(&mut instance, row, &mut out)
            .map_err(failure_into_error)?;
        nanos.push(start.elapsed().as_nanos() as u64);
    }
    nanos.sort_unstable();
    let at = |q: f64| nanos[((calls as f64 * q).ceil() as usize).clamp(1, calls) - 1] as f64 / 1e3;
    Ok((at(0.50), at(0.99)))
}

/// A failure after the rows were checked (a component trapping, say).
fn failure_into_error(e: ScoreFailure) -> Error {
    match e {
        ScoreFailure::Native(e) => e.into(),
        ScoreFailure::Component(e) => e.into(),
        ScoreFailure::Gpu(e) => e.into(),
    }
}
