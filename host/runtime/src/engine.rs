//! The wasmtime engine components run on: pooling allocation, copy-on-write
//! memory images, epoch interruption, no WASI and no other ambient capability.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::limits::{EPOCH_TICK, Limits};

/// A configured engine and the thread that advances its epoch.
///
/// Dropping it stops the thread. Every component run by edgescore is
/// compiled and instantiated by one of these.
#[derive(Debug)]
pub struct ScoringEngine {
    engine: Engine,
    limits: Limits,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl ScoringEngine {
    /// An engine enforcing `limits`.
    pub fn new(limits: Limits) -> wasmtime::Result<Self> {
        let engine = Engine::new(&config(&limits))?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (engine, stop) = (engine.clone(), stop.clone());
            std::thread::Builder::new()
                .name("edgescore-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| wasmtime::format_err!("cannot start the epoch thread: {e}"))?
        };
        Ok(Self {
            engine,
            limits,
            stop,
            ticker: Some(ticker),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

impl Drop for ScoringEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
    }
}

/// The engine configuration for `limits`. Everything that changes compiled
/// code is here, so it also keys the on-disk cache of compiled components.
fn config(limits: &Limits) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.memory_init_cow(true);
    // Reserve 4 GiB of address space per memory (plus a guard region), so
    // every 32-bit access is in bounds or hits a guard page: compiled code
    // needs no explicit bounds checks. The cap on what an instance may
    // actually use is `max_memory_size` below and the store's limiter.
    config.memory_reservation(4 << 30);
    config.memory_guard_size(32 << 20);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(limits.max_instances);
    pool.total_core_instances(limits.max_instances);
    pool.total_memories(limits.max_instances);
    pool.total_tables(limits.max_instances);
    pool.max_memory_size(limits.memory_bytes);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}
