//! Every file a command writes (`--output`, plots, components, the compiled
//! cache, the server's `routing.toml`) goes through here.
//!
//! - A regular file, or a path where nothing is yet, appears whole or not at
//!   all: the bytes go to a temporary file in the same folder, are synced to
//!   disk, renamed over the destination, and the folder is synced, so the
//!   rename itself survives a crash.
//! - A symbolic link is followed: its target is written (or replaced), the
//!   link stays a link.
//! - Anything else that exists (a device such as `/dev/null`, a FIFO, a
//!   terminal) is written through, opened and written in place, never
//!   replaced. Such a destination cannot be atomic: what was written before
//!   a failure has been written.
//! - A new file gets the usual permissions, `0o666` less the umask; a
//!   replaced regular file keeps its own.
//! - A command refuses an output that is one of its inputs before it does
//!   any work ([`refuse_input_as_output`]).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An output that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write output {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The output names the same file as an input; writing would replace it.
    #[error(
        "the output {output} is the input {input}: writing it would replace what is read; name another output file"
    )]
    OutputIsInput { output: PathBuf, input: PathBuf },
}

type Result<T, E = WriteError> = std::result::Result<T, E>;

/// A file being written; [`AtomicFile::commit`] makes it appear at its path.
/// Dropped without committing, a regular file leaves nothing behind.
#[derive(Debug)]
pub struct AtomicFile {
    /// The path as the caller named it (errors name it so).
    path: PathBuf,
    out: std::io::BufWriter<Sink>,
}

/// Where the bytes of an [`AtomicFile`] go.
#[derive(Debug)]
enum Sink {
    /// A temporary file, renamed over `target` (the path with symbolic
    /// links followed) at the commit.
    Replace {
        tmp: tempfile::NamedTempFile,
        target: PathBuf,
    },
    /// An existing file that is not a regular file, written in place.
    Through(File),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Replace { tmp, .. } => tmp.write(buf),
            Sink::Through(file) => file.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Replace { tmp, .. } => tmp.flush(),
            Sink::Through(file) => file.flush(),
        }
    }
}

impl AtomicFile {
    /// Starts writing the file that will appear at `path` (see the module
    /// documentation for links, devices and FIFOs). Opening a FIFO waits
    /// for its reader, as a shell's `>` does. A folder is refused.
    pub fn create(path: &Path) -> Result<Self> {
        let target = follow_links(path).map_err(|e| write_error(path, e))?;
        let existing = match std::fs::metadata(&target) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(write_error(path, e)),
        };
        let sink = match existing {
            Some(meta) if meta.is_dir() => {
                return Err(write_error(
                    path,
                    std::io::Error::other("it is a folder; name a file"),
                ));
            }
            Some(meta) if !meta.is_file() => Sink::Through(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&target)
                    .map_err(|e| write_error(path, e))?,
            ),
            existing => {
                let mut builder = tempfile::Builder::new();
                builder.prefix(".edgescore-").suffix(".tmp");
                // The kernel takes the umask off (tempfile's default is 0o600).
                #[cfg(unix)]
                builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
                let tmp = builder
                    .tempfile_in(folder_of(&target))
                    .map_err(|e| write_error(path, e))?;
                if let Some(meta) = existing {
                    tmp.as_file()
                        .set_permissions(meta.permissions())
                        .map_err(|e| write_error(path, e))?;
                }
                Sink::Replace { tmp, target }
            }
        };
        Ok(Self {
            path: path.to_owned(),
            out: std::io::BufWriter::new(sink),
        })
    }

    /// Where the bytes go until the commit.
    pub fn writer(&mut self) -> &mut impl Write {
        &mut self.out
    }

    /// Flushes; for a regular file also syncs it, renames it into place and
    /// syncs its folder.
    pub fn commit(self) -> Result<()> {
        self.commit_with_metadata().map(drop)
    }

    /// [`AtomicFile::commit`], answering the metadata of the file written
    /// (read from the open file, so a later change at the path is not it).
    pub fn commit_with_metadata(self) -> Result<std::fs::Metadata> {
        let path = self.path;
        let sink = self
            .out
            .into_inner()
            .map_err(|e| write_error(&path, e.into_error()))?;
        let (tmp, target) = match sink {
            Sink::Through(file) => return file.metadata().map_err(|e| write_error(&path, e)),
            Sink::Replace { tmp, target } => (tmp, target),
        };
        tmp.as_file()
            .sync_all()
            .map_err(|e| write_error(&path, e))?;
        let file = tmp
            .persist(&target)
            .map_err(|e| write_error(&path, e.error))?;
        sync_folder(folder_of(&target)).map_err(|e| write_error(&path, e))?;
        file.metadata().map_err(|e| write_error(&path, e))
    }
}

/// Writes `bytes` to `path` atomically (written through for a device or a FIFO).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.writer()
        .write_all(bytes)
        .map_err(|e| write_error(path, e))?;
    file.commit()
}

/// Refuses `output` when it is the same file as one of `inputs`, however
/// either is spelled (`./h.csv`, an absolute path, a symbolic or hard link):
/// writing it would replace what the command reads. Commands call it before
/// any work. No conflict: an output that does not exist yet, one that is not
/// a regular file (a terminal, `/dev/null`: writing there destroys nothing),
/// an input that does not exist or is `-` (standard input).
pub fn refuse_input_as_output<'a>(
    output: &Path,
    inputs: impl IntoIterator<Item = &'a Path>,
) -> Result<()> {
    let Ok(out) = std::fs::metadata(output) else {
        return Ok(());
    };
    if !out.is_file() {
        return Ok(());
    }
    for input in inputs {
        if input == Path::new("-") {
            continue;
        }
        let Ok(inp) = std::fs::metadata(input) else {
            continue;
        };
        if same_file(output, &out, input, &inp) {
            return Err(WriteError::OutputIsInput {
                output: output.to_owned(),
                input: input.to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(_: &Path, a: &std::fs::Metadata, _: &Path, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(a: &Path, _: &std::fs::Metadata, b: &Path, _: &std::fs::Metadata) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// `path` with every symbolic link in its last component followed, to the
/// file (existing or not) a link chain ends at. The folders above need no
/// resolving: the temporary file is created in, and renamed within, the
/// final folder whatever path leads to it.
fn follow_links(path: &Path) -> std::io::Result<PathBuf> {
    // As many links as Linux follows before ELOOP.
    const MAX_LINKS: usize = 40;
    let mut current = path.to_owned();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(folder) if link.is_relative() => folder.join(link),
                    _ => link,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "more than {MAX_LINKS} symbolic links in a chain"
    )))
}

/// The folder a file at `path` lives in (`.` for a bare name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes a rename in `folder` durable. File systems that cannot sync a
/// folder (they answer "invalid argument" or "unsupported") have nothing to
/// make durable that way.
fn sync_folder(folder: &Path) -> std::io::Result<()> {
    match File::open(folder).and_then(|f| f.sync_all()) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        other => other,
    }
}

fn write_error(path: &Path, source: std::io::Error) -> WriteError {
    WriteError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    use super::*;

    fn umask() -> u32 {
        let out = std::process::Command::new("sh")
            .args(["-c", "umask"])
            .output()
            .expect("sh runs");
        let text = String::from_utf8_lossy(&out.stdout);
        u32::from_str_radix(text.trim(), 8).expect("umask is octal")
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777
    }

    /// The files in `dir` besides `keep`: temporary files left behind.
    fn leftovers(dir: &Path, keep: &[&str]) -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !keep.contains(&n.as_str()))
            .collect()
    }

    #[test]
    fn a_new_file_gets_the_umask_permissions_not_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("scores.csv");
        write_atomically(&path, b"score\n0.5\n").expect("writes");
        assert_eq!(std::fs::read(&path).expect("reads"), b"score\n0.5\n");
        assert_eq!(mode(&path), 0o666 & !umask());
        assert!(leftovers(dir.path(), &["scores.csv"]).is_empty());
    }

    #[test]
    fn a_replaced_file_keeps_its_permissions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("scores.csv");
        std::fs::write(&path, "old").expect("writes");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        write_atomically(&path, b"new").expect("writes");
        assert_eq!(std::fs::read(&path).expect("reads"), b"new");
        assert_eq!(mode(&path), 0o640);
    }

    #[test]
    fn an_uncommitted_file_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("scores.csv");
        std::fs::write(&path, "old").expect("writes");
        let mut file = AtomicFile::create(&path).expect("creates");
        file.writer().write_all(b"half").expect("writes");
        drop(file);
        assert_eq!(std::fs::read(&path).expect("reads"), b"old");
        assert!(leftovers(dir.path(), &["scores.csv"]).is_empty());
    }

    #[test]
    fn a_symlink_is_followed_and_stays_a_link() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("real")).expect("mkdir");
        let target = dir.path().join("real").join("scores.csv");
        std::fs::write(&target, "old").expect("writes");
        let link = dir.path().join("latest.csv");
        std::os::unix::fs::symlink("real/scores.csv", &link).expect("symlink");
        // A link to the link: the chain is followed to its end.
        let link2 = dir.path().join("link2.csv");
        std::os::unix::fs::symlink(&link, &link2).expect("symlink");

        write_atomically(&link2, b"new").expect("writes");
        assert!(
            std::fs::symlink_metadata(&link)
                .expect("link")
                .file_type()
                .is_symlink()
        );
        assert!(
            std::fs::symlink_metadata(&link2)
                .expect("link")
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&target).expect("reads"), b"new");

        // A dangling link: its target is created, as a shell's `>` does.
        let dangling = dir.path().join("dangling.csv");
        std::os::unix::fs::symlink("real/new.csv", &dangling).expect("symlink");
        write_atomically(&dangling, b"fresh").expect("writes");
        assert!(
            std::fs::symlink_metadata(&dangling)
                .expect("link")
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read(dir.path().join("real/new.csv")).expect("reads"),
            b"fresh"
        );
        assert!(leftovers(&dir.path().join("real"), &["scores.csv", "new.csv"]).is_empty());
    }

    #[test]
    fn a_fifo_is_written_through() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(&fifo).expect("reads the fifo"))
        };
        let bytes = vec![b'x'; 300_000];
        write_atomically(&fifo, &bytes).expect("writes through");
        // Checked before joining: a FIFO renamed over would leave the reader waiting.
        assert!(
            std::fs::symlink_metadata(&fifo)
                .expect("exists")
                .file_type()
                .is_fifo()
        );
        assert_eq!(reader.join().expect("reader"), bytes);
        assert!(leftovers(dir.path(), &["pipe"]).is_empty());
    }

    /// A device node (a copy of `/dev/null`: never the real one, which a
    /// regression would replace) is written through, never renamed over.
    #[test]
    fn a_device_is_written_through() {
        let dir = tempfile::tempdir().expect("tempdir");
        let null = dir.path().join("null");
        let made = std::process::Command::new("mknod")
            .arg(&null)
            .args(["c", "1", "3"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !made {
            eprintln!("SKIPPED: mknod needs root (CAP_MKNOD) to make a device to write to");
            return;
        }
        write_atomically(&null, b"discarded").expect("writes through");
        assert!(
            std::fs::symlink_metadata(&null)
                .expect("exists")
                .file_type()
                .is_char_device()
        );
        assert!(leftovers(dir.path(), &["null"]).is_empty());
    }

    #[test]
    fn a_folder_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = write_atomically(dir.path(), b"x").expect_err("refused");
        assert!(err.to_string().contains("folder"), "{err}");
    }

    #[test]
    fn an_output_that_is_an_input_is_refused_however_spelled() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        let input = dir.path().join("h.csv");
        std::fs::write(&input, "raw history").expect("writes");
        let model = dir.path().join("model.json");
        std::fs::write(&model, "{}").expect("writes");
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink("h.csv", &link).expect("symlink");
        let hard = dir.path().join("hard.csv");
        std::fs::hard_link(&input, &hard).expect("hard link");

        for output in [
            input.clone(),
            dir.path().join("sub/../h.csv"),
            dir.path().join("./h.csv"),
            link.clone(),
            hard.clone(),
        ] {
            let err = refuse_input_as_output(&output, [Path::new("-"), &model, &input])
                .expect_err("refused");
            assert!(matches!(err, WriteError::OutputIsInput { .. }), "{err}");
            assert!(err.to_string().contains("name another output"), "{err}");
        }
        // The model is an input too.
        assert!(refuse_input_as_output(&model, [input.as_path(), &model]).is_err());
        // Reading through a link and writing the file itself is the same file.
        assert!(refuse_input_as_output(&input, [link.as_path()]).is_err());

        // Another file, a file not there yet, a device: no conflict.
        let other = dir.path().join("scores.csv");
        assert!(refuse_input_as_output(&other, [input.as_path(), &model]).is_ok());
        std::fs::write(&other, "old scores").expect("writes");
        assert!(refuse_input_as_output(&other, [input.as_path(), &model]).is_ok());
        assert!(refuse_input_as_output(Path::new("/dev/null"), [Path::new("/dev/null")]).is_ok());
        assert_eq!(std::fs::read(&input).expect("reads"), b"raw history");
    }
}
