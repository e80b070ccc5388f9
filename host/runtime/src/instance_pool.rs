//! Warm instances of one component, kept between calls: the one pool type
//! for scorers and transforms.
//!
//! A call takes an idle instance (or gets `None` and instantiates a fresh
//! one) and gives it back afterwards. An instance whose call trapped is
//! poisoned and never given back: its memory may be in any state.

use parking_lot::Mutex;

/// An instance that can tell whether a call into it trapped.
pub trait Poisonable {
    fn is_poisoned(&self) -> bool;
}

/// Idle instances, bounded by [`max_idle`].
#[derive(Debug)]
pub struct InstancePool<I> {
    idle: Mutex<Vec<I>>,
}

impl<I: Poisonable> InstancePool<I> {
    /// A pool holding `warm`, the instance validation made.
    pub fn with(warm: I) -> Self {
        Self {
            idle: Mutex::new(vec![warm]),
        }
    }

    /// An idle instance, if there is one.
    pub fn take(&self) -> Option<I> {
        self.idle.lock().pop()
    }

    /// Puts `instance` back unless it is poisoned or the pool is full.
    pub fn give_back(&self, instance: I) {
        if instance.is_poisoned() {
            return;
        }
        let mut idle = self.idle.lock();
        if idle.len() < max_idle() {
            idle.push(instance);
        }
    }

    /// How many instances wait idle.
    pub fn idle(&self) -> usize {
        self.idle.lock().len()
    }
}

/// Idle instances kept per component: twice the cores (calls run on the
/// async workers and, for large requests, the blocking pool), at most 64.
/// More concurrent calls instantiate fresh ones (microseconds) and drop them
/// afterwards. Bounded so that many loaded versions cannot take every slot
/// of the engine's instance pool.
pub fn max_idle() -> usize {
    static MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(4, |n| n.get() * 2)
            .clamp(2, 64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fake(bool);
    impl Poisonable for Fake {
        fn is_poisoned(&self) -> bool {
            self.0
        }
    }

    #[test]
    fn a_poisoned_instance_is_never_given_back() {
        let pool = InstancePool::with(Fake(false));
        let taken = pool.take().expect("the warm one");
        assert!(pool.take().is_none());
        pool.give_back(Fake(true));
        assert_eq!(pool.idle(), 0);
        pool.give_back(taken);
        assert_eq!(pool.idle(), 1);
    }

    #[test]
    fn the_pool_is_bounded() {
        let pool = InstancePool::with(Fake(false));
        for _ in 0..max_idle() + 5 {
            pool.give_back(Fake(false));
        }
        assert_eq!(pool.idle(), max_idle());
    }
}
