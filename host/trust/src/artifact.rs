//! What an artifact is on disk, which files its signature covers, and
//! where its signature is.
//!
//! - A directory: the detached bundle `<dir>/model.sig` covers every
//!   regular file under the directory, recursively, but that bundle; a
//!   symbolic link (or anything else) in it is refused. Without
//!   `model.sig`, a directory whose only file is a `.wasm` carrying an
//!   embedded signature is signed through that.
//! - A single file: the detached bundle `<file>.sig`; a `.wasm` without
//!   one may carry its bundle in a `signature` custom section, and the
//!   digest then covers the binary without its `signature` sections.

use std::path::{Path, PathBuf};

use crate::digest::{hex, sha256, sha256_file};
use crate::wasm::{WasmError, has_magic, split_signatures};

/// The detached bundle of a directory artifact.
pub const DIRECTORY_SIGNATURE_FILE: &str = "model.sig";
/// A bundle is a few kilobytes; a file larger than this is not one.
const MAX_BUNDLE_BYTES: u64 = 16 << 20;

/// Why an artifact cannot be read as one.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A symbolic link inside a directory artifact.
    #[error(
        "{} is a symbolic link: a signed directory holds regular files only; replace the link by the file it points to",
        path.display()
    )]
    Symlink { path: PathBuf },
    /// Something that is neither a regular file nor a directory.
    #[error("{} is neither a regular file nor a directory", path.display())]
    NotAFile { path: PathBuf },
    /// A file name that is not UTF-8 cannot be named in a statement.
    #[error("{} has a name that is not UTF-8: rename it", path.display())]
    NotUtf8 { path: PathBuf },
    /// A directory without a single file.
    #[error("{} holds no file to sign", path.display())]
    Empty { path: PathBuf },
    /// A bundle file too large to be one.
    #[error("{} is {len} bytes, too large for a signature bundle", path.display())]
    TooLarge { path: PathBuf, len: u64 },
    /// A `.wasm` whose sections cannot be read.
    #[error("{} is not a WebAssembly binary whose sections can be read: {source}", path.display())]
    BadWasm {
        path: PathBuf,
        #[source]
        source: WasmError,
    },
}

/// One file a signature covers: its name in the statement and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resource {
    /// The path relative to the artifact, `/`-separated (a single file: its name).
    pub(crate) name: String,
    /// The SHA-256, lowercase hex.
    pub(crate) sha256: String,
}

/// Where an artifact's signature was found, with what it must cover.
#[derive(Debug)]
pub(crate) enum Located {
    /// No signature: `looked_for` is the detached bundle that is missing.
    Unsigned { looked_for: PathBuf },
    /// A detached bundle file and the files on disk.
    Detached {
        bundle_path: PathBuf,
        bundle: Vec<u8>,
        resources: Vec<Resource>,
    },
    /// Bundles in `signature` custom sections of the `.wasm` at `wasm`.
    Embedded {
        wasm: PathBuf,
        bundles: Vec<Vec<u8>>,
        resources: Vec<Resource>,
    },
}

/// The detached bundle's path for the artifact at `path`.
pub(crate) fn detached_signature_path(path: &Path, is_dir: bool) -> PathBuf {
    if is_dir {
        path.join(DIRECTORY_SIGNATURE_FILE)
    } else {
        let mut name = path.as_os_str().to_owned();
        name.push(".sig");
        PathBuf::from(name)
    }
}

/// Finds the artifact's signature and the files it must cover.
pub(crate) fn locate(path: &Path) -> Result<Located, ArtifactError> {
    let is_dir = metadata(path)?.is_dir();
    let looked_for = detached_signature_path(path, is_dir);
    if let Some(bundle) = read_bundle(&looked_for)? {
        return Ok(Located::Detached {
            bundle_path: looked_for,
            bundle,
            resources: resources(path)?,
        });
    }
    let (wasm, name) = if is_dir {
        match &directory_files(path)?[..] {
            [(name, file)] if name.ends_with(".wasm") => (file.clone(), name.clone()),
            _ => return Ok(Located::Unsigned { looked_for }),
        }
    } else {
        (path.to_owned(), file_name(path)?)
    };
    if !starts_with_magic(&wasm)? {
        return Ok(Located::Unsigned { looked_for });
    }
    let bytes = std::fs::read(&wasm).map_err(|source| ArtifactError::Read {
        path: wasm.clone(),
        source,
    })?;
    let split = split_signatures(&bytes).map_err(|source| ArtifactError::BadWasm {
        path: wasm.clone(),
        source,
    })?;
    if split.signatures.is_empty() {
        return Ok(Located::Unsigned { looked_for });
    }
    let resources = vec![Resource {
        name,
        sha256: hex(&sha256(&split.stripped)),
    }];
    Ok(Located::Embedded {
        wasm,
        bundles: split.signatures,
        resources,
    })
}

/// The files a detached signature of `path` covers, sorted by name, with
/// their digests: every file of a directory but its `model.sig`, or the
/// file itself.
pub(crate) fn resources(path: &Path) -> Result<Vec<Resource>, ArtifactError> {
    let files = if metadata(path)?.is_dir() {
        let files = directory_files(path)?;
        if files.is_empty() {
            return Err(ArtifactError::Empty {
                path: path.to_owned(),
            });
        }
        files
    } else {
        vec![(file_name(path)?, path.to_owned())]
    };
    files
        .into_iter()
        .map(|(name, file)| {
            let digest = sha256_file(&file).map_err(|source| ArtifactError::Read {
                path: file.clone(),
                source,
            })?;
            Ok(Resource {
                name,
                sha256: hex(&digest),
            })
        })
        .collect()
}

/// The regular files under `dir` (its own `model.sig` excepted) as
/// (relative `/`-separated name, path), sorted by name; a symbolic link or
/// a special file anywhere is an error.
pub(crate) fn directory_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, ArtifactError> {
    let mut files = Vec::new();
    walk(dir, "", &mut files)?;
    files.retain(|(name, _)| name != DIRECTORY_SIGNATURE_FILE);
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> Result<(), ArtifactError> {
    let read = |source| ArtifactError::Read {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        let name = format!("{prefix}{}", file_name(&path)?);
        let kind = std::fs::symlink_metadata(&path)
            .map_err(|source| ArtifactError::Read {
                path: path.clone(),
                source,
            })?
            .file_type();
        if kind.is_symlink() {
            return Err(ArtifactError::Symlink { path });
        } else if kind.is_dir() {
            walk(&path, &format!("{name}/"), out)?;
        } else if kind.is_file() {
            out.push((name, path));
        } else {
            return Err(ArtifactError::NotAFile { path });
        }
    }
    Ok(())
}

/// The last component of `path`, as UTF-8.
pub(crate) fn file_name(path: &Path) -> Result<String, ArtifactError> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| ArtifactError::NotUtf8 {
            path: path.to_owned(),
        })
}

/// The metadata of the artifact itself (a link to it is followed).
pub(crate) fn metadata(path: &Path) -> Result<std::fs::Metadata, ArtifactError> {
    let metadata = std::fs::metadata(path).map_err(|source| ArtifactError::Read {
        path: path.to_owned(),
        source,
    })?;
    if metadata.is_dir() || metadata.is_file() {
        Ok(metadata)
    } else {
        Err(ArtifactError::NotAFile {
            path: path.to_owned(),
        })
    }
}

/// The bundle file at `path`, or `None` when there is none.
pub(crate) fn read_bundle(path: &Path) -> Result<Option<Vec<u8>>, ArtifactError> {
    let read = |source| ArtifactError::Read {
        path: path.to_owned(),
        source,
    };
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read(e)),
    };
    if metadata.file_type().is_symlink() {
        return Err(ArtifactError::Symlink {
            path: path.to_owned(),
        });
    }
    if !metadata.is_file() {
        return Err(ArtifactError::NotAFile {
            path: path.to_owned(),
        });
    }
    if metadata.len() > MAX_BUNDLE_BYTES {
        return Err(ArtifactError::TooLarge {
            path: path.to_owned(),
            len: metadata.len(),
        });
    }
    std::fs::read(path).map(Some).map_err(read)
}

/// Whether the file at `path` starts with the WebAssembly magic bytes.
fn starts_with_magic(path: &Path) -> Result<bool, ArtifactError> {
    use std::io::Read as _;
    let mut head = Vec::with_capacity(4);
    std::fs::File::open(path)
        .and_then(|f| f.take(4).read_to_end(&mut head))
        .map_err(|source| ArtifactError::Read {
            path: path.to_owned(),
            source,
        })?;
    Ok(has_magic(&head))
}
