//! Keeps a registry in step with its folder: file-system events (inotify on
//! Linux) trigger a scan at once, and a scan also runs every poll interval
//! as the fallback for file systems without events (network mounts, some
//! containers) and for events lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};

use super::registry::Registry;

/// Events arriving this close together are one change.
const DEBOUNCE: Duration = Duration::from_millis(50);
/// While a file waits to settle, scan again this soon.
const SETTLE_RECHECK: Duration = Duration::from_millis(200);

/// The thread that watches and polls; stopped and joined on drop.
#[derive(Debug)]
pub struct RegistryWatch {
    stop: Arc<AtomicBool>,
    wake: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl RegistryWatch {
    /// Starts watching `registry`'s folder, polling every `poll_interval` too.
    pub fn start(registry: Arc<Registry>, poll_interval: Duration) -> std::io::Result<Self> {
        let (wake, woken) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (wake, stop) = (wake.clone(), stop.clone());
            std::thread::Builder::new()
                .name("edgescore-registry".into())
                .spawn(move || watch(&registry, poll_interval, &wake, &woken, &stop))?
        };
        Ok(Self {
            stop,
            wake,
            thread: Some(thread),
        })
    }
}

impl Drop for RegistryWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.wake.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn watch(
    registry: &Registry,
    poll_interval: Duration,
    wake: &Sender<()>,
    woken: &Receiver<()>,
    stop: &AtomicBool,
) {
    let events = wake.clone();
    // Kept alive for the loop's lifetime; events stop when it drops.
    let _watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            let _ = events.send(());
        }
    })
    .and_then(|mut watcher| {
        watcher
            .watch(registry.root(), RecursiveMode::Recursive)
            .map(|()| watcher)
    })
    .inspect_err(|e| {
        tracing::warn!(
            "cannot watch {} for changes ({e}); polling every {} ms instead",
            registry.root().display(),
            poll_interval.as_millis()
        );
    })
    .ok();

    let mut wait = poll_interval;
    while !stop.load(Ordering::Relaxed) {
        match woken.recv_timeout(wait) {
            Ok(()) => {
                std::thread::sleep(DEBOUNCE);
                while woken.try_recv().is_ok() {}
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
        registry.scan(false);
        wait = if registry.has_pending() {
            SETTLE_RECHECK.min(poll_interval)
        } else {
            poll_interval
        };
    }
}
