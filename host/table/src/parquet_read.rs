//! Reading Parquet tables: flat columns of booleans, integers, floats,
//! strings, dates and timestamps (what pandas, polars, Spark and DuckDB
//! write for transactions), with any of the usual compressions.

use std::fs::File;
use std::path::Path;

use parquet::basic::{LogicalType, TimeUnit};
use parquet::file::reader::{ChunkReader, FileReader, SerializedFileReader};
use parquet::record::Field;

use crate::parquet_pages::{CheckedFile, EndOnce};
use crate::{Cell, Result, Row, Table, TableError};

/// A Parquet file's reader, reading through [`EndOnce`].
type GuardedReader<R> = SerializedFileReader<EndOnce<R>>;

/// The reader of the Parquet file `input` (a file, or its bytes), its
/// column names, and which columns are nanosecond timestamps; nested
/// columns are refused. `path` names the input in errors.
fn open<R: ChunkReader + 'static>(
    path: &Path,
    input: R,
) -> Result<(GuardedReader<R>, Vec<String>, Vec<bool>)> {
    let reader = unpanicked(path, || SerializedFileReader::new(EndOnce(input)))?
        .map_err(|e| parquet_error(path, format!("not a readable Parquet file: {e}")))?;
    let schema = reader.metadata().file_metadata().schema_descr();
    let mut header = Vec::new();
    let mut nanoseconds = Vec::new();
    for field in schema.root_schema().get_fields() {
        let info = field.get_basic_info();
        if !field.is_primitive() || info.repetition() == parquet::basic::Repetition::REPEATED {
            return Err(parquet_error(
                path,
                format!(
                    "column '{}' is nested (a list, map or struct); edgescore reads flat columns, so flatten it first",
                    field.name()
                ),
            ));
        }
        header.push(field.name().to_owned());
        nanoseconds.push(matches!(
            info.logical_type_ref(),
            Some(LogicalType::Timestamp(t)) if t.unit == TimeUnit::NANOS
        ));
    }
    Ok((reader, header, nanoseconds))
}

thread_local! {
    /// Whether this thread is in a call into the `parquet` crate.
    static IN_PARQUET_CALL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the current thread is inside a call into the `parquet` crate
/// whose panic this crate answers as the file's error (see
/// [`ParquetCsv`] and [`crate::read`]). A panic hook calls it to tell such
/// a panic from one of edgescore's own code: the fuzz targets report only
/// the latter.
pub fn in_parquet_call() -> bool {
    IN_PARQUET_CALL.get()
}

/// Runs a call into the `parquet` crate, which panics on some corrupt
/// files (found by fuzzing; apache/arrow-rs#9742) instead of answering an
/// error: the panic becomes this file's error, so a bad file costs only
/// its own command.
fn unpanicked<T>(path: &Path, call: impl FnOnce() -> T) -> Result<T> {
    let outer = IN_PARQUET_CALL.replace(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
    IN_PARQUET_CALL.set(outer);
    result.map_err(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no reason given".to_owned());
        parquet_error(
            path,
            format!("not a readable Parquet file: it is corrupt (the reader stopped: {why})"),
        )
    })
}

/// The rows of `reader`, as `SerializedFileReader<File>::into_iter`
/// reads them (the same call, for any input), its pages checked on the way
/// ([`CheckedFile`]).
fn rows_of<R: ChunkReader + 'static>(
    reader: SerializedFileReader<R>,
) -> parquet::record::reader::RowIter<'static> {
    parquet::record::reader::RowIter::from_file_into(Box::new(CheckedFile(reader)))
}

/// The next row of `rows`, a panic of the reader on a corrupt page
/// answered as an error.
fn next_row(
    path: &Path,
    rows: &mut parquet::record::reader::RowIter<'static>,
) -> Result<Option<parquet::errors::Result<parquet::record::Row>>> {
    unpanicked(path, || rows.next())
}

fn parquet_error(path: &Path, message: String) -> TableError {
    TableError::Table {
        path: path.to_owned(),
        message,
    }
}

/// Row `r` (zero-based) of the file as cells.
fn row_cells(
    path: &Path,
    header: &[String],
    nanoseconds: &[bool],
    r: u64,
    row: parquet::errors::Result<parquet::record::Row>,
) -> Result<Vec<Cell>> {
    let row = row.map_err(|e| parquet_error(path, format!("row {}: {e}", r + 1)))?;
    let mut cells = Vec::with_capacity(header.len());
    for (c, (_, field)) in row.into_columns().into_iter().enumerate() {
        let cell = cell_of(field, nanoseconds[c]).map_err(|problem| TableError::Cell {
            path: path.to_owned(),
            row: r + 1,
            line: 0,
            column: header[c].clone(),
            problem,
        })?;
        cells.push(cell);
    }
    Ok(cells)
}

/// Reads the Parquet file `input` (a file, or its bytes) whole; `path`
/// names it in errors.
pub(super) fn read<R: ChunkReader + 'static>(path: &Path, input: R) -> Result<Table> {
    let (reader, header, nanoseconds) = open(path, input)?;
    let mut rows = Vec::new();
    let mut iter = unpanicked(path, || rows_of(reader))?;
    while let Some(row) = next_row(path, &mut iter)? {
        let cells = row_cells(path, &header, &nanoseconds, rows.len() as u64, row)?;
        rows.push(Row { line: 0, cells });
    }
    Ok(Table { header, rows })
}

/// A Parquet file read as CSV text (the header, then each row's cells as
/// [`Cell::to_text`] writes them), a few thousand rows at a time: what
/// `edgescore score` streams, in constant memory, exactly as it reads the
/// file's CSV twin. A row that cannot be read ends the text with an I/O
/// error; the typed error is then in [`ParquetCsv::failure`].
pub struct ParquetCsv {
    path: std::path::PathBuf,
    header: Vec<String>,
    nanoseconds: Vec<bool>,
    rows: parquet::record::reader::RowIter<'static>,
    /// Rows read so far.
    read: u64,
    /// Rows in the file.
    total: u64,
    text: Vec<u8>,
    at: usize,
    failure: std::rc::Rc<std::cell::RefCell<Option<TableError>>>,
}

impl std::fmt::Debug for ParquetCsv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetCsv")
            .field("path", &self.path)
            .field("read", &self.read)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

/// Rows converted per refill of the text.
const ROWS_PER_REFILL: usize = 4096;

impl ParquetCsv {
    /// Opens the file and reads its schema; the rows are read as the text is.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| TableError::ReadInput {
            path: path.to_owned(),
            source,
        })?;
        Self::new(path, file)
    }

    /// Streams a Parquet file from its `bytes`, exactly as [`Self::open`]
    /// streams the file of them; `name` names the input in errors.
    pub fn from_bytes(name: &Path, bytes: Vec<u8>) -> Result<Self> {
        Self::new(name, bytes::Bytes::from(bytes))
    }

    fn new<R: ChunkReader + 'static>(path: &Path, input: R) -> Result<Self> {
        let (reader, header, nanoseconds) = open(path, input)?;
        let total = u64::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0);
        let mut first = csv::Writer::from_writer(Vec::new());
        first
            .write_record(&header)
            .map_err(|e| parquet_error(path, e.to_string()))?;
        let text = first
            .into_inner()
            .map_err(|e| parquet_error(path, e.to_string()))?;
        Ok(Self {
            path: path.to_owned(),
            header,
            nanoseconds,
            rows: unpanicked(path, || rows_of(reader))?,
            read: 0,
            total,
            text,
            at: 0,
            failure: Default::default(),
        })
    }

    /// The file's row count, from its metadata.
    pub fn rows(&self) -> u64 {
        self.total
    }

    /// Where the typed error of a row that could not be read is left.
    pub fn failure(&self) -> std::rc::Rc<std::cell::RefCell<Option<TableError>>> {
        self.failure.clone()
    }

    fn refill(&mut self) -> Result<()> {
        let mut writer = csv::Writer::from_writer(std::mem::take(&mut self.text));
        for _ in 0..ROWS_PER_REFILL {
            let Some(row) = next_row(&self.path, &mut self.rows)? else {
                break;
            };
            let cells = row_cells(&self.path, &self.header, &self.nanoseconds, self.read, row)?;
            writer
                .write_record(cells.iter().map(Cell::to_text))
                .map_err(|e| parquet_error(&self.path, e.to_string()))?;
            self.read += 1;
        }
        self.text = writer
            .into_inner()
            .map_err(|e| parquet_error(&self.path, e.to_string()))?;
        Ok(())
    }
}

impl std::io::Read for ParquetCsv {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.text.len() {
            self.text.clear();
            self.at = 0;
            if let Err(e) = self.refill() {
                let message = e.to_string();
                *self.failure.borrow_mut() = Some(e);
                return Err(std::io::Error::other(message));
            }
        }
        let n = out.len().min(self.text.len() - self.at);
        out[..n].copy_from_slice(&self.text[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// One Parquet value as a cell. `nanoseconds`: the column is a timestamp in
/// nanoseconds (which Parquet's record reader hands over as a plain integer).
fn cell_of(field: Field, nanoseconds: bool) -> Result<Cell, String> {
    Ok(match field {
        Field::Null => Cell::Missing,
        Field::Bool(b) => Cell::Boolean(b),
        Field::Long(ns) if nanoseconds => Cell::Timestamp(ns.div_euclid(1_000_000)),
        Field::Byte(i) => Cell::Integer(i.into()),
        Field::Short(i) => Cell::Integer(i.into()),
        Field::Int(i) => Cell::Integer(i.into()),
        Field::Long(i) => Cell::Integer(i),
        Field::UByte(i) => Cell::Integer(i.into()),
        Field::UShort(i) => Cell::Integer(i.into()),
        Field::UInt(i) => Cell::Integer(i.into()),
        Field::ULong(i) => match i64::try_from(i) {
            Ok(i) => Cell::Integer(i),
            Err(_) => Cell::Number(i as f64),
        },
        Field::Float16(x) => Cell::Number(x.to_f64()),
        Field::Float(x) => Cell::Number(x.into()),
        Field::Double(x) => Cell::Number(x),
        Field::Decimal(d) => Cell::Number(decimal_value(d.data(), d.scale())?),
        Field::Str(s) => Cell::Text(s),
        Field::Bytes(b) => match std::str::from_utf8(b.data()) {
            Ok(s) => Cell::Text(s.to_owned()),
            Err(_) => return Err("binary data that is not UTF-8 text".into()),
        },
        Field::Date(days) => Cell::Timestamp(i64::from(days) * 86_400_000),
        Field::TimestampMillis(ms) => Cell::Timestamp(ms),
        Field::TimestampMicros(us) => Cell::Timestamp(us.div_euclid(1000)),
        Field::TimeMillis(_) | Field::TimeMicros(_) => {
            return Err("a time of day without a date; store the event time as a timestamp".into());
        }
        Field::Group(_) | Field::ListInternal(_) | Field::MapInternal(_) => {
            return Err("a nested value; edgescore reads flat columns".into());
        }
    })
}

/// A decimal (big-endian two's complement unscaled value, `scale` digits
/// after the point) as the nearest `f64`, exactly as its text would parse.
fn decimal_value(be_bytes: &[u8], scale: i32) -> Result<f64, String> {
    if be_bytes.is_empty() || be_bytes.len() > 16 {
        return Err(format!("a decimal of {} bytes", be_bytes.len()));
    }
    let fill = if be_bytes[0] & 0x80 != 0 { 0xff } else { 0 };
    let mut bytes = [fill; 16];
    bytes[16 - be_bytes.len()..].copy_from_slice(be_bytes);
    let unscaled = i128::from_be_bytes(bytes);
    let text = format!("{unscaled}e{}", -scale);
    text.parse::<f64>()
        .map_err(|e| format!("the decimal {text}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_read_as_their_text_would() {
        assert_eq!(decimal_value(&12_345i32.to_be_bytes(), 2), Ok(123.45));
        assert_eq!(decimal_value(&(-5i64).to_be_bytes(), 1), Ok(-0.5));
        assert_eq!(decimal_value(&[0x01, 0x00], 0), Ok(256.0));
        assert_eq!(decimal_value(&[0xff], 0), Ok(-1.0));
        assert!(decimal_value(&[], 0).is_err());
    }

    /// Files on which the parquet crate panics, asks for tens of GiB for a
    /// dictionary, or skips a page header for seconds (found by fuzzing;
    /// the reproducers are in `fuzz/corpus/parquet_events/regression-*`):
    /// each is refused as corrupt, through both readers; the last two by
    /// the guards of `parquet_pages.rs`, with their own errors.
    #[test]
    fn corrupt_files_the_parquet_crate_panics_on_are_refused_as_errors() {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/parquet_events");
        let mut seen = 0;
        for entry in std::fs::read_dir(&corpus).expect("the fuzz corpus") {
            let path = entry.expect("entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !name.starts_with("regression-parquet-") {
                continue;
            }
            let dictionary = name.starts_with("regression-parquet-dictionary-");
            seen += 1;
            // A panic would fail this test; an answer is an error of the file,
            // from the file or from its bytes (what the fuzz target reads).
            let bytes = std::fs::read(&path).expect("reads");
            // (Named without `.parquet`, so read here as Parquet directly.)
            for whole in [
                read(&path, File::open(&path).expect("opens")),
                crate::read_bytes(&path, crate::Format::Parquet, bytes.clone()),
            ] {
                assert!(
                    matches!(
                        &whole,
                        Err(TableError::Table { .. } | TableError::Cell { .. })
                    ),
                    "{name}: {whole:?}"
                );
                // The guards' own errors: without them a dictionary asks for
                // tens of GiB (an abort), and a header's skip loops for seconds.
                let guard = if dictionary {
                    Some("a dictionary page declares")
                } else if name.starts_with("regression-parquet-slow-") {
                    Some("a page header runs past the end of the file")
                } else {
                    None
                };
                if let Some(guard) = guard {
                    let error = whole.expect_err("refused").to_string();
                    assert!(error.contains(guard), "{name}: {error}");
                }
            }
            let streams = [
                ParquetCsv::open(&path),
                ParquetCsv::from_bytes(&path, bytes),
            ];
            for mut streamed in streams.into_iter().flatten() {
                let mut text = String::new();
                if std::io::Read::read_to_string(&mut streamed, &mut text).is_err() {
                    assert!(streamed.failure().borrow().is_some(), "{name}");
                }
            }
            assert!(!in_parquet_call(), "{name}");
        }
        assert!(
            seen >= 5,
            "the reproducers are missing from {}",
            corpus.display()
        );
    }

    #[test]
    fn nanosecond_timestamps_become_milliseconds_rounding_down() {
        assert_eq!(
            cell_of(Field::Long(1_500_999_999), true),
            Ok(Cell::Timestamp(1500))
        );
        assert_eq!(cell_of(Field::Long(-1), true), Ok(Cell::Timestamp(-1)));
        assert_eq!(cell_of(Field::Long(-1), false), Ok(Cell::Integer(-1)));
    }
}
