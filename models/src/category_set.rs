//! A set of category codes stored as a bitset, as both XGBoost and LightGBM keep them.

/// The largest category code a set may hold. XGBoost refuses codes of 2^24
/// and above (they are not exact in float32); LightGBM's bitsets never get near.
pub(crate) const MAX_CATEGORY: u32 = (1 << 24) - 1;

/// A set of non-negative category codes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct CategorySet {
    /// Bit `c % 32` of word `c / 32` is set when category `c` is in the set.
    words: Vec<u32>,
}

impl CategorySet {
    /// Builds a set from its members; `None` if a member exceeds [`MAX_CATEGORY`].
    pub(crate) fn from_members(members: impl IntoIterator<Item = u32>) -> Option<Self> {
        let mut words = Vec::new();
        for c in members {
            if c > MAX_CATEGORY {
                return None;
            }
            let word = (c / 32) as usize;
            if words.len() <= word {
                words.resize(word + 1, 0);
            }
            words[word] |= 1 << (c % 32);
        }
        Some(Self { words })
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
        let set = CategorySet::from_members([0, 3, 31, 32, 100]).expect("small codes");
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
        assert!(CategorySet::from_members([MAX_CATEGORY + 1]).is_none());
    }
}
