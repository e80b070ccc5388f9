//! `edgescore score`: score every row of a CSV and write one score per row.

use std::io::Write;
use std::path::Path;

use edgescore_models::Model;

use crate::csv_rows::{CsvOptions, CsvRows};
use crate::{Error, Result};

/// How many rows are read and scored at a time; bounds memory on large inputs.
pub const BATCH_ROWS: usize = 8192;

/// Options of the `score` command.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScoreOptions {
    pub csv: CsvOptions,
    /// Write the raw margin (before the link function) instead of the score.
    pub raw: bool,
}

/// Scores every row of the CSV at `input` with `model` and writes a CSV with
/// a `score` (or `raw`) header and one value per row, each printed as the
/// shortest decimal that reads back to the same `f64`.
///
/// With `output` the file appears only once every row has been scored (it is
/// written to a temporary file beside it and renamed), so a failure never
/// leaves a partial file; without it the scores stream to standard output.
/// Returns the number of rows scored.
pub fn score_csv(
    model: &Model,
    input: &Path,
    output: Option<&Path>,
    options: ScoreOptions,
) -> Result<u64> {
    let mut rows = CsvRows::open(input, model, options.csv)?;
    match output {
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let n = write_scores(model, &mut rows, &mut out, options)
                .map_err(|e| on_write(e, Path::new("<stdout>")))?;
            out.flush().map_err(|source| Error::WriteOutput {
                path: "<stdout>".into(),
                source,
            })?;
            Ok(n)
        }
        Some(path) => {
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let write_err = |source| Error::WriteOutput {
                path: path.to_owned(),
                source,
            };
            let tmp = tempfile::Builder::new()
                .prefix(".edgescore-")
                .suffix(".tmp")
                .tempfile_in(dir)
                .map_err(write_err)?;
            let mut out = std::io::BufWriter::new(tmp);
            let n =
                write_scores(model, &mut rows, &mut out, options).map_err(|e| on_write(e, path))?;
            let tmp = out.into_inner().map_err(|e| write_err(e.into_error()))?;
            tmp.as_file().sync_all().map_err(write_err)?;
            tmp.persist(path).map_err(|e| write_err(e.error))?;
            Ok(n)
        }
    }
}

/// A failed write is reported against the output; any other error passes through.
fn on_write(e: WriteError, path: &Path) -> Error {
    match e {
        WriteError::Io(source) => Error::WriteOutput {
            path: path.to_owned(),
            source,
        },
        WriteError::Other(e) => e,
    }
}

enum WriteError {
    Io(std::io::Error),
    Other(Error),
}

impl From<Error> for WriteError {
    fn from(e: Error) -> Self {
        WriteError::Other(e)
    }
}

fn write_scores<R: std::io::Read>(
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
        .map_err(|e| WriteError::Other(e.into()))?;
        for s in scores {
            writeln!(out, "{s}").map_err(WriteError::Io)?;
        }
        total += n as u64;
    }
}
