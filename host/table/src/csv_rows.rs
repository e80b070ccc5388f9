//! Reading an input CSV into rows of feature values in the model's order.
//!
//! The contract (`edgescore score --help` repeats it):
//! - the first line is a header;
//! - when the model names its features, columns are matched by name, in any
//!   order; a feature without a column is an error, and so is a column that
//!   is not a feature unless [`CsvOptions::ignore_extra_columns`] is set;
//! - when the model has no names, columns are matched by position and their
//!   count must equal the model's feature count;
//! - an empty cell (or `NaN`, any case) is a missing value; `inf` and `-inf`
//!   are infinities; anything else must be a number within the `f64` range,
//!   read as the nearest `f64` (each model family then narrows it as its
//!   library does);
//! - blank lines are skipped, so in a one-column file a missing value is
//!   written `NaN` or `""`;
//! - a quoted cell that is never closed is an error naming the line it
//!   opens on (the `csv` crate alone would end it silently at the end of
//!   the file, swallowing every line after it).

use std::io::Read;
use std::path::{Path, PathBuf};

pub use edgescore_events::quote::quoted;

use crate::{Result, TableError};

/// The columns a model expects: one value per feature, matched by name when
/// the model names them.
#[derive(Debug, Clone, Copy)]
pub struct InputSchema<'a> {
    /// One name per feature, or `None` to match columns by position.
    pub names: Option<&'a [String]>,
    /// How many features a row has.
    pub width: usize,
}

/// Choices about how strictly the header is matched.
#[derive(Debug, Clone, Copy, Default)]
pub struct CsvOptions {
    /// Accept (and skip) columns that are not features of the model.
    pub ignore_extra_columns: bool,
}

/// A CSV being read row by row into feature vectors.
#[derive(Debug)]
pub struct CsvRows<R> {
    reader: csv::Reader<QuoteTracker<R>>,
    path: PathBuf,
    header: Vec<String>,
    /// For each model feature, the CSV column that holds it.
    feature_columns: Vec<usize>,
    record: csv::StringRecord,
    rows_read: u64,
}

impl<R: Read> CsvRows<R> {
    /// Reads the header from `input` and matches it to `model`'s features.
    /// `path` names the input in error messages.
    pub fn new(input: R, path: &Path, model: InputSchema<'_>, options: CsvOptions) -> Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .trim(csv::Trim::All)
            .from_reader(QuoteTracker::new(input));
        let header = reader
            .headers()
            .map(|h| h.iter().map(str::to_owned).collect());
        let header: Vec<String> = checked(path, reader.get_ref(), header)?;
        if header.is_empty() || header.iter().all(String::is_empty) {
            return Err(TableError::Csv {
                path: path.to_owned(),
                message: "the file is empty; expected a header line of feature names".into(),
            });
        }
        let feature_columns = match_columns(path, &header, model, options)?;
        Ok(Self {
            reader,
            path: path.to_owned(),
            header,
            feature_columns,
            record: csv::StringRecord::new(),
            rows_read: 0,
        })
    }

    /// The input's name for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends up to `max_rows` rows to `out` (row-major, one value per model
    /// feature) and returns how many it read; 0 means the input is exhausted.
    pub fn read_batch(&mut self, max_rows: usize, out: &mut Vec<f64>) -> Result<usize> {
        let mut n = 0;
        while n < max_rows {
            let more = self.reader.read_record(&mut self.record);
            let more = checked(&self.path, self.reader.get_ref(), more)?;
            if !more {
                break;
            }
            self.rows_read += 1;
            for &column in &self.feature_columns {
                let cell = self.record.get(column).unwrap_or("");
                let value = parse_cell(cell).map_err(|problem| TableError::Cell {
                    path: self.path.clone(),
                    row: self.rows_read,
                    line: self.record.position().map_or(0, csv::Position::line),
                    column: self.header[column].clone(),
                    problem,
                })?;
                out.push(value);
            }
            n += 1;
        }
        Ok(n)
    }
}

/// For each model feature, the index of the CSV column that holds it.
fn match_columns(
    path: &Path,
    header: &[String],
    model: InputSchema<'_>,
    options: CsvOptions,
) -> Result<Vec<usize>> {
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = header.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(TableError::DuplicateColumn {
            path: path.to_owned(),
            name: dup.clone(),
        });
    }
    let Some(names) = model.names else {
        if header.len() != model.width {
            return Err(TableError::ColumnCount {
                path: path.to_owned(),
                expected: model.width,
                got: header.len(),
            });
        }
        return Ok((0..header.len()).collect());
    };
    let position = |name: &str| header.iter().position(|h| h == name);
    let missing: Vec<String> = names
        .iter()
        .filter(|n| position(n).is_none())
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(TableError::MissingColumns {
            path: path.to_owned(),
            missing,
            features: names.to_vec(),
        });
    }
    let unknown: Vec<String> = header
        .iter()
        .filter(|h| !names.contains(h))
        .cloned()
        .collect();
    if !unknown.is_empty() && !options.ignore_extra_columns {
        return Err(TableError::UnknownColumns {
            path: path.to_owned(),
            unknown,
        });
    }
    Ok(names.iter().filter_map(|n| position(n)).collect())
}

/// One cell as a feature value: empty or `NaN` is missing (NaN); `inf`,
/// `-inf` (or `infinity`) are infinities, which LightGBM splits on; any other
/// number is rounded to the nearest `f64`, as pandas reads it, and one too
/// large for `f64` is an error rather than a silent infinity. The error says
/// what is wrong and quotes at most the cell's first 40 characters.
pub fn parse_cell(cell: &str) -> Result<f64, String> {
    if cell.is_empty() || cell.eq_ignore_ascii_case("nan") {
        return Ok(f64::NAN);
    }
    let value: f64 = cell.parse().map_err(|_| {
        format!(
            "{} is not a number (leave the cell empty for a missing value)",
            quoted(cell)
        )
    })?;
    if value.is_infinite() && !cell.to_ascii_lowercase().contains("inf") {
        return Err(format!(
            "{} is outside the float64 range (about ±1.8e308); write inf or -inf for an infinity",
            quoted(cell)
        ));
    }
    Ok(value)
}

/// `result` of reading from a CSV as this module reports it: an unclosed
/// quote first (it is what makes the cell count wrong, when it is wrong),
/// then the `csv` crate's error.
pub(crate) fn checked<T, R>(
    path: &Path,
    input: &QuoteTracker<R>,
    result: Result<T, csv::Error>,
) -> Result<T> {
    if let Some(line) = input.unclosed_quote() {
        return Err(TableError::Csv {
            path: path.to_owned(),
            message: format!(
                "line {line}: a quoted cell is never closed (unterminated \"); close it with a \" \
                 (a quote inside a quoted cell is written \"\")"
            ),
        });
    }
    result.map_err(|e| csv_error(path, &e))
}

/// The `csv` crate's error as one line that names the line at fault.
fn csv_error(path: &Path, e: &csv::Error) -> TableError {
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => format!(
            "line {}: {len} cells where the header has {expected_len}; give every row one cell per column",
            pos.as_ref().map_or(0, csv::Position::line)
        ),
        csv::ErrorKind::Utf8 { pos, .. } => format!(
            "line {}: the text is not valid UTF-8",
            pos.as_ref().map_or(0, csv::Position::line)
        ),
        _ => e.to_string(),
    };
    TableError::Csv {
        path: path.to_owned(),
        message,
    }
}

/// Reads through to a CSV's bytes, following its quoting as the `csv`
/// crate parses it (RFC 4180: a `"` opens a quoted cell only at the start
/// of a cell, and `""` inside one is a quote), to tell at the end of the
/// input whether a quoted cell was left open.
#[derive(Debug)]
pub(crate) struct QuoteTracker<R> {
    inner: R,
    state: QuoteState,
    /// Line breaks read so far.
    line_breaks: u64,
    /// The one-based line the open quoted cell began on.
    opened_on: u64,
    /// Leading bytes that matched a byte order mark (its length once the
    /// start has been passed).
    prefix: usize,
    at_end: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuoteState {
    /// At the start of a cell (or a line).
    CellStart,
    /// In a cell that did not start with a quote.
    Unquoted,
    /// In a quoted cell.
    Quoted,
    /// Just after a quote in a quoted cell: it closed the cell, or it is
    /// the first of a doubled quote.
    QuoteInQuoted,
}

const BYTE_ORDER_MARK: &[u8] = b"\xef\xbb\xbf";

impl<R> QuoteTracker<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            state: QuoteState::CellStart,
            line_breaks: 0,
            opened_on: 0,
            prefix: 0,
            at_end: false,
        }
    }

    /// The line a quoted cell opened on, once the whole input has been read
    /// and that cell was never closed.
    pub(crate) fn unclosed_quote(&self) -> Option<u64> {
        (self.at_end && self.state == QuoteState::Quoted).then_some(self.opened_on)
    }

    fn follow(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            // The `csv` crate skips a UTF-8 byte order mark at the start.
            if self.prefix < BYTE_ORDER_MARK.len() {
                if BYTE_ORDER_MARK[self.prefix] == byte {
                    self.prefix += 1;
                    continue;
                }
                if self.prefix > 0 {
                    // Part of a mark: the start of an unquoted cell.
                    self.state = QuoteState::Unquoted;
                }
                self.prefix = BYTE_ORDER_MARK.len();
            }
            if byte == b'\n' {
                self.line_breaks += 1;
            }
            self.state = match (self.state, byte) {
                (QuoteState::Quoted, b'"') => QuoteState::QuoteInQuoted,
                (QuoteState::Quoted, _) => QuoteState::Quoted,
                (QuoteState::CellStart, b'"') => {
                    self.opened_on = self.line_breaks + 1;
                    QuoteState::Quoted
                }
                (QuoteState::QuoteInQuoted, b'"') => QuoteState::Quoted,
                (_, b',' | b'\n' | b'\r') => QuoteState::CellStart,
                _ => QuoteState::Unquoted,
            };
        }
    }
}

impl<R: Read> Read for QuoteTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.at_end = true;
        }
        self.follow(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of the unclosed quote in `text`, read to the end.
    fn unclosed(text: &[u8]) -> Option<u64> {
        let mut tracker = QuoteTracker::new(text);
        std::io::copy(&mut tracker, &mut std::io::sink()).expect("reads");
        tracker.unclosed_quote()
    }

    #[test]
    fn an_unclosed_quote_is_found_where_it_opens() {
        assert_eq!(unclosed(b"a,b\n1,2\n"), None);
        assert_eq!(unclosed(b"a,b\n1,\"2\n3,4\n"), Some(2));
        assert_eq!(unclosed(b"a,b\n1,2\n3,\"4"), Some(3));
        assert_eq!(unclosed(b"\"a,b\n1,2\n"), Some(1));
        // Closed, doubled and mid-cell quotes are not open ones.
        assert_eq!(unclosed(b"a,b\n\"x, \"\"y\"\"\",2\n"), None);
        assert_eq!(unclosed(b"a,b\n\"multi\nline\",2\n"), None);
        assert_eq!(unclosed(b"a,b\n5\" screen,2\n"), None);
        assert_eq!(unclosed(b"a,b\n\"x\"y\",2\n"), None);
        assert_eq!(unclosed(b"\xef\xbb\xbf\"a\",b\n1,2\n"), None);
        assert_eq!(unclosed(b"\xef\xbb\xbf\"a,b\n1,2\n"), Some(1));
        assert_eq!(unclosed(b"a\r\n\"1\r\n"), Some(2));
    }

    #[test]
    fn cells() {
        assert!(parse_cell("").is_ok_and(f64::is_nan));
        assert!(parse_cell("NaN").is_ok_and(f64::is_nan));
        // The nearest double, not the nearest float widened.
        assert_eq!(parse_cell("0.1"), Ok(0.1_f64));
        assert_eq!(parse_cell("-1e-35"), Ok(-1e-35_f64));
        assert_eq!(parse_cell("1e300"), Ok(1e300));
        assert_eq!(parse_cell("5e-324"), Ok(5e-324));
        assert!(parse_cell("abc").is_err());
        assert_eq!(parse_cell("inf"), Ok(f64::INFINITY));
        assert_eq!(parse_cell("-Infinity"), Ok(f64::NEG_INFINITY));
        assert!(parse_cell("1e39").is_ok());
        assert!(parse_cell("1e309").is_err());
    }

    #[test]
    fn a_huge_bad_cell_is_cut_in_the_message() {
        let cell = "x".repeat(10_000_000);
        let message = parse_cell(&cell).expect_err("not a number");
        assert!(message.len() < 200, "{} bytes", message.len());
        assert!(message.contains("10000000 characters"), "{message}");
    }
}
