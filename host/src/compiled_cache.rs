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

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8; 8] = b"ESCWASM1";

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

/// A folder of compiled components.
#[derive(Debug, Clone)]
pub struct CompiledCache {
    dir: PathBuf,
}

impl CompiledCache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
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
        self.dir.join(format!("{key}.cwasm"))
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
            return Ok((component, CacheOutcome::Hit));
        }
        let component = Component::new(engine, bytes)?;
        if let Ok(payload) = component.serialize() {
            let _ = store(&path, &payload);
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

fn store(path: &Path, payload: &[u8]) -> crate::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| crate::Error::WriteOutput {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guests::HOSTILE_COMPONENT;

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
