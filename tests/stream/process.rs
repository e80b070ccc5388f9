//! `edgescore stream` as a subprocess, and the group's progress.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::broker::Broker;

/// A running `edgescore stream`; killed (SIGKILL) when dropped.
pub(crate) struct Stream {
    child: Option<Child>,
}

impl Stream {
    /// Starts `edgescore stream` with `args`, its output appended to `log`.
    pub(crate) fn start(args: &[String], log: &Path) -> Self {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_edgescore"))
            .arg("stream")
            .args(args)
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .expect("edgescore stream starts");
        Self { child: Some(child) }
    }

    /// kill -9.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and waits for a clean exit.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Some(status) = child.try_wait().expect("wait") {
                    assert!(status.success(), "edgescore stream exited with {status}");
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "edgescore stream did not stop on SIGTERM"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Whether it is still running.
    pub(crate) fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How many messages of `topic` `group` has committed, out of how many.
pub(crate) fn progress(broker: &Broker, group: &str, topic: &str) -> (i64, i64) {
    let ends = broker.end_offsets(topic);
    let committed = broker.committed(group, topic);
    (committed.values().sum(), ends.values().sum())
}

/// Waits until `group` has committed every message of `topic`; the
/// streams must stay up meanwhile.
pub(crate) fn wait_until_done(
    broker: &Broker,
    group: &str,
    topic: &str,
    streams: &mut [&mut Stream],
    log: &Path,
) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (done, total) = progress(broker, group, topic);
        if done >= total {
            return;
        }
        for s in streams.iter_mut() {
            assert!(
                s.running(),
                "edgescore stream stopped at {done} of {total}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "group {group} committed {done} of {total} in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
