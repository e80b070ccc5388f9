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
    if !(16..=64).contains(&n) || width == 0 || rows.len() != n * width || !available() {
        return false;
    }
    if n.checked_mul(width).is_none_or(|v| v > i32::MAX as usize) {
        return false;
    }
    // SAFETY: AVX-512 F is present (checked above). The forest's features
    // are below `width` (the model checks every split's feature against its
    // width before building the layout), so every feature gather stays in
    // `rows`; the other indices are bounded as noted in `walk`.
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
    let offsets: [__m512i; V] = std::array::from_fn(|v| {
        let row = |k: usize| ((16 * v + k).min(n - 1) * width) as i32;
        _mm512_setr_epi32(
            row(0),
            row(1),
            row(2),
            row(3),
            row(4),
            row(5),
            row(6),
            row(7),
            row(8),
            row(9),
            row(10),
            row(11),
            row(12),
            row(13),
            row(14),
            row(15),
        )
    });
    let mut sums: [__m512; V] = std::array::from_fn(|v| {
        let mut lanes = [0.0_f32; 16];
        let have = n.saturating_sub(16 * v).min(16);
        lanes[..have].copy_from_slice(&acc[16 * v..16 * v + have]);
        // SAFETY: `lanes` holds 16 floats.
        unsafe { _mm512_loadu_ps(lanes.as_ptr()) }
    });
    let feature_mask = _mm512_set1_epi32((1 << 28) - 1);
    let one = _mm512_set1_epi32(1);
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
                let at: [__m512i; V] =
                    std::array::from_fn(|v| _mm512_add_epi32(_mm512_set1_epi32(start as i32), pos[v]));
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
                let x = unsafe {
                    _mm512_i32gather_ps::<4>(_mm512_add_epi32(offsets[v], column), xs)
                };
                // Left when x < threshold, or x is missing and the split's
                // default is left (bit 31); NaN thresholds send all right.
                let less = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, th[v]);
                let missing = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
                let default_left = _mm512_cmplt_epi32_mask(f[v], zero);
                let left = less | (missing & default_left);
                let twice = _mm512_add_epi32(pos[v], pos[v]);
                pos[v] = _mm512_mask_add_epi32(twice, !left, twice, one);
            }
        }
        let first_leaf = _mm512_set1_epi32((t * leaves_per_tree) as i32);
        for v in 0..V {
            // SAFETY: `pos < 2^depth`, one of this tree's leaves.
            let leaf = unsafe { _mm512_i32gather_ps::<4>(_mm512_add_epi32(first_leaf, pos[v]), leaves) };
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
