//! The live side of a comparison: the last events scored, by count and by
//! age, binned as the reference is and counted per slot. Adding an event
//! and dropping the oldest each cost one slot update per distribution;
//! nothing is recounted.

use std::collections::VecDeque;

use crate::bins::Bins;
use crate::profile::Decisions;

/// One event as the window keeps it: when, its slots (features, then the
/// score), its decision.
#[derive(Debug)]
struct Seen {
    at_ms: i64,
    slots: Box<[u16]>,
    decision: u8,
}

/// A sliding window over binned events.
#[derive(Debug)]
pub struct Window {
    bins: Vec<Bins>,
    max_events: usize,
    max_age_ms: i64,
    seen: VecDeque<Seen>,
    /// Per distribution (features, then the score), counts per slot.
    counts: Vec<Vec<u64>>,
    decisions: [u64; 3],
}

const DECISIONS: [&str; 3] = ["allow", "review", "block"];

impl Window {
    /// A window over distributions `bins` (the features', then the
    /// score's) of at most `max_events` events no older than `max_age_ms`.
    pub fn new(bins: Vec<Bins>, max_events: usize, max_age_ms: i64) -> Self {
        let counts = bins.iter().map(|b| vec![0; b.slots()]).collect();
        Self {
            bins,
            max_events: max_events.max(1),
            max_age_ms,
            seen: VecDeque::new(),
            counts,
            decisions: [0; 3],
        }
    }

    /// Adds one event at `at_ms`: its features (in order), score and
    /// decision; drops what falls out of the window.
    pub fn add(&mut self, at_ms: i64, features: &[f64], score: f64, decision: &str) {
        let score_at = self.bins.len() - 1;
        let slots: Box<[u16]> = self
            .bins
            .iter()
            .enumerate()
            .map(|(i, bins)| {
                let x = if i == score_at {
                    score
                } else {
                    features.get(i).copied().unwrap_or(f64::NAN)
                };
                u16::try_from(bins.slot(x)).unwrap_or(u16::MAX)
            })
            .collect();
        for (counts, &slot) in self.counts.iter_mut().zip(slots.iter()) {
            if let Some(n) = counts.get_mut(usize::from(slot)) {
                *n += 1;
            }
        }
        let decision = DECISIONS.iter().position(|d| *d == decision).unwrap_or(0) as u8;
        self.decisions[usize::from(decision)] += 1;
        self.seen.push_back(Seen {
            at_ms,
            slots,
            decision,
        });
        while self.seen.len() > self.max_events {
            self.drop_oldest();
        }
        self.expire(at_ms);
    }

    /// Drops the events older than the window's age at `now_ms`.
    pub fn expire(&mut self, now_ms: i64) {
        while self
            .seen
            .front()
            .is_some_and(|s| s.at_ms < now_ms.saturating_sub(self.max_age_ms))
        {
            self.drop_oldest();
        }
    }

    fn drop_oldest(&mut self) {
        let Some(old) = self.seen.pop_front() else {
            return;
        };
        for (counts, &slot) in self.counts.iter_mut().zip(old.slots.iter()) {
            if let Some(n) = counts.get_mut(usize::from(slot)) {
                *n -= 1;
            }
        }
        self.decisions[usize::from(old.decision)] -= 1;
    }

    /// Events in the window.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// The counts per slot of distribution `i` (features, then the score).
    pub fn counts(&self, i: usize) -> &[u64] {
        &self.counts[i]
    }

    pub fn decisions(&self) -> Decisions {
        Decisions {
            allow: self.decisions[0],
            review: self.decisions[1],
            block: self.decisions[2],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(max_events: usize, max_age_ms: i64) -> Window {
        let bins = vec![
            Bins::Numeric {
                edges: vec![0.0, 1.0, 2.0],
            },
            Bins::Numeric {
                edges: vec![0.0, 0.5, 1.0],
            },
        ];
        Window::new(bins, max_events, max_age_ms)
    }

    #[test]
    fn counts_follow_the_events_in_the_window() {
        let mut w = window(2, 1_000);
        w.add(0, &[0.5], 0.1, "allow");
        w.add(1, &[1.5], 0.9, "block");
        assert_eq!(w.counts(0), [0, 1, 1, 0, 0]);
        w.add(2, &[f64::NAN], 0.6, "review");
        assert_eq!(w.len(), 2);
        assert_eq!(w.counts(0), [0, 0, 1, 0, 1]);
        assert_eq!(w.counts(1), [0, 0, 2, 0, 0]);
        assert_eq!(
            w.decisions(),
            Decisions {
                allow: 0,
                review: 1,
                block: 1
            }
        );
        w.expire(1_002);
        assert_eq!(w.len(), 1);
        w.expire(5_000);
        assert!(w.is_empty());
        assert_eq!(w.counts(0), [0; 5]);
        assert_eq!(w.decisions(), Decisions::default());
    }
}
