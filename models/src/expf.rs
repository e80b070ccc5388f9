//! `expf` exactly as glibc computes it, so XGBoost's float32 sigmoid can be
//! reproduced bit for bit on every target (the `libm` crate's `expf` is a
//! different algorithm and differs from glibc's in the last bit now and then).
//!
//! glibc's `expf` is the Arm optimized-routines algorithm: a 32-entry table
//! of 2^(i/32) and a cubic polynomial, evaluated in double precision. On
//! x86-64 CPUs with FMA (every one since 2013) and on AArch64, glibc runs the
//! build whose polynomial uses fused multiply-adds; this port does the same,
//! so its result is the one XGBoost gets on those machines.
//!
//! The algorithm, its table (2^(i/32) as double bits) and its polynomial
//! coefficients are those of Arm's optimized-routines `expf` (MIT licensed,
//! Copyright (c) 2017-2018 Arm Limited), which glibc and musl ship; the
//! test below checks the port against glibc bit for bit.

/// `2^(i/32)` as double bits, less `i << 47`, for the table lookup.
const TABLE: [u64; 32] = [
    0x3ff0000000000000,
    0x3fefd9b0d3158574,
    0x3fefb5586cf9890f,
    0x3fef9301d0125b51,
    0x3fef72b83c7d517b,
    0x3fef54873168b9aa,
    0x3fef387a6e756238,
    0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715,
    0x3feef1a7373aa9cb,
    0x3feedea64c123422,
    0x3feece086061892d,
    0x3feebfdad5362a27,
    0x3feeb42b569d4f82,
    0x3feeab07dd485429,
    0x3feea47eb03a5585,
    0x3feea09e667f3bcd,
    0x3fee9f75e8ec5f74,
    0x3feea11473eb0187,
    0x3feea589994cce13,
    0x3feeace5422aa0db,
    0x3feeb737b0cdc5e5,
    0x3feec49182a3f090,
    0x3feed503b23e255d,
    0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47,
    0x3fef199bdd85529c,
    0x3fef3720dcef9069,
    0x3fef5818dcfba487,
    0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da,
    0x3fefd0765b6e4540,
];
const TABLE_BITS: u32 = 5;
const N: f64 = (1 << TABLE_BITS) as f64;
/// 32 / ln 2.
const INV_LN2_N: f64 = f64::from_bits(0x3ff71547652b82fe) * N;
/// 1.5 * 2^52: adding it rounds to an integer held in the low mantissa bits.
const SHIFT: f64 = f64::from_bits(0x4338000000000000);
/// The polynomial's coefficients, scaled by 1/N^3, 1/N^2 and 1/N.
const C0: f64 = f64::from_bits(0x3fac6af84b912394) / N / N / N;
const C1: f64 = f64::from_bits(0x3fcebfce50fac4f3) / N / N;
const C2: f64 = f64::from_bits(0x3fe62e42ff0c52d6) / N;

/// e^x in float32, with glibc's rounding.
pub(crate) fn expf(x: f32) -> f32 {
    let abstop = (x.to_bits() >> 20) & 0x7ff;
    if abstop >= (88.0_f32.to_bits() >> 20) {
        if x == f32::NEG_INFINITY {
            return 0.0;
        }
        if abstop >= (f32::INFINITY.to_bits() >> 20) {
            return x + x;
        }
        if x > f32::from_bits(0x42b17217) {
            return f32::INFINITY;
        }
        if x < f32::from_bits(0xc2cff1b4) {
            return 0.0;
        }
    }
    let xd = f64::from(x);
    let z = INV_LN2_N * xd;
    let kd = z + SHIFT;
    let ki = kd.to_bits();
    let kd = kd - SHIFT;
    let r = z - kd;
    let t = TABLE[(ki % 32) as usize].wrapping_add(ki << (52 - TABLE_BITS));
    let s = f64::from_bits(t);
    let z = C0.mul_add(r, C1);
    let r2 = r * r;
    let y = C2.mul_add(r, 1.0);
    let y = z.mul_add(r2, y);
    (y * s) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_values() {
        assert_eq!(expf(0.0), 1.0);
        assert_eq!(expf(f32::NEG_INFINITY), 0.0);
        assert_eq!(expf(f32::INFINITY), f32::INFINITY);
        assert!(expf(f32::NAN).is_nan());
        assert_eq!(expf(89.0), f32::INFINITY);
        assert_eq!(expf(-105.0), 0.0);
        assert!((expf(1.0) - std::f32::consts::E).abs() <= f32::EPSILON * 3.0);
    }

    /// On glibc with FMA, Rust's `f32::exp` *is* glibc's `expf`: compare every
    /// 97th float32 in the range where the sigmoid needs it.
    #[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
    #[test]
    fn matches_glibc_bit_for_bit() {
        if !std::arch::is_x86_feature_detected!("fma") {
            return;
        }
        let (lo, hi) = (-104.0_f32, 89.0_f32);
        let mut checked = 0u32;
        for bits in (0..u32::MAX).step_by(97) {
            let x = f32::from_bits(bits);
            if !(lo..=hi).contains(&x) {
                continue;
            }
            let glibc = std::hint::black_box(x).exp();
            assert_eq!(expf(x).to_bits(), glibc.to_bits(), "expf({x:e})");
            checked += 1;
        }
        assert!(checked > 10_000_000);
    }
}
