//! Ahead-of-time compiled components cached on disk.
//!
//! Compiling a component with cranelift takes tens of milliseconds to
//! seconds; loading its compiled form takes a fraction of a millisecond. The
//! cache keeps the compiled form in `<dir>/<key>.cwasm`, where the key is the
//! SHA-256 of the component bytes together with the engine's compatibility
//! hash (wasmtime version and every setting that changes compiled code), so
//! a different component or engine never finds another's entry.
//!
//! An entry is `MAGIC | sha256(payload) | payload`. Before wasmtime sees a
//! payload, its hash is checked, so a truncated, corrupted or foreign file is
//! detected, reported as [`CacheOutcome::Replaced`], recompiled and rewritten.
//!
//! The folder is bounded in size ([`DEFAULT_MAX_BYTES`], or
//! `EDGESCORE_CACHE_MAX_MIB`, or [`CompiledCache::with_max_bytes`]): each
//! use of an entry sets its modification time, and after a store the least
//! recently used entries are removed until the folder fits. An entry being
//! removed while another process reads it costs that process a compile.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8; 8] = b"ESCWASM1";

/// How large the cache folder may grow by default: 1 GiB (a compiled
/// component is a few MiB, so hundreds of them).
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// The environment variable that sets the bound, in MiB, where the command
/// line or configuration does not.
pub const MAX_MIB_VARIABLE: &str = "EDGESCORE_CACHE_MAX_MIB";

/// The extension of an entry file.
const ENTRY_EXTENSION: &str = "cwasm";

/// What happened when a component was loaded through the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// A valid entry was found and loaded; nothing was compiled.
    Hit,
    /// There was no entry: the component was compiled and stored.
    Miss,
    /// An entry existed but was unusable (corrupt, truncated, foreign): the
    /// component was compiled again and the entry replaced.
    Replaced,
}

/// A folder of compiled components, bounded in size.
#[derive(Debug, Clone)]
pub struct CompiledCache {
    dir: PathBuf,
    max_bytes: u64,
}

impl CompiledCache {
    /// A cache in `dir` (created when first written), bounded by
    /// [`CompiledCache::default_max_bytes`].
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            max_bytes: Self::default_max_bytes(),
        }
    }

    /// The same cache bounded to `max_bytes`: after each store, the least
    /// recently used entries are removed until the entries left take at
    /// most that much (the entry just stored always stays).
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The bound: `$EDGESCORE_CACHE_MAX_MIB` MiB when that is set to a
    /// whole number, else [`DEFAULT_MAX_BYTES`].
    pub fn default_max_bytes() -> u64 {
        std::env::var(MAX_MIB_VARIABLE)
            .ok()
            .and_then(|mib| mib.trim().parse::<u64>().ok())
            .map_or(DEFAULT_MAX_BYTES, |mib| mib.saturating_mul(1 << 20))
    }

    /// How large the folder's entries may grow, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The default folder: `$XDG_CACHE_HOME/edgescore/compiled`, else
    /// `~/.cache/edgescore/compiled`, else a folder in the temp directory.
    pub fn default_dir() -> PathBuf {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        base.join("edgescore").join("compiled")
    }

    /// The entry file for `bytes` compiled by `engine`.
    pub fn entry_path(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        let key = crate::digest::to_hex(
            &Sha256::new()
                .chain_update(bytes)
                .chain_update(engine_hash.finish().to_le_bytes())
                .finalize(),
        );
        self.dir.join(format!("{key}.{ENTRY_EXTENSION}"))
    }

    /// Loads `bytes` compiled, from the cache when a valid entry exists,
    /// otherwise compiling and storing it. A cache that cannot be written
    /// is not an error: the compiled component is returned all the same.
    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.entry_path(engine, bytes);
        let existing = std::fs::read(&path).ok();
        if let Some(entry) = &existing
            && let Some(component) = deserialize_checked(engine, entry)
        {
            // Recently used: the last to be evicted. A cache that cannot be
            // written keeps its order.
            let _ = touch(&path);
            return Ok((component, CacheOutcome::Hit));
        }
        let component = Component::new(engine, bytes)?;
        if let Ok(payload) = component.serialize()
            && store(&path, &payload).is_ok()
        {
            evict(&self.dir, self.max_bytes, &path);
        }
        let outcome = if existing.is_some() {
            CacheOutcome::Replaced
        } else {
            CacheOutcome::Miss
        };
        Ok((component, outcome))
    }
}

/// The component in `entry`, when the entry is intact and this engine can load it.
fn deserialize_checked(engine: &Engine, entry: &[u8]) -> Option<Component> {
    let rest = entry.strip_prefix(MAGIC)?;
    if rest.len() < 32 {
        return None;
    }
    let (hash, payload) = rest.split_at(32);
    if Sha256::digest(payload).as_slice() != hash {
        return None;
    }
    // SAFETY: `Component::deserialize` requires bytes produced by
    // `Component::serialize` (it does not re-validate machine code). The
    // payload's SHA-256 matches the one `store` wrote beside it, so these are
    // exactly the bytes `serialize` returned; the entry's key includes the
    // engine's compatibility hash, and wasmtime itself refuses a payload from
    // another version or configuration (then we recompile).
    #[allow(unsafe_code)]
    let component = unsafe { Component::deserialize(engine, payload) };
    component.ok()
}

fn store(path: &Path, payload: &[u8]) -> Result<(), crate::atomic_file::WriteError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| crate::atomic_file::WriteError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    let mut entry = Vec::with_capacity(MAGIC.len() + 32 + payload.len());
    entry.extend_from_slice(MAGIC);
    entry.extend_from_slice(&Sha256::digest(payload));
    entry.extend_from_slice(payload);
    crate::atomic_file::write_atomically(path, &entry)
}

/// Sets the entry's modification time to now: its last use.
fn touch(path: &Path) -> std::io::Result<()> {
    std::fs::File::options()
        .write(true)
        .open(path)?
        .set_modified(std::time::SystemTime::now())
}

/// Removes the least recently used entries of `dir` (oldest modification
/// time first) until the entries left take at most `max_bytes`, never
/// `keep`. Other files (a store's temporary files) are left alone, and so
/// is an entry that cannot be removed: the cache stays usable either way.
fn evict(dir: &Path, max_bytes: u64, keep: &Path) {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<(std::time::SystemTime, u64, PathBuf)> = listing
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let path = entry.path();
            if path.extension()? != ENTRY_EXTENSION {
                return None;
            }
            let metadata = entry.metadata().ok().filter(std::fs::Metadata::is_file)?;
            Some((metadata.modified().ok()?, metadata.len(), path))
        })
        .collect();
    let mut total: u64 = entries.iter().map(|(_, len, _)| len).sum();
    if total <= max_bytes {
        return;
    }
    // Oldest first; the name breaks ties so the order is the same for everyone.
    entries.sort();
    for (_, len, path) in entries {
        if total <= max_bytes {
            break;
        }
        if path == keep {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => total -= len,
            // Another process removed it first.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => total -= len,
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgescore_test_programs::{HOSTILE_COMPONENT, UNPROVIDED_IMPORT_COMPONENT};
    use std::time::{Duration, SystemTime};

    /// Sets `path`'s modification time to `seconds` after the epoch.
    fn age(path: &Path, seconds: u64) {
        std::fs::File::options()
            .write(true)
            .open(path)
            .expect("open")
            .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
            .expect("set mtime");
    }

    #[test]
    fn eviction_removes_the_least_recently_used_entries_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = |name: &str, len: usize, seconds: u64| {
            let path = dir.path().join(name);
            std::fs::write(&path, vec![0u8; len]).expect("write");
            age(&path, seconds);
            path
        };
        let oldest = file("a.cwasm", 100, 1_000);
        let old = file("b.cwasm", 100, 2_000);
        let newer = file("c.cwasm", 100, 3_000);
        let newest = file("d.cwasm", 100, 4_000);
        let other = file(".edgescore-tmp", 10_000, 1);
        // Using the oldest makes it the most recent.
        touch(&oldest).expect("touch");

        evict(dir.path(), 250, &newest);
        let left: Vec<bool> = [&oldest, &old, &newer, &newest, &other]
            .iter()
            .map(|p| p.exists())
            .collect();
        assert_eq!(left, [true, false, false, true, true]);

        // The entry just stored stays even when it alone is over the bound.
        evict(dir.path(), 0, &newest);
        assert!(newest.exists() && !oldest.exists() && other.exists());
    }

    #[test]
    fn a_bounded_cache_keeps_what_was_used_last() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = engine();
        // Room for one entry at a time.
        let cache = CompiledCache::new(dir.path()).with_max_bytes(1);
        let outcome = |bytes: &[u8]| cache.load(&engine, bytes).expect("loads").1;
        assert_eq!(outcome(HOSTILE_COMPONENT), CacheOutcome::Miss);
        assert_eq!(outcome(HOSTILE_COMPONENT), CacheOutcome::Hit);
        assert_eq!(outcome(UNPROVIDED_IMPORT_COMPONENT), CacheOutcome::Miss);
        assert!(!cache.entry_path(&engine, HOSTILE_COMPONENT).exists());
        assert_eq!(outcome(UNPROVIDED_IMPORT_COMPONENT), CacheOutcome::Hit);
        assert_eq!(outcome(HOSTILE_COMPONENT), CacheOutcome::Miss);

        // A hit marks the entry as just used.
        let entry = cache.entry_path(&engine, HOSTILE_COMPONENT);
        age(&entry, 1_000);
        assert_eq!(outcome(HOSTILE_COMPONENT), CacheOutcome::Hit);
        let used = std::fs::metadata(&entry)
            .and_then(|m| m.modified())
            .expect("mtime");
        assert!(used > SystemTime::now() - Duration::from_secs(3600));
    }

    #[test]
    fn the_bound_defaults_to_a_gibibyte() {
        let cache = CompiledCache::new("unused");
        if std::env::var_os(MAX_MIB_VARIABLE).is_none() {
            assert_eq!(cache.max_bytes(), DEFAULT_MAX_BYTES);
        }
        assert_eq!(cache.with_max_bytes(5 << 20).max_bytes(), 5 << 20);
    }

    fn engine() -> Engine {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        Engine::new(&config).expect("engine")
    }

    #[test]
    fn hits_after_a_miss_and_replaces_broken_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = CompiledCache::new(dir.path());
        let engine = engine();
        let outcome =
            |cache: &CompiledCache| cache.load(&engine, HOSTILE_COMPONENT).expect("loads").1;
        assert_eq!(outcome(&cache), CacheOutcome::Miss);
        assert_eq!(outcome(&cache), CacheOutcome::Hit);

        let entry = cache.entry_path(&engine, HOSTILE_COMPONENT);
        let good = std::fs::read(&entry).expect("entry written");
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xFF;
        let broken: [(&str, Vec<u8>); 4] = [
            ("truncated", good[..good.len() / 2].to_vec()),
            ("one byte flipped", flipped),
            ("foreign file", b"not a compiled component".to_vec()),
            ("empty", Vec::new()),
        ];
        for (name, bytes) in broken {
            std::fs::write(&entry, bytes).expect("write");
            assert_eq!(outcome(&cache), CacheOutcome::Replaced, "{name}");
            assert_eq!(
                outcome(&cache),
                CacheOutcome::Hit,
                "{name}: rewritten entry loads"
            );
        }
    }

    #[test]
    fn another_engine_configuration_uses_another_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = CompiledCache::new(dir.path());
        let plain = engine();
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true).epoch_interruption(true);
        let with_epochs = Engine::new(&config).expect("engine");
        assert_ne!(
            cache.entry_path(&plain, HOSTILE_COMPONENT),
            cache.entry_path(&with_epochs, HOSTILE_COMPONENT)
        );
        assert_eq!(
            cache.load(&plain, HOSTILE_COMPONENT).expect("loads").1,
            CacheOutcome::Miss
        );
        assert_eq!(
            cache
                .load(&with_epochs, HOSTILE_COMPONENT)
                .expect("loads")
                .1,
            CacheOutcome::Miss
        );
    }
}
