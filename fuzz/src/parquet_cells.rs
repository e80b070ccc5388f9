//! Parquet values as table cells, as `edgescore transform` reads a Parquet
//! events file (`host/offline/src/table/parquet_read.rs`, which the fuzz
//! build cannot link: `edgescore-offline` depends on wasmtime). Kept to the
//! same rules; when the table readers move to a wasmtime-free crate, this
//! file goes and the target calls them.

use parquet::basic::{LogicalType, Repetition, TimeUnit};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

use std::cell::Cell as Flag;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use edgescore_events::Cell;

/// The table of a Parquet file: its flat columns' names and every row, or
/// `None` when the file, a nested column or a value is refused.
///
/// The `parquet` crate (59, held there by deltalake) panics on some
/// corrupt files rather than returning an error (apache/arrow-rs#9742):
/// its calls run [`contained`], so the fuzzer goes on past them to our
/// code. `edgescore transform` needs the same containment (the
/// reproducers are seeds of this target, named `regression-parquet-panic-*`).
pub fn read(bytes: bytes::Bytes) -> Option<(Vec<String>, Vec<Vec<Cell>>)> {
    let reader = contained(|| SerializedFileReader::new(bytes))?.ok()?;
    let schema = reader.metadata().file_metadata().schema_descr();
    let mut header = Vec::new();
    let mut nanoseconds = Vec::new();
    for field in schema.root_schema().get_fields() {
        let info = field.get_basic_info();
        if !field.is_primitive() || info.repetition() == Repetition::REPEATED {
            return None;
        }
        header.push(field.name().to_owned());
        nanoseconds.push(matches!(
            info.logical_type_ref(),
            Some(LogicalType::Timestamp(t)) if t.unit == TimeUnit::NANOS
        ));
    }
    let mut rows_read = contained(|| reader.get_row_iter(None))?.ok()?;
    let mut rows = Vec::new();
    while let Some(row) = contained(|| rows_read.next())? {
        let mut cells = Vec::with_capacity(header.len());
        for (c, (_, field)) in row.ok()?.into_columns().into_iter().enumerate() {
            cells.push(cell_of(field, *nanoseconds.get(c)?)?);
        }
        rows.push(cells);
    }
    Some((header, rows))
}

thread_local! {
    /// Whether a panic now is the parquet crate's, to be contained.
    static CONTAINING: Flag<bool> = const { Flag::new(false) };
}

/// Runs `f` (a call into the parquet crate); a panic in it is `None`, not
/// a finding. Every other panic still reaches libFuzzer's hook.
fn contained<T>(f: impl FnOnce() -> T) -> Option<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let finding = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CONTAINING.get() {
                finding(info);
            }
        }));
    });
    CONTAINING.set(true);
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CONTAINING.set(false);
    result.ok()
}

/// One Parquet value as a cell (`None`: refused).
fn cell_of(field: Field, nanoseconds: bool) -> Option<Cell> {
    Some(match field {
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
        Field::Bytes(b) => Cell::Text(std::str::from_utf8(b.data()).ok()?.to_owned()),
        Field::Date(days) => Cell::Timestamp(i64::from(days) * 86_400_000),
        Field::TimestampMillis(ms) => Cell::Timestamp(ms),
        Field::TimestampMicros(us) => Cell::Timestamp(us.div_euclid(1000)),
        Field::TimeMillis(_)
        | Field::TimeMicros(_)
        | Field::Group(_)
        | Field::ListInternal(_)
        | Field::MapInternal(_) => return None,
    })
}

/// A decimal (big-endian two's complement, `scale` digits after the point)
/// as the nearest `f64`, exactly as its text would parse.
fn decimal_value(be_bytes: &[u8], scale: i32) -> Option<f64> {
    if be_bytes.is_empty() || be_bytes.len() > 16 {
        return None;
    }
    let fill = if be_bytes[0] & 0x80 != 0 { 0xff } else { 0 };
    let mut bytes = [fill; 16];
    bytes[16 - be_bytes.len()..].copy_from_slice(be_bytes);
    let unscaled = i128::from_be_bytes(bytes);
    format!("{unscaled}e{}", -scale).parse().ok()
}
