//! `edgescore serve` run as a child process: the URL it announces on its
//! first line, and a graceful stop. Shared by the server test tiers, which
//! each build their own command line.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The URL from the server's first line, `edgescore serving on <URL>`.
/// `child` must have been spawned with a piped stdout. Panics (failing the
/// test) on any other first line.
pub fn announced_url(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("reads the URL line");
    first
        .trim()
        .strip_prefix("edgescore serving on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_owned()
}

/// SIGTERM (the server drains and removes its demo registry), then a kill
/// if it has not exited within `grace`.
pub fn stop_gracefully(child: &mut Child, grace: Duration) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
