//! A Parquet file guarded where the `parquet` crate trusts a corrupt one.
//!
//! Two defects of the crate (59.3), found by fuzzing `parquet_events`:
//!
//! - It sizes a dictionary by the value count its page header declares,
//!   before it decodes a value: a header that declares billions of values
//!   in a page of a few bytes makes it ask for tens of GiB, and the process
//!   aborts. [`CheckedFile`] stands between the record reader and the
//!   file's pages and refuses such a page as an error: every dictionary
//!   value takes at least a fixed number of bits in the page's bytes
//!   (PLAIN, the only dictionary encoding), so a count those bytes cannot
//!   hold is corrupt. The pages are read once, as before.
//! - It skips an unknown field of a page header with `io::copy`, which
//!   succeeds with nothing copied at the end of the file: a list that
//!   declares 2^31 such fields is skipped one empty read at a time, for
//!   seconds to minutes. [`EndOnce`] answers a read after the end has been
//!   reached once as an error, so the skip stops at the first.

use parquet::basic::Type;
use parquet::bloom_filter::Sbbf;
use parquet::column::page::{Page, PageMetadata, PageReader};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ParquetMetaData, RowGroupMetaData};
use parquet::file::reader::{ChunkReader, FileReader, Length, RowGroupReader};
use parquet::record::reader::RowIter;
use parquet::schema::types::Type as SchemaType;

/// A file reader whose row groups hand out [`CheckedPages`].
pub(crate) struct CheckedFile<F>(pub(crate) F);

impl<F: FileReader> FileReader for CheckedFile<F> {
    fn metadata(&self) -> &ParquetMetaData {
        self.0.metadata()
    }

    fn num_row_groups(&self) -> usize {
        self.0.num_row_groups()
    }

    fn get_row_group(&self, i: usize) -> Result<Box<dyn RowGroupReader + '_>> {
        Ok(Box::new(CheckedRowGroup(self.0.get_row_group(i)?)))
    }

    fn get_row_iter(&self, projection: Option<SchemaType>) -> Result<RowIter<'_>> {
        RowIter::from_file(projection, self)
    }
}

struct CheckedRowGroup<'a>(Box<dyn RowGroupReader + 'a>);

impl RowGroupReader for CheckedRowGroup<'_> {
    fn metadata(&self) -> &RowGroupMetaData {
        self.0.metadata()
    }

    fn num_columns(&self) -> usize {
        self.0.num_columns()
    }

    fn get_column_page_reader(&self, i: usize) -> Result<Box<dyn PageReader>> {
        let column = self.0.metadata().column(i).column_descr();
        let bits = match column.physical_type() {
            Type::BOOLEAN => 1,
            Type::INT32 | Type::FLOAT => 32,
            Type::INT64 | Type::DOUBLE => 64,
            Type::INT96 => 96,
            // A length prefix of 4 bytes, then the bytes.
            Type::BYTE_ARRAY => 32,
            // Counted as at least one byte: a zero-length type would let
            // any count through.
            Type::FIXED_LEN_BYTE_ARRAY => {
                8 * u64::try_from(column.type_length()).unwrap_or(0).max(1)
            }
        };
        Ok(Box::new(CheckedPages {
            pages: self.0.get_column_page_reader(i)?,
            column: column.path().string(),
            bits_per_value: bits,
        }))
    }

    fn get_column_bloom_filter(&self, i: usize) -> Option<&Sbbf> {
        self.0.get_column_bloom_filter(i)
    }

    fn get_row_iter(&self, projection: Option<SchemaType>) -> Result<RowIter<'_>> {
        RowIter::from_row_group(projection, self)
    }
}

/// One column chunk's pages; a dictionary page whose bytes cannot hold the
/// values it declares is an error instead of a page.
struct CheckedPages {
    pages: Box<dyn PageReader>,
    column: String,
    /// The fewest bits one PLAIN value of the column's type takes.
    bits_per_value: u64,
}

impl CheckedPages {
    fn check(&self, page: Page) -> Result<Page> {
        if let Page::DictionaryPage {
            ref buf,
            num_values,
            ..
        } = page
        {
            let room = 8 * buf.len() as u64;
            // Saturating: a fixed-length type may be 2^31 bytes long.
            if u64::from(num_values).saturating_mul(self.bits_per_value) > room {
                return Err(ParquetError::General(format!(
                    "column '{}': a dictionary page declares {num_values} values in {} bytes, \
                     more than those bytes can hold (the page header is corrupt)",
                    self.column,
                    buf.len()
                )));
            }
        }
        Ok(page)
    }
}

impl PageReader for CheckedPages {
    fn get_next_page(&mut self) -> Result<Option<Page>> {
        self.pages
            .get_next_page()?
            .map(|page| self.check(page))
            .transpose()
    }

    fn peek_next_page(&mut self) -> Result<Option<PageMetadata>> {
        self.pages.peek_next_page()
    }

    fn skip_next_page(&mut self) -> Result<()> {
        self.pages.skip_next_page()
    }

    fn at_record_boundary(&mut self) -> Result<bool> {
        self.pages.at_record_boundary()
    }
}

impl Iterator for CheckedPages {
    type Item = Result<Page>;

    fn next(&mut self) -> Option<Self::Item> {
        self.get_next_page().transpose()
    }
}

/// A Parquet input whose readers fail on a read after they have once
/// answered that the input has ended (see the module's documentation).
/// Reading stops at the first end, so no correct reader reads twice there.
pub(crate) struct EndOnce<R>(pub(crate) R);

impl<R: Length> Length for EndOnce<R> {
    fn len(&self) -> u64 {
        self.0.len()
    }
}

impl<R: ChunkReader> ChunkReader for EndOnce<R> {
    type T = EndOnceRead<R::T>;

    fn get_read(&self, start: u64) -> Result<Self::T> {
        Ok(EndOnceRead {
            inner: self.0.get_read(start)?,
            ended: false,
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<bytes::Bytes> {
        self.0.get_bytes(start, length)
    }
}

/// One reader of an [`EndOnce`] input.
pub(crate) struct EndOnceRead<R> {
    inner: R,
    ended: bool,
}

impl<R: std::io::Read> std::io::Read for EndOnceRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.ended {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "a page header runs past the end of the file",
            ));
        }
        let n = self.inner.read(buf)?;
        self.ended = n == 0;
        Ok(n)
    }
}
