//! Writing Parquet tables: each column typed by what it holds, features as
//! nullable `double` (the models' `f64` rows), Snappy-compressed, in row
//! groups.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as PhysicalType};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DataType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use parquet::schema::types::Type;

use super::{Cell, FeatureColumns, Table};
use crate::{Error, Result};
use edgescore_runtime::atomic_file::AtomicFile;

/// Rows per row group: large enough to compress well, small enough that a
/// reader can skip.
const ROW_GROUP: usize = 65_536;

/// The Parquet type a column is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnKind {
    Text,
    Integer,
    Number,
    Boolean,
    Timestamp,
}

impl ColumnKind {
    /// The kind of every present cell of column `c`; text when they differ
    /// (or none is present). Text that an integer or number gives back
    /// unchanged (`42`, `12.99`, not `007` or `1.50`) counts as one, so a
    /// CSV's label and amount columns become numeric columns.
    fn of(table: &Table, c: usize) -> Self {
        let mut kinds = table.rows.iter().filter_map(|r| Self::of_cell(&r.cells[c]));
        let Some(first) = kinds.next() else {
            return ColumnKind::Text;
        };
        kinds
            .try_fold(first, Self::common)
            .unwrap_or(ColumnKind::Text)
    }

    fn of_cell(cell: &Cell) -> Option<Self> {
        Some(match cell {
            Cell::Missing => return None,
            Cell::Text(t) if integer_text(t).is_some() => ColumnKind::Integer,
            Cell::Text(t) if number_text(t).is_some() => ColumnKind::Number,
            Cell::Text(_) => ColumnKind::Text,
            Cell::Integer(_) => ColumnKind::Integer,
            Cell::Number(_) => ColumnKind::Number,
            Cell::Boolean(_) => ColumnKind::Boolean,
            Cell::Timestamp(_) => ColumnKind::Timestamp,
        })
    }

    /// The kind holding both, if any: integers widen to numbers.
    fn common(self, other: Self) -> Option<Self> {
        match (self, other) {
            (a, b) if a == b => Some(a),
            (ColumnKind::Integer, ColumnKind::Number)
            | (ColumnKind::Number, ColumnKind::Integer) => Some(ColumnKind::Number),
            _ => None,
        }
    }

    fn schema(self, name: &str) -> parquet::errors::Result<Type> {
        let (physical, logical) = match self {
            ColumnKind::Text => (PhysicalType::BYTE_ARRAY, Some(LogicalType::String)),
            ColumnKind::Integer => (PhysicalType::INT64, None),
            ColumnKind::Number => (PhysicalType::DOUBLE, None),
            ColumnKind::Boolean => (PhysicalType::BOOLEAN, None),
            ColumnKind::Timestamp => (
                PhysicalType::INT64,
                Some(LogicalType::timestamp(true, TimeUnit::MILLIS)),
            ),
        };
        Type::primitive_type_builder(name, physical)
            .with_repetition(Repetition::OPTIONAL)
            .with_logical_type(logical)
            .build()
    }
}

pub(super) fn write(path: &Path, other: &Table, features: FeatureColumns<'_>) -> Result<()> {
    let write_error = |e: parquet::errors::ParquetError| Error::WriteOutput {
        path: path.to_owned(),
        source: std::io::Error::other(e),
    };
    let names: Vec<&String> = other.header.iter().chain(features.names).collect();
    if let Some(name) = names
        .iter()
        .enumerate()
        .find_map(|(i, n)| names[..i].contains(n).then_some(n))
    {
        return Err(Error::WriteOutput {
            path: path.to_owned(),
            source: std::io::Error::other(format!(
                "two columns would be named {} (an input column has a feature's name); rename one",
                crate::csv_rows::quoted(name)
            )),
        });
    }
    let kinds: Vec<ColumnKind> = (0..other.header.len())
        .map(|c| ColumnKind::of(other, c))
        .collect();
    let mut fields = Vec::with_capacity(names.len());
    for (name, kind) in other.header.iter().zip(&kinds) {
        fields.push(Arc::new(kind.schema(name).map_err(write_error)?));
    }
    for name in features.names {
        fields.push(Arc::new(double_schema(name).map_err(write_error)?));
    }
    let width = features.names.len();
    write_row_groups(path, fields, other.rows.len(), |group, start, end| {
        for (c, &kind) in kinds.iter().enumerate() {
            let cells = other.rows[start..end].iter().map(|r| &r.cells[c]);
            write_cells(group, kind, cells)?;
        }
        for f in 0..width {
            let values = (start..end).map(|r| features.rows[r * width + f]);
            write_doubles_column(group, values)?;
        }
        Ok(())
    })
}

/// Writes `values` as one nullable `double` column named `name`.
pub(super) fn write_doubles(path: &Path, name: &str, values: &[f64]) -> Result<()> {
    let field = double_schema(name).map_err(|e| Error::WriteOutput {
        path: path.to_owned(),
        source: std::io::Error::other(e),
    })?;
    write_row_groups(
        path,
        vec![Arc::new(field)],
        values.len(),
        |group, start, end| write_doubles_column(group, values[start..end].iter().copied()),
    )
}

/// A nullable `double` column.
fn double_schema(name: &str) -> parquet::errors::Result<Type> {
    Type::primitive_type_builder(name, PhysicalType::DOUBLE)
        .with_repetition(Repetition::OPTIONAL)
        .build()
}

/// Writes a file of `fields` and `total` rows atomically, in row groups of
/// [`ROW_GROUP`] rows: `write_group` writes every column of rows
/// `start..end` into the group it is given.
fn write_row_groups(
    path: &Path,
    fields: Vec<Arc<Type>>,
    total: usize,
    mut write_group: impl FnMut(
        &mut SerializedRowGroupWriter<'_, &mut (dyn Write + Send)>,
        usize,
        usize,
    ) -> parquet::errors::Result<()>,
) -> Result<()> {
    let write_error = |e: parquet::errors::ParquetError| Error::WriteOutput {
        path: path.to_owned(),
        source: std::io::Error::other(e),
    };
    let schema = Type::group_type_builder("schema")
        .with_fields(fields)
        .build()
        .map_err(write_error)?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("edgescore {}", env!("CARGO_PKG_VERSION")))
        .build();

    let mut out = AtomicFile::create(path)?;
    {
        let sink: &mut (dyn Write + Send) = out.writer();
        let mut writer = SerializedFileWriter::new(sink, Arc::new(schema), Arc::new(properties))
            .map_err(write_error)?;
        // An empty table still gets one (empty) row group, so readers see the schema.
        let groups: Vec<(usize, usize)> = if total == 0 {
            vec![(0, 0)]
        } else {
            (0..total)
                .step_by(ROW_GROUP)
                .map(|start| (start, (start + ROW_GROUP).min(total)))
                .collect()
        };
        for (start, end) in groups {
            let mut group = writer.next_row_group().map_err(write_error)?;
            write_group(&mut group, start, end).map_err(write_error)?;
            group.close().map_err(write_error)?;
        }
        writer.close().map_err(write_error)?;
    }
    out.writer().flush().map_err(|source| Error::WriteOutput {
        path: path.to_owned(),
        source,
    })?;
    Ok(out.commit()?)
}

/// Writes one nullable `double` column: NaN is a null.
fn write_doubles_column<W: Write + Send>(
    group: &mut SerializedRowGroupWriter<'_, W>,
    values: impl Iterator<Item = f64> + Clone,
) -> parquet::errors::Result<()> {
    let present = values.clone().filter(|v| !v.is_nan()).collect::<Vec<_>>();
    let levels = values.map(|v| i16::from(!v.is_nan())).collect::<Vec<_>>();
    write_column::<DoubleType>(group, &present, &levels)
}

/// Writes one column's cells as `kind` (present values and definition levels).
fn write_cells<'a, W: Write + Send>(
    group: &mut SerializedRowGroupWriter<'_, W>,
    kind: ColumnKind,
    cells: impl Iterator<Item = &'a Cell> + Clone,
) -> parquet::errors::Result<()> {
    let levels: Vec<i16> = cells
        .clone()
        .map(|c| i16::from(*c != Cell::Missing))
        .collect();
    let present = cells.filter(|c| **c != Cell::Missing);
    match kind {
        ColumnKind::Text => {
            let values: Vec<ByteArray> = present
                .map(|c| ByteArray::from(c.to_text().into_bytes()))
                .collect();
            write_column::<ByteArrayType>(group, &values, &levels)
        }
        ColumnKind::Integer | ColumnKind::Timestamp => {
            let values: Vec<i64> = present
                .map(|c| match c {
                    Cell::Integer(i) | Cell::Timestamp(i) => *i,
                    Cell::Text(t) => integer_text(t).unwrap_or_default(),
                    _ => 0,
                })
                .collect();
            write_column::<Int64Type>(group, &values, &levels)
        }
        ColumnKind::Number => {
            let values: Vec<f64> = present
                .map(|c| match c {
                    Cell::Number(x) => *x,
                    Cell::Integer(i) => *i as f64,
                    Cell::Text(t) => integer_text(t)
                        .map(|i| i as f64)
                        .or_else(|| number_text(t))
                        .unwrap_or_default(),
                    _ => 0.0,
                })
                .collect();
            write_column::<DoubleType>(group, &values, &levels)
        }
        ColumnKind::Boolean => {
            let values: Vec<bool> = present.map(|c| *c == Cell::Boolean(true)).collect();
            write_column::<BoolType>(group, &values, &levels)
        }
    }
}

/// The integer `text` spells exactly (written back, it is the same text).
fn integer_text(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().filter(|i| i.to_string() == text)
}

/// The finite number `text` spells exactly, as [`integer_text`].
fn number_text(text: &str) -> Option<f64> {
    text.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && x.to_string() == text)
}

fn write_column<T: DataType>(
    group: &mut SerializedRowGroupWriter<'_, impl Write + Send>,
    values: &[T::T],
    levels: &[i16],
) -> parquet::errors::Result<()> {
    let mut column = group.next_column()?.ok_or_else(|| {
        parquet::errors::ParquetError::General("more columns than the schema".into())
    })?;
    column
        .typed::<T>()
        .write_batch(values, Some(levels), None)?;
    column.close()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Row;

    fn column(cells: &[Cell]) -> Table {
        Table {
            header: vec!["c".into()],
            rows: cells
                .iter()
                .map(|c| Row {
                    line: 0,
                    cells: vec![c.clone()],
                })
                .collect(),
        }
    }

    fn text(t: &str) -> Cell {
        Cell::Text(t.into())
    }

    #[test]
    fn columns_are_typed_only_where_nothing_is_lost() {
        let kind = |cells: &[Cell]| ColumnKind::of(&column(cells), 0);
        assert_eq!(
            kind(&[text("0"), text("1"), Cell::Missing]),
            ColumnKind::Integer
        );
        assert_eq!(kind(&[text("12.99"), text("3")]), ColumnKind::Number);
        assert_eq!(kind(&[text("007"), text("1")]), ColumnKind::Text);
        assert_eq!(kind(&[text("1.50")]), ColumnKind::Text);
        assert_eq!(kind(&[text("c00042")]), ColumnKind::Text);
        assert_eq!(kind(&[Cell::Missing]), ColumnKind::Text);
        assert_eq!(
            kind(&[Cell::Boolean(true), Cell::Integer(1)]),
            ColumnKind::Text
        );
        assert_eq!(kind(&[Cell::Timestamp(5)]), ColumnKind::Timestamp);
    }
}
