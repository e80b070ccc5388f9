//! The AVX2 walk of a [`CompleteForest`], for CPUs without AVX-512: 8 rows
//! per vector, up to 64 rows (eight vectors) through one tree at a time,
//! one level per step. The first four levels' splits (at most 8 per level)
//! are picked from one vector with a permute; deeper levels, the rows'
//! values and the leaves are gathered. A single row walks 64 trees at once
//! (eight vectors of 8), everything gathered. The same comparisons and the same
//! leaf order as the flattened walk (see `avx512.rs`), so the same bits.
//!
//! Own code with `unsafe` (intrinsics), for the same reason as
//! `avx512.rs`: batch speed on the many x86-64 CPUs without AVX-512 is the
//! point, and every index is bounded by the layout's construction (see the
//! SAFETY notes); the entry point checks the shapes it relies on.

#![allow(unsafe_code)]

use std::arch::x86_64::*;

use super::complete::CompleteForest;

/// Whether this CPU runs the walk (AVX2; detected once by std).
pub(super) fn available() -> bool {
    std::is_x86_feature_detected!("avx2")
}

/// Adds every tree's leaf to `acc[r]` for the rows of `rows` (row-major,
/// `width` values each, 8 to 64 rows). Returns false, touching nothing,
/// when the CPU lacks AVX2 or the shapes do not fit the walk.
pub(super) fn accumulate(
    forest: &CompleteForest,
    rows: &[f32],
    width: usize,
    acc: &mut [f32],
) -> bool {
    let n = acc.len();
    if !(8..=64).contains(&n)
        || width < forest.min_width
        || rows.len() != n * width
        || n.checked_mul(width).is_none_or(|v| v > i32::MAX as usize)
        || !available()
    {
        return false;
    }
    // SAFETY: AVX2 is present (checked above). Every split's feature is
    // below `forest.min_width <= width` (pass-through nodes read feature
    // 0), so every row gather stays in `rows`; the other indices are
    // bounded as noted in `walk`.
    unsafe {
        match n.div_ceil(8) {
            1 => walk::<1>(forest, rows, width, acc),
            2 => walk::<2>(forest, rows, width, acc),
            3 => walk::<3>(forest, rows, width, acc),
            4 => walk::<4>(forest, rows, width, acc),
            5 => walk::<5>(forest, rows, width, acc),
            6 => walk::<6>(forest, rows, width, acc),
            7 => walk::<7>(forest, rows, width, acc),
            _ => walk::<8>(forest, rows, width, acc),
        }
    }
    true
}

/// Adds every tree's leaf to `acc[r]` for a few rows (fewer than 8, as a
/// single-row request sends), each row walking 64 trees at once (eight
/// vectors of 8). Returns false, touching nothing, when the CPU lacks AVX2
/// or the shapes do not fit.
pub(super) fn accumulate_by_trees(
    forest: &CompleteForest,
    rows: &[f32],
    width: usize,
    acc: &mut [f32],
) -> bool {
    if width < forest.min_width
        || rows.len() != acc.len() * width
        || width > i32::MAX as usize
        || !available()
    {
        return false;
    }
    for (row, acc) in rows.chunks_exact(width).zip(acc.iter_mut()) {
        // SAFETY: AVX2 is present (checked above); `row` holds `width`
        // values and every split's feature is below `min_width <= width`.
        unsafe { walk_trees(forest, row, acc) };
    }
    true
}

/// One row through every tree, 64 trees per step; the leaves are then
/// added to `acc` one at a time in tree order.
#[target_feature(enable = "avx2")]
unsafe fn walk_trees(forest: &CompleteForest, row: &[f32], acc: &mut f32) {
    const GROUPS: usize = 8;
    let trees = forest.trees;
    let splits = (1usize << forest.depth) - 1;
    let leaves_per_tree = 1usize << forest.depth;
    let features = forest.features.as_ptr() as *const i32;
    let thresholds = forest.thresholds.as_ptr() as *const f32;
    let leaves = forest.leaves.as_ptr() as *const f32;
    let xs = row.as_ptr();
    let feature_mask = _mm256_set1_epi32((1 << 28) - 1);
    for first in (0..trees).step_by(8 * GROUPS) {
        // Lanes past the last tree repeat it; their leaves are not added.
        let tree = |v: usize, k: usize| (first + 8 * v + k).min(trees - 1);
        let lanes = |v: usize, scale: usize| lanes_of(|k| (tree(v, k) * scale) as i32);
        let split_base: [__m256i; GROUPS] = std::array::from_fn(|v| lanes(v, splits));
        let mut pos = [_mm256_setzero_si256(); GROUPS];
        for level in 0..forest.depth {
            let level_start = _mm256_set1_epi32((1 << level) - 1);
            for v in 0..GROUPS {
                let at = _mm256_add_epi32(_mm256_add_epi32(split_base[v], level_start), pos[v]);
                // SAFETY: `tree * splits + 2^level - 1 + pos < (tree+1) * splits`,
                // and a feature is below the row's width.
                let (f, th, x) = unsafe {
                    let f = _mm256_i32gather_epi32::<4>(features, at);
                    let th = _mm256_i32gather_ps::<4>(thresholds, at);
                    let x = _mm256_i32gather_ps::<4>(xs, _mm256_and_si256(f, feature_mask));
                    (f, th, x)
                };
                pos[v] = next_position(pos[v], f, th, x);
            }
        }
        for (v, pos) in pos.iter().enumerate() {
            let at = _mm256_add_epi32(lanes(v, leaves_per_tree), *pos);
            let mut values = [0.0_f32; 8];
            // SAFETY: `pos < 2^depth`, one of this tree's leaves; `values`
            // holds 8 floats.
            unsafe { _mm256_storeu_ps(values.as_mut_ptr(), _mm256_i32gather_ps::<4>(leaves, at)) };
            let valid = trees.saturating_sub(first + 8 * v).min(8);
            for value in &values[..valid] {
                *acc += value;
            }
        }
    }
}

/// Each lane's position one level down: `2p` when it goes left (x below
/// the threshold, or missing with the split's default left in bit 31 of
/// its feature word), `2p + 1` otherwise (NaN thresholds send all right).
#[target_feature(enable = "avx2")]
fn next_position(pos: __m256i, feature: __m256i, threshold: __m256, x: __m256) -> __m256i {
    let less = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(x, threshold));
    let missing = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_UNORD_Q>(x, x));
    let default_left = _mm256_srai_epi32::<31>(feature);
    let left = _mm256_or_si256(less, _mm256_and_si256(missing, default_left));
    let twice = _mm256_add_epi32(pos, pos);
    _mm256_add_epi32(twice, _mm256_andnot_si256(left, _mm256_set1_epi32(1)))
}

/// The vector of `lane(0)`, ..., `lane(7)`.
#[target_feature(enable = "avx2")]
fn lanes_of(lane: impl Fn(usize) -> i32) -> __m256i {
    let values: [i32; 8] = std::array::from_fn(lane);
    // SAFETY: `values` holds 8 i32s.
    unsafe { _mm256_loadu_si256(values.as_ptr() as *const _) }
}

#[target_feature(enable = "avx2")]
unsafe fn walk<const V: usize>(
    forest: &CompleteForest,
    rows: &[f32],
    width: usize,
    acc: &mut [f32],
) {
    let n = acc.len();
    // Lanes past the last row repeat it (valid memory); their sums are
    // never stored.
    let offsets: [__m256i; V] =
        std::array::from_fn(|v| lanes_of(|k| ((8 * v + k).min(n - 1) * width) as i32));
    let mut sums: [__m256; V] = std::array::from_fn(|v| {
        let mut lanes = [0.0_f32; 8];
        let have = n.saturating_sub(8 * v).min(8);
        lanes[..have].copy_from_slice(&acc[8 * v..8 * v + have]);
        // SAFETY: `lanes` holds 8 floats.
        unsafe { _mm256_loadu_ps(lanes.as_ptr()) }
    });
    let feature_mask = _mm256_set1_epi32((1 << 28) - 1);
    let splits = (1usize << forest.depth) - 1;
    let leaves_per_tree = 1usize << forest.depth;
    let features = forest.features.as_ptr() as *const i32;
    let thresholds = forest.thresholds.as_ptr() as *const f32;
    let leaves = forest.leaves.as_ptr() as *const f32;
    let xs = rows.as_ptr();
    for t in 0..forest.trees {
        // Each lane's position within the current level: below 2^level.
        let mut pos = [_mm256_setzero_si256(); V];
        for level in 0..forest.depth {
            let start = t * splits + (1 << level) - 1;
            let (f, th): ([__m256i; V], [__m256; V]) = if level <= 3 {
                // SAFETY: 8 entries from `start`: the arrays extend 32 past
                // the last tree's splits, and `start < (t+1) * splits`.
                let (fs, ts) = unsafe {
                    (
                        _mm256_loadu_si256(features.add(start) as *const _),
                        _mm256_loadu_ps(thresholds.add(start)),
                    )
                };
                (
                    std::array::from_fn(|v| _mm256_permutevar8x32_epi32(fs, pos[v])),
                    std::array::from_fn(|v| _mm256_permutevar8x32_ps(ts, pos[v])),
                )
            } else {
                let at: [__m256i; V] = std::array::from_fn(|v| {
                    _mm256_add_epi32(_mm256_set1_epi32(start as i32), pos[v])
                });
                // SAFETY: `start + pos < start + 2^level <= (t+1) * splits`.
                unsafe {
                    (
                        std::array::from_fn(|v| _mm256_i32gather_epi32::<4>(features, at[v])),
                        std::array::from_fn(|v| _mm256_i32gather_ps::<4>(thresholds, at[v])),
                    )
                }
            };
            for v in 0..V {
                let column = _mm256_and_si256(f[v], feature_mask);
                // SAFETY: a row's offset plus a feature below `width`.
                let x =
                    unsafe { _mm256_i32gather_ps::<4>(xs, _mm256_add_epi32(offsets[v], column)) };
                // Left when x < threshold, or x is missing and the split's
                // default is left (bit 31); NaN thresholds send all right.
                pos[v] = next_position(pos[v], f[v], th[v], x);
            }
        }
        let first_leaf = _mm256_set1_epi32((t * leaves_per_tree) as i32);
        for v in 0..V {
            // SAFETY: `pos < 2^depth`, one of this tree's leaves.
            let leaf =
                unsafe { _mm256_i32gather_ps::<4>(leaves, _mm256_add_epi32(first_leaf, pos[v])) };
            sums[v] = _mm256_add_ps(sums[v], leaf);
        }
    }
    for (v, sum) in sums.iter().enumerate() {
        let mut lanes = [0.0_f32; 8];
        // SAFETY: `lanes` holds 8 floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), *sum) };
        let have = n.saturating_sub(8 * v).min(8);
        acc[8 * v..8 * v + have].copy_from_slice(&lanes[..have]);
    }
}
