//! `edgescore score`: score every row of a CSV (or a Parquet file, streamed
//! a few thousand rows at a time) and write one score per row.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::csv_rows::{CsvOptions, CsvRows};
use crate::error::TableError;
use crate::row_scorer::{RowScorer, ScoreFailure};
use crate::table::Format;
use crate::{Error, Result};
use edgescore_runtime::atomic_file::AtomicFile;
use edgescore_runtime::component_scorer::ComponentError;

/// Inputs at least this large show a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 16 << 20;
/// Parquet inputs of at least this many rows show one.
const PROGRESS_MIN_ROWS: u64 = 200_000;

/// Options of the `score` command.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScoreOptions {
    pub csv: CsvOptions,
}

/// Scores every row of the CSV at `input` (`-` for standard input) with
/// `scorer` and writes a CSV with a `score` (or `raw`) header and one value
/// per row, each printed as the shortest decimal that reads back to the same
/// `f64`; or, for an `output` named `.parquet` or `.pq`, a Parquet file of
/// one nullable `double` column `score` (or `raw`).
///
/// With `output` the file appears only once every row has been scored (it is
/// written to a temporary file beside it and renamed), so a failure never
/// leaves a partial file; without it the scores stream to standard output.
/// Large files show a progress bar on standard error when it is a terminal.
/// Returns the number of rows scored.
pub fn score_csv(
    scorer: &mut RowScorer,
    input: &Path,
    output: Option<&Path>,
    options: ScoreOptions,
) -> Result<u64> {
    let progress = ProgressBar::hidden();
    let mut counts_rows = false;
    // A Parquet row that cannot be read leaves its typed error here.
    let mut parquet_failure = None;
    let reader: Box<dyn Read> = if input == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else if Format::of(input) == Format::Parquet {
        // Streamed as CSV text through the same path, cell for cell, a few
        // thousand rows at a time.
        let stream = crate::table::ParquetCsv::open(input)?;
        parquet_failure = Some(stream.failure());
        if stream.rows() >= PROGRESS_MIN_ROWS && std::io::stderr().is_terminal() {
            counts_rows = true;
            progress.set_draw_target(ProgressDrawTarget::stderr());
            progress.set_length(stream.rows());
            progress.set_style(
                ProgressStyle::with_template(
                    "scoring {bar:40} {pos}/{len} rows, {msg}, {eta} left",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        }
        Box::new(stream)
    } else {
        let file = std::fs::File::open(input).map_err(|source| Error::ReadInput {
            path: input.to_owned(),
            source,
        })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        if size >= PROGRESS_MIN_BYTES && std::io::stderr().is_terminal() {
            progress.set_draw_target(ProgressDrawTarget::stderr());
            progress.set_length(size);
            progress.set_style(
                ProgressStyle::with_template(
                    "scoring {bar:40} {bytes}/{total_bytes}, {msg}, {eta} left",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        }
        Box::new(progress.wrap_read(file))
    };
    let progress = ScoreProgress {
        bar: progress,
        counts_rows,
        started: std::time::Instant::now(),
    };
    let result = CsvRows::new(reader, input, scorer.schema(), options.csv)
        .map_err(Error::from)
        .and_then(|mut rows| write_output(scorer, &mut rows, output, &progress));
    let progress = progress.bar;
    progress.finish_and_clear();
    match parquet_failure.and_then(|failure| failure.borrow_mut().take()) {
        Some(e) => Err(e.into()),
        None => result,
    }
}

/// The progress bar (hidden unless the input is large and stderr a
/// terminal): bytes read for a CSV, rows for Parquet; rows/s either way.
struct ScoreProgress {
    bar: ProgressBar,
    counts_rows: bool,
    started: std::time::Instant,
}

impl ScoreProgress {
    fn scored(&self, total: u64) {
        if self.counts_rows {
            self.bar.set_position(total);
        }
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        self.bar
            .set_message(format!("{:.0} rows/s", total as f64 / seconds));
    }
}

fn write_output<R: Read>(
    scorer: &mut RowScorer,
    rows: &mut CsvRows<R>,
    output: Option<&Path>,
    progress: &ScoreProgress,
) -> Result<u64> {
    let header = if scorer.is_raw() { "raw" } else { "score" };
    let Some(path) = output else {
        let stdout = Path::new("<stdout>");
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let n = write_csv(scorer, rows, header, &mut out, progress).map_err(|e| e.at(stdout))?;
        out.flush().map_err(|source| Error::WriteOutput {
            path: stdout.to_owned(),
            source,
        })?;
        return Ok(n);
    };
    if Format::of(path) == Format::Parquet {
        let mut scores = Vec::new();
        let n = score_rows(scorer, rows, progress, |batch| {
            scores.extend_from_slice(batch);
            Ok(())
        })
        .map_err(|e| e.at(path))?;
        crate::table::write_parquet_column(path, header, &scores)?;
        return Ok(n);
    }
    let mut file = AtomicFile::create(path)?;
    let n = write_csv(scorer, rows, header, file.writer(), progress).map_err(|e| e.at(path))?;
    file.commit()?;
    Ok(n)
}

/// A failure while writing scores: writing itself, or reading and scoring rows.
enum WriteError {
    Io(std::io::Error),
    Other(Error),
}

impl WriteError {
    /// A failed write is reported against the output at `path`.
    fn at(self, path: &Path) -> Error {
        match self {
            WriteError::Io(source) => Error::WriteOutput {
                path: path.to_owned(),
                source,
            },
            WriteError::Other(e) => e,
        }
    }
}

impl From<Error> for WriteError {
    fn from(e: Error) -> Self {
        WriteError::Other(e)
    }
}

/// A scoring error with its row counted from the start of the file, not the batch.
pub(crate) fn locate(e: ScoreFailure, path: &Path, rows_before: u64) -> Error {
    let missing = "the value is missing and this model cannot score a missing value \
                   (fill the cell, or give the linear model an \"impute\" list)";
    match e {
        ScoreFailure::Native(edgescore_models::ScoreError::Missing { row, feature }) => {
            TableError::Cell {
                path: path.to_owned(),
                row: rows_before + row as u64 + 1,
                line: 0,
                column: feature,
                problem: missing.into(),
            }
            .into()
        }
        ScoreFailure::Component(ComponentError::BadInput {
            row: Some(row),
            feature: Some(feature),
            ..
        }) => TableError::Cell {
            path: path.to_owned(),
            row: rows_before + u64::from(row) + 1,
            line: 0,
            column: feature,
            problem: missing.into(),
        }
        .into(),
        ScoreFailure::Component(ComponentError::RowDeadline { row, deadline_ms }) => {
            ComponentError::RowDeadline {
                // One-based, from the start of the file, as `TableError::Cell` counts.
                row: (rows_before + row as u64 + 1) as usize,
                deadline_ms,
            }
            .into()
        }
        ScoreFailure::Native(other) => other.into(),
        ScoreFailure::Component(other) => other.into(),
        ScoreFailure::Gpu(other) => other.into(),
    }
}

/// Writes `header` and then each score on a line of its own.
fn write_csv<R: Read>(
    scorer: &mut RowScorer,
    rows: &mut CsvRows<R>,
    header: &str,
    out: &mut impl Write,
    progress: &ScoreProgress,
) -> Result<u64, WriteError> {
    writeln!(out, "{header}").map_err(WriteError::Io)?;
    score_rows(scorer, rows, progress, |scores| {
        for s in scores {
            writeln!(out, "{s}")?;
        }
        Ok(())
    })
}

/// Scores every row in batches, handing each batch's scores to `sink`.
/// Returns how many rows were scored.
fn score_rows<R: Read>(
    scorer: &mut RowScorer,
    rows: &mut CsvRows<R>,
    progress: &ScoreProgress,
    mut sink: impl FnMut(&[f64]) -> std::io::Result<()>,
) -> Result<u64, WriteError> {
    let batch_rows = scorer.batch_rows();
    let mut values = Vec::with_capacity(batch_rows * scorer.schema().width);
    let mut total = 0u64;
    loop {
        values.clear();
        let n = rows
            .read_batch(batch_rows, &mut values)
            .map_err(Error::from)?;
        if n == 0 {
            return Ok(total);
        }
        let scores = scorer
            .score(&values)
            .map_err(|e| WriteError::Other(locate(e, rows.path(), total)))?;
        sink(&scores).map_err(WriteError::Io)?;
        total += n as u64;
        progress.scored(total);
    }
}
