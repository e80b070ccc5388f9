//! The last route changes of every model, newest last, for the dashboard:
//! when, which model, the primary version before and after, and the route
//! as the log line describes it (canary and shadow included).

use std::collections::VecDeque;

use parking_lot::Mutex;
use serde::Serialize;

/// Route changes kept, all models together.
pub const RECENT_SWAPS: usize = 50;

/// One route change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Swap {
    /// When, RFC 3339 (UTC, milliseconds).
    pub at: String,
    pub model: String,
    /// The primary version before (`None`: nothing served).
    pub from: Option<u64>,
    /// The primary version after (`None`: nothing serves).
    pub to: Option<u64>,
    /// The route now: `version 2, canary 3 at 10%, shadow 4`, or `nothing`.
    pub route: String,
}

/// A bounded list of [`Swap`]s.
#[derive(Debug, Default)]
pub(super) struct RecentSwaps(Mutex<VecDeque<Swap>>);

impl RecentSwaps {
    pub(super) fn push(&self, swap: Swap) {
        let mut swaps = self.0.lock();
        if swaps.len() == RECENT_SWAPS {
            swaps.pop_front();
        }
        swaps.push_back(swap);
    }

    pub(super) fn list(&self) -> Vec<Swap> {
        self.0.lock().iter().cloned().collect()
    }
}
