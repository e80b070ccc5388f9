//! `edgescore score`: score every row of a CSV and write one score per row.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use edgescore_models::Model;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::csv_rows::{CsvOptions, CsvRows};
use crate::{Error, Result};

/// How many rows are read and scored at a time; bounds memory on large inputs.
pub const BATCH_ROWS: usize = 8192;

/// Inputs at least this large show a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 16 << 20;

/// Options of the `score` command.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScoreOptions {
    pub csv: CsvOptions,
    /// Write the raw margin (before the link function) instead of the score.
    pub raw: bool,
}

/// Scores every row of the CSV at `input` (`-` for standard input) with
/// `model` and writes a CSV with a `score` (or `raw`) header and one value
/// per row, each printed as the shortest decimal that reads back to the same
/// `f64`.
///
/// With `output` the file appears only once every row has been scored (it is
/// written to a temporary file beside it and renamed), so a failure never
/// leaves a partial file; without it the scores stream to standard output.
/// Large files show a progress bar on standard error when it is a terminal.
/// Returns the number of rows scored.
pub fn score_csv(
    model: &Model,
    input: &Path,
    output: Option<&Path>,
    options: ScoreOptions,
) -> Result<u64> {
    let progress = ProgressBar::hidden();
    let reader: Box<dyn Read> = if input == Path::new("-") {
        Box::new(std::io::stdin().lock())
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
                ProgressStyle::with_template("scoring {bar:40} {bytes}/{total_bytes}, {eta} left")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        }
        Box::new(progress.wrap_read(file))
    };
    let mut rows = CsvRows::new(reader, input, model, options.csv)?;
    let result = write_output(model, &mut rows, output, options);
    progress.finish_and_clear();
    result
}

fn write_output<R: Read>(
    model: &Model,
    rows: &mut CsvRows<R>,
    output: Option<&Path>,
    options: ScoreOptions,
) -> Result<u64> {
    let Some(path) = output else {
        let stdout = Path::new("<stdout>");
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let n = write_scores(model, rows, &mut out, options).map_err(|e| e.at(stdout))?;
        out.flush().map_err(|source| Error::WriteOutput {
            path: stdout.to_owned(),
            source,
        })?;
        return Ok(n);
    };
    let write_err = |source| Error::WriteOutput {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".edgescore-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(write_err)?;
    let mut out = std::io::BufWriter::new(tmp);
    let n = write_scores(model, rows, &mut out, options).map_err(|e| e.at(path))?;
    let tmp = out.into_inner().map_err(|e| write_err(e.into_error()))?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(path).map_err(|e| write_err(e.error))?;
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
fn locate(e: edgescore_models::ScoreError, path: &Path, rows_before: u64) -> Error {
    match e {
        edgescore_models::ScoreError::Missing { row, feature } => Error::Cell {
            path: path.to_owned(),
            row: rows_before + row as u64 + 1,
            line: 0,
            column: feature,
            problem: "the value is missing and this model cannot score a missing value \
                      (fill the cell, or give the linear model an \"impute\" list)"
                .into(),
        },
        other => other.into(),
    }
}

fn write_scores<R: Read>(
    model: &Model,
    rows: &mut CsvRows<R>,
    out: &mut impl Write,
    options: ScoreOptions,
) -> Result<u64, WriteError> {
    writeln!(out, "{}", if options.raw { "raw" } else { "score" }).map_err(WriteError::Io)?;
    let mut values = Vec::with_capacity(BATCH_ROWS * model.num_features());
    let mut total = 0u64;
    loop {
        values.clear();
        let n = rows.read_batch(BATCH_ROWS, &mut values)?;
        if n == 0 {
            return Ok(total);
        }
        let scores = if options.raw {
            model.raw_scores(&values)
        } else {
            model.score(&values)
        }
        .map_err(|e| WriteError::Other(locate(e, rows.path(), total)))?;
        for s in scores {
            writeln!(out, "{s}").map_err(WriteError::Io)?;
        }
        total += n as u64;
    }
}
