//! Files that appear whole or not at all: written to a temporary file in the
//! same folder, flushed to disk, then renamed over the destination.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A file being written; [`AtomicFile::commit`] makes it appear at its path.
/// Dropped without committing, it leaves nothing behind.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    out: std::io::BufWriter<tempfile::NamedTempFile>,
}

impl AtomicFile {
    /// Starts writing the file that will appear at `path`.
    pub fn create(path: &Path) -> Result<Self> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".edgescore-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|source| write_error(path, source))?;
        Ok(Self {
            path: path.to_owned(),
            out: std::io::BufWriter::new(tmp),
        })
    }

    /// Where the bytes go until the commit.
    pub fn writer(&mut self) -> &mut impl Write {
        &mut self.out
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        let tmp = self
            .out
            .into_inner()
            .map_err(|e| write_error(&path, e.into_error()))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| write_error(&path, e))?;
        tmp.persist(&path)
            .map_err(|e| write_error(&path, e.error))?;
        Ok(())
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.writer()
        .write_all(bytes)
        .map_err(|e| write_error(path, e))?;
    file.commit()
}

fn write_error(path: &Path, source: std::io::Error) -> Error {
    Error::WriteOutput {
        path: path.to_owned(),
        source,
    }
}
