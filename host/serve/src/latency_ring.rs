//! Recent request durations per model or pipeline, for the dashboard's
//! p50 and p99: a ring of the last [`RING`] durations each. Recording
//! costs a map lookup under a shared lock and a short lock of the model's
//! own ring; the percentiles are computed when asked (a copy and a sort).
//! `/metrics` keeps the histograms over all time; this is "now".

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

/// Durations kept per model or pipeline.
pub const RING: usize = 1024;

/// The rings, by model or pipeline name.
#[derive(Debug, Default)]
pub struct LatencyRings {
    rings: RwLock<HashMap<String, Arc<Mutex<Ring>>>>,
}

/// The percentiles of one ring.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Percentiles {
    /// Durations the percentiles are taken over (at most [`RING`]).
    pub requests: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug)]
struct Ring {
    /// Microseconds.
    micros: Vec<u32>,
    next: usize,
}

impl LatencyRings {
    /// Records one request of `name` that took `took`.
    pub fn record(&self, name: &str, took: Duration) {
        let micros = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        let ring = self.rings.read().get(name).cloned();
        let ring = match ring {
            Some(ring) => ring,
            None => self
                .rings
                .write()
                .entry(name.to_owned())
                .or_insert_with(|| {
                    Arc::new(Mutex::new(Ring {
                        micros: Vec::with_capacity(RING),
                        next: 0,
                    }))
                })
                .clone(),
        };
        let mut ring = ring.lock();
        if ring.micros.len() < RING {
            ring.micros.push(micros);
        } else {
            let at = ring.next;
            ring.micros[at] = micros;
        }
        ring.next = (ring.next + 1) % RING;
    }

    /// The p50 and p99 of `name`'s recent requests; `None` before its first.
    pub fn percentiles(&self, name: &str) -> Option<Percentiles> {
        let mut micros = self.rings.read().get(name)?.lock().micros.clone();
        if micros.is_empty() {
            return None;
        }
        micros.sort_unstable();
        // The nearest-rank percentile: the smallest value with at least
        // p% of the values at or below it.
        let rank = |p: f64| {
            let at = ((p / 100.0) * micros.len() as f64).ceil() as usize;
            f64::from(micros[at.clamp(1, micros.len()) - 1]) / 1000.0
        };
        Some(Percentiles {
            requests: micros.len(),
            p50_ms: rank(50.0),
            p99_ms: rank(99.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_of_the_last_requests_only() {
        let rings = LatencyRings::default();
        assert_eq!(rings.percentiles("fraud"), None);
        for ms in 1..=100 {
            rings.record("fraud", Duration::from_millis(ms));
        }
        let p = rings.percentiles("fraud").expect("recorded");
        assert_eq!((p.requests, p.p50_ms, p.p99_ms), (100, 50.0, 99.0));
        // A full ring of 2 ms pushes every older duration out.
        for _ in 0..RING {
            rings.record("fraud", Duration::from_millis(2));
        }
        let p = rings.percentiles("fraud").expect("recorded");
        assert_eq!((p.requests, p.p50_ms, p.p99_ms), (RING, 2.0, 2.0));
        assert_eq!(rings.percentiles("other"), None);
    }
}
