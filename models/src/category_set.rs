//! A set of category codes stored as a bitset, as both XGBoost and LightGBM keep them.

/// The largest category code a set may hold. XGBoost refuses codes of 2^24
/// and above (they are not exact in float32: its `InvalidCat` in
/// `common/categorical.h`); LightGBM's bitsets never get near.
pub(crate) const MAX_CATEGORY: u32 = (1 << 24) - 1;

/// The most bytes one model's category sets may take, summed over every set
/// of every tree: 64 MiB. A set is a bitset up to its largest code, so one
/// XGBoost code near [`MAX_CATEGORY`] takes 2 MiB from a few bytes of JSON,
/// and a file of a few kilobytes could otherwise ask for gigabytes (and a
/// failed allocation aborts the process). 64 MiB is 32 sets of the largest
/// codes XGBoost allows, or a thousand sets over 500,000 categories; a
/// fraud model's sets (merchant or country codes, a few hundred to a few
/// thousand categories: under 1 KiB each) come nowhere near. LightGBM's sets
/// are read from bitset words present in the file, so they are bounded by
/// its size already; the same limit applies to them so that it is one limit
/// for every model (16M words, over 32 MB of `cat_threshold` text).
pub(crate) const MAX_CATEGORY_SET_BYTES: usize = 64 << 20;

/// Why a category set was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetError {
    /// A member past [`MAX_CATEGORY`]: the file is malformed.
    Code(u32),
    /// The model's sets would take more than [`MAX_CATEGORY_SET_BYTES`].
    TooLarge,
}

impl std::fmt::Display for SetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetError::Code(c) => write!(
                f,
                "the category {c} is above 2^24 - 1 = {MAX_CATEGORY}, the largest code \
                 XGBoost accepts (float32 holds every integer up to 2^24 exactly)"
            ),
            SetError::TooLarge => write!(
                f,
                "the model's category sets take more than {} MiB (at most {} MiB, summed over \
                 every categorical split, are supported; a split's set takes 4 bytes for every \
                 32 category codes up to its largest)",
                MAX_CATEGORY_SET_BYTES >> 20,
                MAX_CATEGORY_SET_BYTES >> 20
            ),
        }
    }
}

/// The category-set storage one model has taken so far, counted against
/// [`MAX_CATEGORY_SET_BYTES`] before each set is allocated.
#[derive(Debug, Default)]
pub(crate) struct SetBudget {
    bytes: usize,
}

impl SetBudget {
    /// Takes room for a set of `words` bitset words, or refuses it.
    pub(crate) fn take(&mut self, words: usize) -> Result<(), SetError> {
        let bytes = words
            .checked_mul(4)
            .and_then(|b| b.checked_add(self.bytes))
            .filter(|&total| total <= MAX_CATEGORY_SET_BYTES)
            .ok_or(SetError::TooLarge)?;
        self.bytes = bytes;
        Ok(())
    }
}

/// A set of non-negative category codes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct CategorySet {
    /// Bit `c % 32` of word `c / 32` is set when category `c` is in the set.
    words: Vec<u32>,
}

impl CategorySet {
    /// Builds a set from its members, its storage taken from `budget` before
    /// it is allocated; refused if a member exceeds [`MAX_CATEGORY`] or the
    /// budget is spent.
    pub(crate) fn from_members(members: &[u32], budget: &mut SetBudget) -> Result<Self, SetError> {
        let Some(&largest) = members.iter().max() else {
            return Ok(Self::default());
        };
        if largest > MAX_CATEGORY {
            return Err(SetError::Code(largest));
        }
        let len = (largest / 32) as usize + 1;
        budget.take(len)?;
        let mut words = vec![0; len];
        for &c in members {
            words[(c / 32) as usize] |= 1 << (c % 32);
        }
        Ok(Self { words })
    }

    /// A set from LightGBM's `cat_threshold` words (bit `c % 32` of word `c / 32`).
    pub(crate) fn from_words(words: Vec<u32>) -> Self {
        Self { words }
    }

    /// The bitset words, for the compact encoding.
    pub(crate) fn words(&self) -> &[u32] {
        &self.words
    }

    /// Whether category `c` is a member; codes past the end of the bitset are not.
    pub(crate) fn contains(&self, c: u32) -> bool {
        self.words
            .get((c / 32) as usize)
            .is_some_and(|w| w >> (c % 32) & 1 == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_matches_members() {
        let set = CategorySet::from_members(&[0, 3, 31, 32, 100], &mut SetBudget::default())
            .expect("small codes");
        for c in 0..200 {
            assert_eq!(
                set.contains(c),
                [0, 3, 31, 32, 100].contains(&c),
                "category {c}"
            );
        }
        assert!(!set.contains(u32::MAX));
    }

    #[test]
    fn refuses_codes_past_the_float32_exact_range() {
        let mut budget = SetBudget::default();
        assert_eq!(
            CategorySet::from_members(&[MAX_CATEGORY + 1], &mut budget),
            Err(SetError::Code(MAX_CATEGORY + 1))
        );
        assert!(CategorySet::from_members(&[MAX_CATEGORY], &mut budget).is_ok());
    }

    #[test]
    fn the_budget_counts_every_set_of_the_model() {
        // Each set of the largest code takes 2 MiB: 32 fit in 64 MiB, the
        // 33rd is refused before it is allocated.
        let mut budget = SetBudget::default();
        for _ in 0..32 {
            let set = CategorySet::from_members(&[MAX_CATEGORY], &mut budget).expect("fits");
            assert_eq!(set.words().len() * 4, 2 << 20);
        }
        assert_eq!(
            CategorySet::from_members(&[MAX_CATEGORY], &mut budget),
            Err(SetError::TooLarge)
        );
        // An empty set takes nothing; a sum past usize is refused too.
        assert!(CategorySet::from_members(&[], &mut budget).is_ok());
        assert_eq!(budget.take(usize::MAX), Err(SetError::TooLarge));
    }
}
