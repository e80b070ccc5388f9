//! The compact encoding of an imported ONNX program (family 4 of
//! `crate::encoding`). A decoded program passes the same checks as an
//! imported one ([`OnnxModel::new`], `Ensemble::new`), so corrupt bytes are
//! an error, never a panic.

use super::OnnxModel;
use super::ensemble::{Aggregate, Ensemble, Head, Mode, Node};
use super::program::{Binary, Elem, Instr, Norm, PostTransform, Slot, Unary};
use crate::encoding::{Reader, Writer, as_compact, corrupt};
use crate::model::Schema;
use crate::{ModelError, OutputKind};

const ELEMS: [Elem; 3] = [Elem::F32, Elem::F64, Elem::I64];
const NORMS: [Norm; 3] = [Norm::Max, Norm::L1, Norm::L2];
const POSTS: [PostTransform; 5] = [
    PostTransform::None,
    PostTransform::Logistic,
    PostTransform::Softmax,
    PostTransform::SoftmaxZero,
    PostTransform::Probit,
];
const UNARIES: [Unary; 7] = [
    Unary::Relu,
    Unary::Sigmoid,
    Unary::Tanh,
    Unary::Abs,
    Unary::Neg,
    Unary::Exp,
    Unary::Sqrt,
];
const BINARIES: [Binary; 4] = [Binary::Add, Binary::Sub, Binary::Mul, Binary::Div];
const AGGREGATES: [Aggregate; 4] = [
    Aggregate::Sum,
    Aggregate::Average,
    Aggregate::Min,
    Aggregate::Max,
];
const OUTPUTS: [OutputKind; 3] = [
    OutputKind::Probability,
    OutputKind::Margin,
    OutputKind::Regression,
];

fn index<T: PartialEq>(all: &[T], v: &T) -> u8 {
    all.iter().position(|x| x == v).unwrap_or_default() as u8
}

fn pick<T: Copy>(all: &[T], r: &mut Reader<'_>, what: &str) -> Result<T, ModelError> {
    let i = r.u8()?;
    all.get(i as usize)
        .copied()
        .ok_or_else(|| corrupt(&format!("unknown {what} {i}")))
}

pub(crate) fn write(w: &mut Writer, m: &OnnxModel) {
    u32s(w, &m.inputs);
    w.u32(m.slots.len() as u32);
    for s in &m.slots {
        w.u32(s.width);
        w.u8(index(&ELEMS, &s.elem));
    }
    w.u32(m.program.len() as u32);
    for instr in &m.program {
        write_instr(w, instr);
    }
    w.u32(m.score);
    w.u32(m.column);
    w.u8(index(&OUTPUTS, &m.output));
}

pub(crate) fn read(r: &mut Reader<'_>, schema: Schema) -> Result<OnnxModel, ModelError> {
    let inputs = read_u32s(r)?;
    let slots = r.list(5, |r| {
        Ok(Slot {
            width: r.u32()?,
            elem: pick(&ELEMS, r, "element type")?,
        })
    })?;
    let program = r.list(1, |r| read_instr(r, &slots))?;
    let score = r.u32()?;
    let column = r.u32()?;
    let output = pick(&OUTPUTS, r, "output kind")?;
    OnnxModel::new(schema, inputs, slots, program, score, column, output).map_err(as_compact)
}

fn u32s(w: &mut Writer, v: &[u32]) {
    w.u32(v.len() as u32);
    v.iter().for_each(|&x| w.u32(x));
}

fn read_u32s(r: &mut Reader<'_>) -> Result<Vec<u32>, ModelError> {
    r.list(4, Reader::u32)
}

fn write_instr(w: &mut Writer, instr: &Instr) {
    match instr {
        Instr::Scaler {
            x,
            y,
            offset,
            scale,
        } => {
            w.u8(0);
            xy(w, *x, *y);
            w.f64s(offset);
            w.f64s(scale);
        }
        Instr::Normalizer { x, y, norm } => {
            w.u8(1);
            xy(w, *x, *y);
            w.u8(index(&NORMS, norm));
        }
        Instr::Imputer {
            x,
            y,
            values,
            replaced,
        } => {
            w.u8(2);
            xy(w, *x, *y);
            w.f64s(values);
            w.u8(replaced.is_some().into());
            w.f64(replaced.unwrap_or(f64::NAN));
        }
        Instr::Binarizer { x, y, threshold } => {
            w.u8(3);
            xy(w, *x, *y);
            w.f64(*threshold);
        }
        Instr::Cast { x, y } => {
            w.u8(4);
            xy(w, *x, *y);
        }
        Instr::Concat { xs, y } => {
            w.u8(5);
            u32s(w, xs);
            w.u32(*y);
        }
        Instr::Columns { x, y, columns } => {
            w.u8(6);
            xy(w, *x, *y);
            u32s(w, columns);
        }
        Instr::OneHot {
            x,
            y,
            categories,
            refuse_unknown,
        } => {
            w.u8(7);
            xy(w, *x, *y);
            w.f64s(categories);
            w.u8((*refuse_unknown).into());
        }
        Instr::Linear {
            x,
            y,
            coefficients,
            intercepts,
            post,
            binary,
        } => {
            w.u8(8);
            xy(w, *x, *y);
            w.f64s(coefficients);
            w.f64s(intercepts);
            w.u8(index(&POSTS, post));
            w.u8((*binary).into());
        }
        Instr::Dense {
            x,
            y,
            weights,
            bias,
        } => {
            w.u8(9);
            xy(w, *x, *y);
            w.f64s(weights);
            w.f64s(bias);
        }
        Instr::Unary { x, y, op } => {
            w.u8(10);
            xy(w, *x, *y);
            w.u8(index(&UNARIES, op));
        }
        Instr::Binary {
            a,
            b,
            constant,
            y,
            op,
        } => {
            w.u8(11);
            xy(w, *a, *y);
            w.u8(b.is_some().into());
            w.u32(b.unwrap_or_default());
            w.f64s(constant);
            w.u8(index(&BINARIES, op));
        }
        Instr::LeakyRelu { x, y, alpha } => {
            w.u8(14);
            xy(w, *x, *y);
            w.f64(*alpha);
        }
        Instr::Softmax { x, y } => {
            w.u8(12);
            xy(w, *x, *y);
        }
        Instr::Ensemble(e) => {
            w.u8(13);
            write_ensemble(w, e);
        }
    }
}

fn xy(w: &mut Writer, x: u32, y: u32) {
    w.u32(x);
    w.u32(y);
}

fn read_instr(r: &mut Reader<'_>, slots: &[Slot]) -> Result<Instr, ModelError> {
    let tag = r.u8()?;
    // Concat (5) and Ensemble (13) lay out their slots themselves.
    let (x, y) = if tag == 5 || tag == 13 {
        (0, 0)
    } else {
        (r.u32()?, r.u32()?)
    };
    Ok(match tag {
        0 => Instr::Scaler {
            x,
            y,
            offset: r.f64s()?,
            scale: r.f64s()?,
        },
        1 => Instr::Normalizer {
            x,
            y,
            norm: pick(&NORMS, r, "norm")?,
        },
        2 => Instr::Imputer {
            x,
            y,
            values: r.f64s()?,
            replaced: {
                let present = r.bool()?;
                let value = r.f64()?;
                present.then_some(value)
            },
        },
        3 => Instr::Binarizer {
            x,
            y,
            threshold: r.f64()?,
        },
        4 => Instr::Cast { x, y },
        5 => Instr::Concat {
            xs: read_u32s(r)?,
            y: r.u32()?,
        },
        6 => Instr::Columns {
            x,
            y,
            columns: read_u32s(r)?,
        },
        7 => Instr::OneHot {
            x,
            y,
            categories: r.f64s()?,
            refuse_unknown: r.bool()?,
        },
        8 => Instr::Linear {
            x,
            y,
            coefficients: r.f64s()?,
            intercepts: r.f64s()?,
            post: pick(&POSTS, r, "post-transform")?,
            binary: r.bool()?,
        },
        9 => Instr::Dense {
            x,
            y,
            weights: r.f64s()?,
            bias: r.f64s()?,
        },
        10 => Instr::Unary {
            x,
            y,
            op: pick(&UNARIES, r, "function")?,
        },
        11 => {
            let has_b = r.bool()?;
            let b = r.u32()?;
            Instr::Binary {
                a: x,
                b: has_b.then_some(b),
                constant: r.f64s()?,
                y,
                op: pick(&BINARIES, r, "operation")?,
            }
        }
        12 => Instr::Softmax { x, y },
        13 => Instr::Ensemble(Box::new(read_ensemble(r, slots)?)),
        14 => Instr::LeakyRelu {
            x,
            y,
            alpha: r.f64()?,
        },
        other => return Err(corrupt(&format!("unknown instruction {other}"))),
    })
}

fn write_ensemble(w: &mut Writer, e: &Ensemble) {
    xy(w, e.x, e.y);
    w.u8(index(&AGGREGATES, &e.aggregate));
    w.u8(index(&POSTS, &e.post));
    match e.head {
        Head::Regressor => w.u8(0),
        Head::Binary { all_positive } => w.u8(1 + u8::from(all_positive)),
        Head::RegressorDouble => w.u8(3),
    }
    w.u8(e.double.into());
    w.f64s(&e.base_values);
    w.u32(e.trees.len() as u32);
    for tree in &e.trees {
        w.u32(tree.len() as u32);
        for node in tree {
            match node {
                Node::Split {
                    mode,
                    feature,
                    threshold,
                    missing_tracks_true,
                    when_true,
                    when_false,
                } => {
                    w.u8(1 + *mode as u8);
                    w.u32(*feature);
                    w.f64(*threshold);
                    w.u8((*missing_tracks_true).into());
                    w.u32(*when_true);
                    w.u32(*when_false);
                }
                Node::Leaf { weights } => {
                    w.u8(0);
                    w.f64s(weights);
                }
            }
        }
    }
}

fn read_ensemble(r: &mut Reader<'_>, slots: &[Slot]) -> Result<Ensemble, ModelError> {
    let (x, y) = (r.u32()?, r.u32()?);
    let aggregate = pick(&AGGREGATES, r, "aggregate")?;
    let post = pick(&POSTS, r, "post-transform")?;
    let head = match r.u8()? {
        0 => Head::Regressor,
        h @ (1 | 2) => Head::Binary {
            all_positive: h == 2,
        },
        3 => Head::RegressorDouble,
        other => return Err(corrupt(&format!("unknown ensemble head {other}"))),
    };
    let double = r.bool()?;
    let base_values = r.f64s()?;
    let trees = r.list(4, |r| {
        r.list(1, |r| {
            Ok(match r.u8()? {
                0 => Node::Leaf { weights: r.f64s()? },
                m @ 1..=6 => Node::Split {
                    mode: Mode::ALL[(m - 1) as usize],
                    feature: r.u32()?,
                    threshold: r.f64()?,
                    missing_tracks_true: r.bool()?,
                    when_true: r.u32()?,
                    when_false: r.u32()?,
                },
                other => return Err(corrupt(&format!("unknown node tag {other}"))),
            })
        })
    })?;
    let features = slots
        .get(x as usize)
        .map(|s| s.width as usize)
        .ok_or_else(|| corrupt("an ensemble reads a slot that does not exist"))?;
    Ensemble::new(
        x,
        y,
        trees,
        aggregate,
        base_values,
        post,
        head,
        double,
        features,
    )
    .map_err(|e| corrupt(&format!("an ensemble: {e}")))
}
