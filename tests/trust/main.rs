//! `edgescore keygen`, `sign`, `verify` and `audit verify`, run as a user
//! runs them.
//!
//! - `signatures`: two keys sign a version folder; either trust file
//!   accepts it; one key revoked, the other still does; the revoked key
//!   alone, or a flipped byte, is refused with exit 1 and the reason;
//! - `audit`: a log written by the library verifies, and an edited line is
//!   reported with its line number and exit 1.

mod audit;
mod signatures;

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `edgescore` binary with `args`; how it ended, with its output.
fn edgescore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(args)
        .output()
        .expect("edgescore runs")
}

/// `p` as an argument (the test paths are UTF-8).
fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts `out` succeeded; its standard output.
fn succeeded(what: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// Asserts `out` exited with status 1; its standard error.
fn refused(what: &str, out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what} should exit 1: {}{}",
        stdout(out),
        stderr(out)
    );
    stderr(out)
}
