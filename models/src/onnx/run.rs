//! Running instructions over a block of rows, and checking, before any run,
//! that every instruction fits the slots it reads and writes (so a decoded
//! compact model cannot index out of bounds).

use super::post;
use super::program::{Binary, Elem, Instr, Norm, PostTransform, Slot, SlotId, Unary};

/// The values of every slot for a block of rows: `n` rows of each slot's width.
pub(crate) struct Buffers {
    pub(crate) n: usize,
    pub(crate) values: Vec<Vec<f64>>,
    /// The first row of the block an instruction refused, and why (as
    /// onnxruntime refuses the whole run).
    pub(crate) refused: Option<(usize, &'static str)>,
}

impl Instr {
    /// Checks shapes against `slots` and that inputs were written before
    /// (`written[s]`); marks the output written.
    pub(crate) fn check(&self, slots: &[Slot], written: &mut [bool]) -> Result<(), String> {
        let slot = |s: SlotId| -> Result<Slot, String> {
            slots
                .get(s as usize)
                .copied()
                .ok_or_else(|| format!("slot {s} does not exist"))
        };
        for x in self.inputs() {
            slot(x)?;
            if !written[x as usize] {
                return Err(format!("slot {x} is read before it is written"));
            }
        }
        let y = self.output();
        let out = slot(y)?;
        if std::mem::replace(&mut written[y as usize], true) {
            return Err(format!("slot {y} is written twice"));
        }
        let width = |s: SlotId| slots[s as usize].width as usize;
        let (yw, ok) = match self {
            Instr::Scaler {
                x, offset, scale, ..
            } => {
                let w = width(*x);
                (
                    w,
                    [offset.len(), scale.len()]
                        .iter()
                        .all(|&l| l == 1 || l == w),
                )
            }
            Instr::Normalizer { x, .. } | Instr::Binarizer { x, .. } | Instr::Cast { x, .. } => {
                (width(*x), true)
            }
            Instr::Unary { x, .. } | Instr::Softmax { x, .. } | Instr::LeakyRelu { x, .. } => {
                (width(*x), true)
            }
            Instr::Imputer { x, values, .. } => {
                (width(*x), values.len() == 1 || values.len() == width(*x))
            }
            Instr::Concat { xs, .. } => (xs.iter().map(|&x| width(x)).sum(), !xs.is_empty()),
            Instr::Columns { x, columns, .. } => (
                columns.len(),
                columns.iter().all(|&c| (c as usize) < width(*x)),
            ),
            Instr::OneHot { x, categories, .. } => (categories.len(), width(*x) == 1),
            Instr::Linear {
                x,
                coefficients,
                intercepts,
                binary,
                post,
                ..
            } => {
                let targets = intercepts.len();
                let ok = targets > 0
                    && coefficients.len() == targets * width(*x)
                    && (!binary || (targets == 1 && *post != PostTransform::Probit));
                (if *binary { 2 } else { targets }, ok)
            }
            Instr::Dense {
                x, weights, bias, ..
            } => {
                let outputs = if width(*x) == 0 {
                    0
                } else {
                    weights.len() / width(*x)
                };
                let ok = outputs > 0
                    && weights.len() == outputs * width(*x)
                    && (bias.is_empty() || bias.len() == outputs);
                (outputs, ok)
            }
            Instr::Binary { a, b, constant, .. } => {
                let w = width(*a);
                let ok = match b {
                    Some(b) => constant.is_empty() && (width(*b) == w || width(*b) == 1),
                    None => constant.len() == 1 || constant.len() == w,
                };
                (w, ok)
            }
            Instr::Ensemble(e) => {
                let ok = e.max_feature() < width(e.x);
                (e.columns(), ok)
            }
        };
        if !ok || yw != out.width as usize {
            return Err(format!(
                "an instruction writing slot {y} does not fit its slots"
            ));
        }
        Ok(())
    }

    /// Runs over the block.
    pub(crate) fn run(&self, slots: &[Slot], b: &mut Buffers) {
        let n = b.n;
        let y = self.output() as usize;
        let elem = slots[y].elem;
        let yw = slots[y].width as usize;
        let mut out = std::mem::take(&mut b.values[y]);
        out.clear();
        out.resize(n * yw, 0.0);
        let get = |s: &SlotId| (&b.values[*s as usize], slots[*s as usize].width as usize);
        let mut refused = None;
        match self {
            Instr::Scaler {
                x, offset, scale, ..
            } => {
                let (xs, w) = get(x);
                let pick = |v: &[f64], j: usize| if v.len() == 1 { v[0] } else { v[j] };
                for (i, o) in out.iter_mut().enumerate() {
                    let j = i % w;
                    *o = elem.round(elem.round(xs[i] - pick(offset, j)) * pick(scale, j));
                }
            }
            Instr::Normalizer { x, norm, .. } => {
                let (xs, w) = get(x);
                for (row, o) in xs.chunks(w).zip(out.chunks_mut(w)) {
                    // onnxruntime's normalizer.cc: MAX skips a NaN unless it
                    // comes first; a divisor of 0 leaves the row as it is.
                    let d = match norm {
                        Norm::Max => row
                            .iter()
                            .skip(1)
                            .fold(row[0].max(f64::MIN), |m, &v| if v > m { v } else { m }),
                        Norm::L1 => row.iter().fold(0.0, |s, v| elem.round(s + v.abs())),
                        Norm::L2 => row
                            .iter()
                            .fold(0.0, |s, v| elem.round(s + elem.round(v * v))),
                    };
                    for (v, o) in row.iter().zip(o.iter_mut()) {
                        *o = match norm {
                            _ if d == 0.0 => *v,
                            // sqrt(x^2 / sum) with the sign of x.
                            Norm::L2 => elem
                                .round(elem.round(elem.round(v * v) / d).sqrt())
                                .copysign(*v),
                            _ => elem.round(v / d),
                        };
                    }
                }
            }
            Instr::Imputer {
                x,
                values,
                replaced,
                ..
            } => {
                let (xs, w) = get(x);
                for (i, o) in out.iter_mut().enumerate() {
                    let v = xs[i];
                    let hit = match replaced {
                        None => v.is_nan(),
                        Some(r) => v == *r,
                    };
                    *o = if hit {
                        if values.len() == 1 {
                            values[0]
                        } else {
                            values[i % w]
                        }
                    } else {
                        v
                    };
                }
            }
            Instr::Binarizer { x, threshold, .. } => {
                let (xs, w) = get(x);
                for (i, (o, v)) in out.iter_mut().zip(xs).enumerate() {
                    if v.is_nan() && refused.is_none() {
                        refused = Some((
                            i / w,
                            "a missing value reaches a Binarizer, which onnxruntime refuses (impute it before the Binarizer)",
                        ));
                    }
                    *o = if *v > *threshold { 1.0 } else { 0.0 };
                }
            }
            Instr::Cast { x, .. } => {
                let (xs, _) = get(x);
                for (o, v) in out.iter_mut().zip(xs) {
                    *o = elem.round(*v);
                }
            }
            Instr::Concat { xs, .. } => {
                let mut at = 0;
                for x in xs {
                    let (v, w) = get(x);
                    for (row, o) in v.chunks(w).zip(out.chunks_mut(yw)) {
                        o[at..at + w].copy_from_slice(row);
                    }
                    at += w;
                }
            }
            Instr::Columns { x, columns, .. } => {
                let (xs, w) = get(x);
                for (row, o) in xs.chunks(w).zip(out.chunks_mut(yw)) {
                    for (o, &c) in o.iter_mut().zip(columns) {
                        *o = row[c as usize];
                    }
                }
            }
            Instr::OneHot {
                x,
                categories,
                refuse_unknown,
                ..
            } => {
                let (xs, _) = get(x);
                for (r, (v, o)) in xs.iter().zip(out.chunks_mut(yw)).enumerate() {
                    let mut known = false;
                    for (o, c) in o.iter_mut().zip(categories) {
                        let hit = v.trunc() == *c;
                        known |= hit;
                        *o = if hit { 1.0 } else { 0.0 };
                    }
                    if !known && *refuse_unknown && refused.is_none() {
                        refused = Some((
                            r,
                            "a value in none of the OneHotEncoder's categories (it was converted with handle_unknown='error'; use handle_unknown='ignore' to score such rows as all zeros)",
                        ));
                    }
                }
            }
            Instr::Linear {
                x,
                coefficients,
                intercepts,
                post,
                binary,
                ..
            } => {
                let (xs, w) = get(x);
                let targets = intercepts.len();
                let mut scores = vec![0.0_f32; targets];
                for (row, o) in xs.chunks(w).zip(out.chunks_mut(yw)) {
                    for (t, s) in scores.iter_mut().enumerate() {
                        let dot = dot32(row, &coefficients[t * w..(t + 1) * w]);
                        *s = dot + intercepts[t] as f32;
                    }
                    if *binary {
                        // One score, two classes: [1 - p, p] with p the
                        // score, or its logistic under LOGISTIC (onnxruntime 1.32).
                        let p = if *post == PostTransform::Logistic {
                            post::logistic(scores[0])
                        } else {
                            scores[0]
                        };
                        o[0] = f64::from(1.0 - p);
                        o[1] = f64::from(p);
                    } else {
                        post::apply(*post, &mut scores);
                        for (o, s) in o.iter_mut().zip(&scores) {
                            *o = f64::from(*s);
                        }
                    }
                }
            }
            Instr::Dense {
                x, weights, bias, ..
            } => {
                let (xs, w) = get(x);
                if elem == Elem::F32 {
                    dense32(xs, w, weights, bias, yw, &mut out);
                } else {
                    // Each output sums its products in input order.
                    for (row, o) in xs.chunks(w).zip(out.chunks_mut(yw)) {
                        for (i, v) in row.iter().enumerate() {
                            for (o, wk) in o.iter_mut().zip(&weights[i * yw..(i + 1) * yw]) {
                                *o += v * wk;
                            }
                        }
                        for (o, b) in o.iter_mut().zip(bias) {
                            *o += b;
                        }
                    }
                }
            }
            Instr::Unary { x, op, .. } => {
                let (xs, _) = get(x);
                for (o, &v) in out.iter_mut().zip(xs) {
                    *o = match op {
                        // NaN passes through, as onnxruntime's Relu lets it.
                        Unary::Relu if v.is_nan() => v,
                        Unary::Relu => v.max(0.0),
                        Unary::Abs => v.abs(),
                        Unary::Neg => -v,
                        Unary::Sigmoid if elem == Elem::F32 => f64::from(post::logistic(v as f32)),
                        Unary::Sigmoid => 1.0 / (1.0 + libm::exp(-v)),
                        Unary::Tanh => elem.round(libm::tanh(v)),
                        Unary::Exp => elem.round(libm::exp(v)),
                        Unary::Sqrt => elem.round(v.sqrt()),
                    };
                }
            }
            Instr::LeakyRelu { x, alpha, .. } => {
                let (xs, _) = get(x);
                for (o, &v) in out.iter_mut().zip(xs) {
                    // NaN fails `v >= 0` and stays NaN through the product.
                    *o = if v >= 0.0 { v } else { elem.round(alpha * v) };
                }
            }
            Instr::Binary {
                a,
                b: other,
                constant,
                op,
                ..
            } => {
                let (xs, w) = get(a);
                let second = other.as_ref().map(get);
                for (i, o) in out.iter_mut().enumerate() {
                    let rhs = match &second {
                        Some((v, 1)) => v[i / w],
                        Some((v, _)) => v[i],
                        None if constant.len() == 1 => constant[0],
                        None => constant[i % w],
                    };
                    let v = xs[i];
                    *o = elem.round(match op {
                        Binary::Add => v + rhs,
                        Binary::Sub => v - rhs,
                        Binary::Mul => v * rhs,
                        Binary::Div => v / rhs,
                    });
                }
            }
            Instr::Softmax { x, .. } => {
                let (xs, w) = get(x);
                for (row, o) in xs.chunks(w).zip(out.chunks_mut(w)) {
                    let mut scores: Vec<f32> = row.iter().map(|&v| v as f32).collect();
                    post::apply(PostTransform::Softmax, &mut scores);
                    for (o, s) in o.iter_mut().zip(&scores) {
                        *o = elem.round(f64::from(*s));
                    }
                }
            }
            Instr::Ensemble(e) => {
                let (xs, w) = get(&e.x);
                e.run(xs, w, n, &mut out);
            }
        }
        b.values[y] = out;
        if b.refused.is_none() {
            b.refused = refused;
        }
    }
}

/// `x . W + b` in float32 as onnxruntime's MLAS kernels compute it: each
/// output a sequential fused multiply-add of its products in input order
/// from 0, then the bias added (laid out so the outputs of one input are
/// adjacent). With the CPU's FMA instruction where it has one, else
/// [`fma32`]: the same bits either way.
fn dense32(xs: &[f64], w: usize, weights: &[f64], bias: &[f64], yw: usize, out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if dense32_x86_fma(xs, w, weights, bias, yw, out) {
        return;
    }
    dense32_with(fma32, xs, w, weights, bias, yw, out);
}

/// [`dense32_with`] on the FMA instruction, when the CPU has it (false if not).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn dense32_x86_fma(
    xs: &[f64],
    w: usize,
    weights: &[f64],
    bias: &[f64],
    yw: usize,
    out: &mut [f64],
) -> bool {
    #[target_feature(enable = "fma")]
    fn with_fma(xs: &[f64], w: usize, weights: &[f64], bias: &[f64], yw: usize, out: &mut [f64]) {
        dense32_with(f32::mul_add, xs, w, weights, bias, yw, out);
    }
    if !std::arch::is_x86_feature_detected!("fma") {
        return false;
    }
    // SAFETY: `with_fma` requires the FMA instruction set, which this CPU
    // has (checked just above); it has no other requirement.
    unsafe { with_fma(xs, w, weights, bias, yw, out) };
    true
}

#[inline(always)]
fn dense32_with(
    fma: impl Fn(f32, f32, f32) -> f32,
    xs: &[f64],
    w: usize,
    weights: &[f64],
    bias: &[f64],
    yw: usize,
    out: &mut [f64],
) {
    let mut acc = vec![0.0_f32; yw];
    for (row, o) in xs.chunks(w).zip(out.chunks_mut(yw)) {
        acc.fill(0.0);
        for (i, &v) in row.iter().enumerate() {
            let v = v as f32;
            // Each weight as the float32 the layer multiplies by.
            for (a, &wk) in acc.iter_mut().zip(&weights[i * yw..(i + 1) * yw]) {
                *a = fma(v, wk as f32, *a);
            }
        }
        for (k, (o, a)) in o.iter_mut().zip(&acc).enumerate() {
            *o = f64::from(if bias.is_empty() {
                *a
            } else {
                *a + bias[k] as f32
            });
        }
    }
}

/// A float32 dot product as MLAS computes one for more than one row: a
/// sequential fused multiply-add from 0.
fn dot32(row: &[f64], coefficients: &[f64]) -> f32 {
    row.iter()
        .zip(coefficients)
        .fold(0.0_f32, |acc, (&v, &c)| fma32(v as f32, c as f32, acc))
}

/// `fmaf(a, b, c)`, correctly rounded, without a fused instruction (a
/// WebAssembly guest has none, and a libm call there is slow): the product
/// is exact in float64, the sum is rounded to odd in float64 (Boldo and
/// Melquiond), and rounding that to float32 is then correct.
pub(crate) fn fma32(a: f32, b: f32, c: f32) -> f32 {
    let p = f64::from(a) * f64::from(b);
    let c = f64::from(c);
    let s = p + c;
    // TwoSum: the exact error of that sum.
    let virtual_c = s - p;
    let err = (p - (s - virtual_c)) + (c - virtual_c);
    if err != 0.0 && s.is_finite() && s.to_bits() & 1 == 0 {
        // Round to odd: one ulp toward the exact sum.
        let bits = s.to_bits();
        let odd = if (err > 0.0) == (s > 0.0) {
            bits + 1
        } else {
            bits - 1
        };
        return f64::from_bits(odd) as f32;
    }
    s as f32
}

#[cfg(test)]
mod tests {
    use super::fma32;

    #[test]
    fn fma32_is_the_correctly_rounded_fused_multiply_add() {
        // SplitMix64 over all exponent ranges, and the hard cases: products
        // that nearly cancel the addend, and sums on float32 midpoints.
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        for i in 0..2_000_000 {
            let r = next();
            let a = f32::from_bits(r as u32 & 0x3FFF_FFFF | ((r >> 62) as u32) << 31);
            let b = f32::from_bits((r >> 32) as u32 & 0x3FFF_FFFF);
            let c = match i % 3 {
                0 => -(a * b),
                1 => f32::from_bits(next() as u32 & 0x3FFF_FFFF),
                _ => -(a * b) * (1.0 + f32::EPSILON * (next() % 8) as f32),
            };
            let (want, got) = (a.mul_add(b, c), fma32(a, b, c));
            assert!(
                want.to_bits() == got.to_bits() || (want.is_nan() && got.is_nan()),
                "fma({a:e}, {b:e}, {c:e}): {got:e}, want {want:e}"
            );
        }
    }
}
