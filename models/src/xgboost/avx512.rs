//! The AVX-512 walk of a [`CompleteForest`]: 16 rows per vector, up to 64
//! rows (four vectors) through one tree at a time, one level per step. The
//! first five levels' splits (at most 16 per level) are picked from one
//! vector with a permute and the sixth's (32) from two; deeper levels, the
//! rows' feature values and the leaves are gathered. Each row's leaves are
//! added in tree order in float32 (`acc[r] += leaf`), as the flattened walk
//! and XGBoost add them, so the sums are the same bits.
//!
//! Own code with `unsafe` (intrinsics), kept small: the speed of batch
//! scoring on x86-64 is the point (issue 15), and no crate walks XGBoost's
//! trees with XGBoost's exact comparisons. Every index is bounded by the
//! layout's construction (see the SAFETY notes); the entry point checks the
//! shapes it relies on.

#![allow(unsafe_code)]

use std::arch::x86_64::*;

use super::complete::CompleteForest;

/// Whether this CPU runs the walk (AVX-512 F; detected once by std).
pub(super) fn available() -> bool {
    std::is_x86_feature_detected!("avx512f")
}

/// Adds every tree's leaf to `acc[r]` for the rows of `rows` (row-major,
/// `width` values each, 16 to 64 rows). Returns false, touching nothing,
/// when the CPU lacks AVX-512 or the shapes do not fit the walk.
pub(super) fn accumulate(
    forest: &CompleteForest,
    rows: &[f32],
    width: usize,
    acc: &mut [f32],
) -> bool {
    let n = acc.len();
    if !(16..=64).contains(&n)
        || width < forest.min_width
        || rows.len() != n * width
        || !available()
    {
        return false;
    }
    if n.checked_mul(width).is_none_or(|v| v > i32::MAX as usize) {
        return false;
    }
    // SAFETY: AVX-512 F is present (checked above). Every split's feature
    // is below `forest.min_width <= width` (and pass-through nodes read
    // feature 0 < width), so every feature gather stays in `rows`; the
    // other indices are bounded as noted in `walk`.
    unsafe {
        match n.div_ceil(16) {
            1 => walk::<1>(forest, rows, width, acc),
            2 => walk::<2>(forest, rows, width, acc),
            3 => walk::<3>(forest, rows, width, acc),
            _ => walk::<4>(forest, rows, width, acc),
        }
    }
    true
}

/// Adds every tree's leaf to `acc[r]` for a few rows (fewer than 16, as a
/// single-row request sends), each row walking 64 trees at once (four
/// vectors of 16). Returns false, touching nothing, when the CPU lacks
/// AVX-512 or the shapes do not fit.
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
        // SAFETY: AVX-512 F is present (checked above); `row` holds `width`
        // values and every split's feature is below `min_width <= width`.
        unsafe { walk_trees(forest, row, acc) };
    }
    true
}

/// One row through every tree, 64 trees per step; the leaves are then
/// added to `acc` one at a time in tree order.
#[target_feature(enable = "avx512f")]
unsafe fn walk_trees(forest: &CompleteForest, row: &[f32], acc: &mut f32) {
    const GROUPS: usize = 4;
    let trees = forest.trees;
    let splits = (1usize << forest.depth) - 1;
    let leaves_per_tree = 1usize << forest.depth;
    let features = forest.features.as_ptr() as *const i32;
    let thresholds = forest.thresholds.as_ptr() as *const f32;
    let leaves = forest.leaves.as_ptr() as *const f32;
    let xs = row.as_ptr();
    let feature_mask = _mm512_set1_epi32((1 << 28) - 1);
    let zero = _mm512_setzero_si512();
    // A row of up to 64 values sits in four registers: its values are
    // picked by permutes, not gathered.
    let mut padded = [0.0_f32; 64];
    let in_registers = row.len() <= 64;
    if in_registers {
        padded[..row.len()].copy_from_slice(row);
    }
    // SAFETY: `padded` holds 64 floats.
    let quarters: [__m512; 4] =
        std::array::from_fn(|q| unsafe { _mm512_loadu_ps(padded.as_ptr().add(16 * q)) });
    let upper_half = _mm512_set1_epi32(32);
    let value_of = |column: __m512i| -> __m512 {
        if in_registers {
            // Columns 0-31 from the first two quarters, 32-63 from the last two.
            let low = _mm512_permutex2var_ps(quarters[0], column, quarters[1]);
            let high = _mm512_permutex2var_ps(quarters[2], column, quarters[3]);
            let from_high = _mm512_test_epi32_mask(column, upper_half);
            _mm512_mask_blend_ps(from_high, low, high)
        } else {
            // SAFETY: a feature is below the row's width.
            unsafe { _mm512_i32gather_ps::<4>(column, xs) }
        }
    };
    for first in (0..trees).step_by(16 * GROUPS) {
        // Lanes past the last tree repeat it; their leaves are not added.
        let tree = |v: usize, k: usize| (first + 16 * v + k).min(trees - 1);
        let lanes = |v: usize, scale: usize| lanes_of(|k| (tree(v, k) * scale) as i32);
        let split_base: [__m512i; GROUPS] = std::array::from_fn(|v| lanes(v, splits));
        let mut pos = [zero; GROUPS];
        for level in 0..forest.depth {
            let level_start = _mm512_set1_epi32((1 << level) - 1);
            for v in 0..GROUPS {
                let at = _mm512_add_epi32(_mm512_add_epi32(split_base[v], level_start), pos[v]);
                // SAFETY: `tree * splits + 2^level - 1 + pos < (tree+1) * splits`,
                // and a feature is below the row's width.
                let (f, th) = unsafe {
                    (
                        _mm512_i32gather_epi32::<4>(at, features),
                        _mm512_i32gather_ps::<4>(at, thresholds),
                    )
                };
                let x = value_of(_mm512_and_si512(f, feature_mask));
                pos[v] = next_position(pos[v], f, th, x);
            }
        }
        for (v, pos) in pos.iter().enumerate() {
            let at = _mm512_add_epi32(lanes(v, leaves_per_tree), *pos);
            let mut values = [0.0_f32; 16];
            // SAFETY: `pos < 2^depth`, one of this tree's leaves; `values`
            // holds 16 floats.
            unsafe { _mm512_storeu_ps(values.as_mut_ptr(), _mm512_i32gather_ps::<4>(at, leaves)) };
            let valid = trees.saturating_sub(first + 16 * v).min(16);
            for value in &values[..valid] {
                *acc += value;
            }
        }
    }
}

/// Each lane's position one level down: `2p` when it goes left (x below
/// the threshold, or missing with the split's default left in bit 31 of
/// its feature word), `2p + 1` otherwise (NaN thresholds send all right).
#[target_feature(enable = "avx512f")]
fn next_position(pos: __m512i, feature: __m512i, threshold: __m512, x: __m512) -> __m512i {
    let less = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, threshold);
    let missing = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
    let default_left = _mm512_cmplt_epi32_mask(feature, _mm512_setzero_si512());
    let left = less | (missing & default_left);
    let twice = _mm512_add_epi32(pos, pos);
    _mm512_mask_add_epi32(twice, !left, twice, _mm512_set1_epi32(1))
}

/// The vector of `lane(0)`, ..., `lane(15)`.
#[target_feature(enable = "avx512f")]
fn lanes_of(lane: impl Fn(usize) -> i32) -> __m512i {
    let values: [i32; 16] = std::array::from_fn(lane);
    // SAFETY: `values` holds 16 i32s.
    unsafe { _mm512_loadu_si512(values.as_ptr() as *const _) }
}

#[target_feature(enable = "avx512f")]
unsafe fn walk<const V: usize>(
    forest: &CompleteForest,
    rows: &[f32],
    width: usize,
    acc: &mut [f32],
) {
    let n = acc.len();
    // Lanes past the last row repeat it (valid memory); their sums are
    // never stored.
    let offsets: [__m512i; V] =
        std::array::from_fn(|v| lanes_of(|k| ((16 * v + k).min(n - 1) * width) as i32));
    let mut sums: [__m512; V] = std::array::from_fn(|v| {
        let mut lanes = [0.0_f32; 16];
        let have = n.saturating_sub(16 * v).min(16);
        lanes[..have].copy_from_slice(&acc[16 * v..16 * v + have]);
        // SAFETY: `lanes` holds 16 floats.
        unsafe { _mm512_loadu_ps(lanes.as_ptr()) }
    });
    let feature_mask = _mm512_set1_epi32((1 << 28) - 1);
    let zero = _mm512_setzero_si512();
    let splits = (1usize << forest.depth) - 1;
    let leaves_per_tree = 1usize << forest.depth;
    let features = forest.features.as_ptr() as *const i32;
    let thresholds = forest.thresholds.as_ptr() as *const f32;
    let leaves = forest.leaves.as_ptr() as *const f32;
    let xs = rows.as_ptr();
    for t in 0..forest.trees {
        // Each lane's position within the current level: below 2^level.
        let mut pos = [zero; V];
        for level in 0..forest.depth {
            let start = t * splits + (1 << level) - 1;
            let (f, th): ([__m512i; V], [__m512; V]) = if level <= 4 {
                // SAFETY: 16 entries from `start`: the arrays extend 32
                // past the last tree's splits, and `start < (t+1) * splits`.
                let (fs, ts) = unsafe {
                    (
                        _mm512_loadu_si512(features.add(start) as *const _),
                        _mm512_loadu_ps(thresholds.add(start)),
                    )
                };
                (
                    std::array::from_fn(|v| _mm512_permutexvar_epi32(pos[v], fs)),
                    std::array::from_fn(|v| _mm512_permutexvar_ps(pos[v], ts)),
                )
            } else if level == 5 {
                // SAFETY: 32 entries from `start`, as above.
                let (f0, f1, t0, t1) = unsafe {
                    (
                        _mm512_loadu_si512(features.add(start) as *const _),
                        _mm512_loadu_si512(features.add(start + 16) as *const _),
                        _mm512_loadu_ps(thresholds.add(start)),
                        _mm512_loadu_ps(thresholds.add(start + 16)),
                    )
                };
                (
                    std::array::from_fn(|v| _mm512_permutex2var_epi32(f0, pos[v], f1)),
                    std::array::from_fn(|v| _mm512_permutex2var_ps(t0, pos[v], t1)),
                )
            } else {
                let at: [__m512i; V] = std::array::from_fn(|v| {
                    _mm512_add_epi32(_mm512_set1_epi32(start as i32), pos[v])
                });
                // SAFETY: `start + pos < start + 2^level <= (t+1) * splits`.
                unsafe {
                    (
                        std::array::from_fn(|v| _mm512_i32gather_epi32::<4>(at[v], features)),
                        std::array::from_fn(|v| _mm512_i32gather_ps::<4>(at[v], thresholds)),
                    )
                }
            };
            for v in 0..V {
                let column = _mm512_and_si512(f[v], feature_mask);
                // SAFETY: a row's offset plus a feature below `width`.
                let x =
                    unsafe { _mm512_i32gather_ps::<4>(_mm512_add_epi32(offsets[v], column), xs) };
                // Left when x < threshold, or x is missing and the split's
                // default is left (bit 31); NaN thresholds send all right.
                pos[v] = next_position(pos[v], f[v], th[v], x);
            }
        }
        let first_leaf = _mm512_set1_epi32((t * leaves_per_tree) as i32);
        for v in 0..V {
            // SAFETY: `pos < 2^depth`, one of this tree's leaves.
            let leaf =
                unsafe { _mm512_i32gather_ps::<4>(_mm512_add_epi32(first_leaf, pos[v]), leaves) };
            sums[v] = _mm512_add_ps(sums[v], leaf);
        }
    }
    for (v, sum) in sums.iter().enumerate() {
        let mut lanes = [0.0_f32; 16];
        // SAFETY: `lanes` holds 16 floats.
        unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), *sum) };
        let have = n.saturating_sub(16 * v).min(16);
        acc[16 * v..16 * v + have].copy_from_slice(&lanes[..have]);
    }
}
