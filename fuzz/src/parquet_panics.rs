//! Panics of the `parquet` crate, told from findings.
//!
//! The `parquet` crate (59, held there by deltalake) panics on some corrupt
//! files rather than returning an error (apache/arrow-rs#9742).
//! `edgescore_table` contains each call into it and answers such a panic as
//! the file's error, but libFuzzer's panic hook aborts before any unwinding
//! is caught. The hook installed here passes a panic on to libFuzzer's
//! unless `edgescore_table` says it is inside a contained parquet call, so
//! the fuzzer goes on past known upstream panics to edgescore's own code,
//! and every other panic is still a finding. (The reproducers are seeds of
//! `parquet_events`, named `regression-parquet-panic-*`, and a test of
//! `host/table/src/parquet_read.rs`.)

use std::panic;
use std::sync::Once;

/// Installs the hook (once; call it from the target, after libFuzzer has
/// installed its own).
pub fn contain() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let finding = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !edgescore_table::in_parquet_call() {
                finding(info);
            }
        }));
    });
}
