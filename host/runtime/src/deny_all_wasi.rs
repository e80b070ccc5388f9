//! Deny-everything WASI, for components that import WASI interfaces.
//!
//! Components built by `edgescore build` import no WASI at all. A component
//! built another way (for `wasm32-wasip2`, say) imports WASI even when it
//! uses none of it, so the host links the WASI 0.2 interfaces
//! (`wasmtime-wasi`'s implementation) configured to grant nothing:
//!
//! | interface | what the guest gets |
//! | --- | --- |
//! | `wasi:filesystem` | no preopened directories: every open fails |
//! | `wasi:cli/environment` | no variables, no arguments, no working directory |
//! | `wasi:cli/stdin` | closed (reads end at once) |
//! | `wasi:cli/stdout`, `stderr` | accepted and discarded |
//! | `wasi:cli/exit` | traps the call |
//! | `wasi:sockets` | TCP, UDP and name lookup refused; every address denied |
//! | `wasi:clocks` | frozen at zero (1970-01-01 and monotonic 0) |
//! | `subscribe-duration`, `subscribe-instant` | trap the call: a scorer may not wait, and a host wait could not be interrupted by the call deadline |
//! | `wasi:random` | a fixed byte sequence, so scores stay a pure function of the rows |
//! | `wasi:io` | streams and pollables over the above only |
//!
//! The context is made on a store's first WASI call, so instances of
//! components that never call WASI pay nothing for it.

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::{Deterministic, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView};

/// The WASI package version `wasmtime-wasi` implements; components importing
/// any earlier 0.2 version are matched to it.
const WASI_VERSION: &str = "0.2.12";

/// The bytes every `wasi:random` call cycles through.
const RANDOM_BYTES: [u8; 8] = [0x9e, 0x37, 0x79, 0xb9, 0x7f, 0x4a, 0x7c, 0x15];

/// One store's WASI state: a context granting nothing and its resource table.
pub struct DenyAllWasi {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl std::fmt::Debug for DenyAllWasi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenyAllWasi").finish_non_exhaustive()
    }
}

impl Default for DenyAllWasi {
    fn default() -> Self {
        let mut builder = WasiCtx::builder();
        builder
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .secure_random(Deterministic::new(RANDOM_BYTES.to_vec()))
            .insecure_random(Deterministic::new(RANDOM_BYTES.to_vec()))
            .insecure_random_seed(0);
        Self {
            ctx: builder.build(),
            table: ResourceTable::new(),
        }
    }
}

impl DenyAllWasi {
    /// The view `wasmtime-wasi`'s host functions work on.
    pub fn view(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// Links the deny-everything WASI interfaces into `linker`; `T`'s
/// [`wasmtime_wasi::WasiView`] must hand out a [`DenyAllWasi`]'s view.
pub fn add_to_linker<T: wasmtime_wasi::WasiView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    // The two functions that would block the calling thread in the host,
    // where the epoch deadline cannot reach, trap instead.
    linker.allow_shadowing(true);
    let mut clock = linker.instance(&format!("wasi:clocks/monotonic-clock@{WASI_VERSION}"))?;
    for name in ["subscribe-duration", "subscribe-instant"] {
        clock.func_wrap(
            name,
            move |_: StoreContextMut<'_, T>, (_,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
                Err(wasmtime::format_err!(
                    "the component tried to wait (monotonic-clock.{name}); edgescore components may not sleep"
                ))
            },
        )?;
    }
    linker.allow_shadowing(false);
    Ok(())
}

/// A wall clock and a monotonic clock that always read zero.
#[derive(Debug, Clone, Copy)]
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(1)
    }

    fn now(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        0
    }
}
