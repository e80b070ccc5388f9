//! Running instructions over a block of rows, and checking, before any run,
//! that every instruction fits the slots it reads and writes (so a decoded
//! compact model cannot index out of bounds).

use super::post;
use super::program::{Binary, Elem, Instr, Norm, PostTransform, Slot, SlotId, Unary};

/// The values of every slot for a block of rows: `n` rows of each slot's width.
pub(crate) struct Buffers {
    pub(crate) n: usize,
    pub(crate) values: Vec<Vec<f64>>,
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
            Instr::Unary { x, .. } | Instr::Softmax { x, .. } => (width(*x), true),
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
                let (xs, _) = get(x);
                for (o, v) in out.iter_mut().zip(xs) {
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
            Instr::OneHot { x, categories, .. } => {
                let (xs, _) = get(x);
                for (v, o) in xs.iter().zip(out.chunks_mut(yw)) {
                    for (o, c) in o.iter_mut().zip(categories) {
                        *o = if v.trunc() == *c { 1.0 } else { 0.0 };
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
    }
}

/// `x . W + b` in float32, each output summing its products in input
/// order (as one dot product at a time would; laid out so the outputs of
/// one input are adjacent).
fn dense32(xs: &[f64], w: usize, weights: &[f64], bias: &[f64], yw: usize, out: &mut [f64]) {
    let weights: Vec<f32> = weights.iter().map(|&v| v as f32).collect();
    let mut acc = vec![0.0_f32; yw];
    for (row, o) in xs.chunks(w).zip(out.chunks_mut(yw)) {
        acc.fill(0.0);
        for (i, &v) in row.iter().enumerate() {
            let v = v as f32;
            for (a, &wk) in acc.iter_mut().zip(&weights[i * yw..(i + 1) * yw]) {
                *a += v * wk;
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

/// A float32 dot product, in order, each product and sum rounded.
fn dot32(row: &[f64], coefficients: &[f64]) -> f32 {
    row.iter()
        .zip(coefficients)
        .fold(0.0_f32, |acc, (&v, &c)| acc + (v as f32) * (c as f32))
}
