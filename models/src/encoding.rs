//! edgescore's compact binary encoding of a parsed model.
//!
//! Components embed this rather than the original file: it is several times
//! smaller than XGBoost JSON, needs no JSON parser in the guest, and decodes
//! into exactly the model that was encoded (floats are stored as their bits).
//!
//! Layout, little-endian throughout:
//! ```text
//! magic "\xE5ESM" | version u16 = 2 | family u8 (1 XGBoost, 2 LightGBM, 3 linear, 4 ONNX)
//! schema: has_names u8 | features u32 | kinds [u8] | names [len u32, utf-8]
//! family payload (see `write_*` below)
//! ```
//! A decoded model passes the same validation as a parsed file, so a
//! corrupted or hostile encoding is an error, never a panic or a bad walk.

use crate::category_set::CategorySet;
use crate::lightgbm::{self, LightGbmModel};
use crate::linear::{LinearKind, LinearModel};
use crate::model::{Evaluator, Schema};
use crate::xgboost::{self, XGBoostModel};
use crate::{FeatureKind, Format, ModelError};

/// The first bytes of every compact model.
pub(crate) const MAGIC: &[u8] = b"\xE5ESM";
const VERSION: u16 = 2;

pub(crate) fn encode(model: &Evaluator) -> Vec<u8> {
    let mut w = Writer(Vec::new());
    w.0.extend_from_slice(MAGIC);
    w.u16(VERSION);
    match model {
        Evaluator::XGBoost(m) => {
            w.u8(1);
            w.schema(&m.schema);
            write_xgboost(&mut w, m);
        }
        Evaluator::LightGbm(m) => {
            w.u8(2);
            w.schema(&m.schema);
            write_lightgbm(&mut w, m);
        }
        Evaluator::Linear(m) => {
            w.u8(3);
            w.schema(&m.schema);
            write_linear(&mut w, m);
        }
        Evaluator::Onnx(m) => {
            w.u8(4);
            w.schema(&m.schema);
            crate::onnx::codec::write(&mut w, m);
        }
    }
    w.0
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Evaluator, ModelError> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| corrupt("the compact model magic is missing"))?;
    let mut r = Reader {
        bytes: rest,
        at: MAGIC.len(),
    };
    let version = r.u16()?;
    if version != VERSION {
        return Err(ModelError::unsupported(
            Format::Compact,
            format!("encoding version {version} (this edgescore reads version {VERSION})"),
        ));
    }
    let family = r.u8()?;
    let schema = r.schema()?;
    let model = match family {
        1 => Evaluator::XGBoost(read_xgboost(&mut r, schema)?),
        2 => Evaluator::LightGbm(read_lightgbm(&mut r, schema)?),
        3 => Evaluator::Linear(read_linear(&mut r, schema)?),
        4 => Evaluator::Onnx(crate::onnx::codec::read(&mut r, schema)?),
        other => return Err(corrupt(&format!("unknown model family {other}"))),
    };
    if !r.bytes.is_empty() {
        return Err(corrupt(&format!(
            "{} unexpected bytes after the model",
            r.bytes.len()
        )));
    }
    Ok(model)
}

fn write_xgboost(w: &mut Writer, m: &XGBoostModel) {
    let objective = xgboost::Objective::ALL
        .iter()
        .position(|o| *o == m.objective)
        .unwrap_or_default();
    w.u8(objective as u8);
    w.f32(m.base_score);
    w.u32(m.trees.len() as u32);
    for tree in &m.trees {
        w.category_sets(&tree.category_sets);
        w.u32(tree.nodes.len() as u32);
        for node in &tree.nodes {
            match *node {
                xgboost::Node::Leaf { value } => {
                    w.u8(0);
                    w.f32(value);
                }
                xgboost::Node::Numeric {
                    feature,
                    threshold,
                    left,
                    right,
                    default_left,
                } => {
                    w.u8(1);
                    w.u32(feature);
                    w.f32(threshold);
                    w.u32(left);
                    w.u32(right);
                    w.u8(default_left.into());
                }
                xgboost::Node::Categorical {
                    feature,
                    set,
                    left,
                    right,
                    default_left,
                } => {
                    w.u8(2);
                    w.u32(feature);
                    w.u32(set);
                    w.u32(left);
                    w.u32(right);
                    w.u8(default_left.into());
                }
            }
        }
        w.u32(tree.covers.len() as u32);
        for &cover in &tree.covers {
            w.f32(cover);
        }
    }
}

fn read_xgboost(r: &mut Reader<'_>, schema: Schema) -> Result<XGBoostModel, ModelError> {
    let objective = *xgboost::Objective::ALL
        .get(r.u8()? as usize)
        .ok_or_else(|| corrupt("unknown XGBoost objective"))?;
    let base_score = r.f32()?;
    let trees = r.list(1, |r| {
        let category_sets = r.category_sets()?;
        let nodes = r.list(5, |r| {
            Ok(match r.u8()? {
                0 => xgboost::Node::Leaf { value: r.f32()? },
                1 => xgboost::Node::Numeric {
                    feature: r.u32()?,
                    threshold: r.f32()?,
                    left: r.u32()?,
                    right: r.u32()?,
                    default_left: r.bool()?,
                },
                2 => xgboost::Node::Categorical {
                    feature: r.u32()?,
                    set: r.u32()?,
                    left: r.u32()?,
                    right: r.u32()?,
                    default_left: r.bool()?,
                },
                other => return Err(corrupt(&format!("unknown XGBoost node tag {other}"))),
            })
        })?;
        let covers = r.list(4, |r| r.f32())?;
        Ok(xgboost::Tree {
            nodes,
            category_sets,
            covers,
        })
    })?;
    XGBoostModel::new(schema, objective, base_score, trees).map_err(as_compact)
}

fn write_lightgbm(w: &mut Writer, m: &LightGbmModel) {
    match m.objective {
        lightgbm::Objective::Binary { sigmoid } => {
            w.u8(0);
            w.f64(sigmoid);
        }
        lightgbm::Objective::Regression => w.u8(1),
    }
    w.u32(m.trees.len() as u32);
    for tree in &m.trees {
        w.category_sets(&tree.category_sets);
        w.u32(tree.splits.len() as u32);
        for split in &tree.splits {
            match *split {
                lightgbm::Split::Numeric {
                    feature,
                    threshold,
                    missing,
                    default_left,
                    left,
                    right,
                } => {
                    w.u8(0);
                    w.u32(feature);
                    w.f64(threshold);
                    w.u8(match missing {
                        lightgbm::MissingType::None => 0,
                        lightgbm::MissingType::Zero => 1,
                        lightgbm::MissingType::NaN => 2,
                    });
                    w.u8(default_left.into());
                    w.child(left);
                    w.child(right);
                }
                lightgbm::Split::Categorical {
                    feature,
                    set,
                    left,
                    right,
                } => {
                    w.u8(1);
                    w.u32(feature);
                    w.u32(set);
                    w.child(left);
                    w.child(right);
                }
            }
        }
        w.f64s(&tree.leaves);
        w.f64s(&tree.split_counts);
        w.f64s(&tree.leaf_counts);
    }
}

fn read_lightgbm(r: &mut Reader<'_>, schema: Schema) -> Result<LightGbmModel, ModelError> {
    let objective = match r.u8()? {
        0 => lightgbm::Objective::Binary { sigmoid: r.f64()? },
        1 => lightgbm::Objective::Regression,
        other => return Err(corrupt(&format!("unknown LightGBM objective {other}"))),
    };
    let trees = r.list(1, |r| {
        let category_sets = r.category_sets()?;
        let splits = r.list(5, |r| {
            Ok(match r.u8()? {
                0 => lightgbm::Split::Numeric {
                    feature: r.u32()?,
                    threshold: r.f64()?,
                    missing: match r.u8()? {
                        0 => lightgbm::MissingType::None,
                        1 => lightgbm::MissingType::Zero,
                        2 => lightgbm::MissingType::NaN,
                        other => return Err(corrupt(&format!("unknown missing type {other}"))),
                    },
                    default_left: r.bool()?,
                    left: r.child()?,
                    right: r.child()?,
                },
                1 => lightgbm::Split::Categorical {
                    feature: r.u32()?,
                    set: r.u32()?,
                    left: r.child()?,
                    right: r.child()?,
                },
                other => return Err(corrupt(&format!("unknown LightGBM split tag {other}"))),
            })
        })?;
        let leaves = r.f64s()?;
        let split_counts = r.f64s()?;
        let leaf_counts = r.f64s()?;
        Ok(lightgbm::Tree {
            splits,
            leaves,
            category_sets,
            split_counts,
            leaf_counts,
        })
    })?;
    LightGbmModel::new(schema, objective, trees).map_err(as_compact)
}

fn write_linear(w: &mut Writer, m: &LinearModel) {
    w.u8(match m.kind {
        LinearKind::Logistic => 0,
        LinearKind::Linear => 1,
    });
    w.f64(m.intercept);
    w.f64s(&m.coefficients);
    w.f64s(&m.mean);
    w.f64s(&m.scale);
    match &m.impute {
        Some(values) => {
            w.u8(1);
            w.f64s(values);
        }
        None => w.u8(0),
    }
}

fn read_linear(r: &mut Reader<'_>, schema: Schema) -> Result<LinearModel, ModelError> {
    let kind = match r.u8()? {
        0 => LinearKind::Logistic,
        1 => LinearKind::Linear,
        other => return Err(corrupt(&format!("unknown linear kind {other}"))),
    };
    let intercept = r.f64()?;
    let coefficients = r.f64s()?;
    let mean = r.f64s()?;
    let scale = r.f64s()?;
    let impute = if r.bool()? { Some(r.f64s()?) } else { None };
    if coefficients.len() != schema.kinds.len() {
        return Err(corrupt(
            "the coefficient count differs from the feature count",
        ));
    }
    LinearModel::new(schema, kind, coefficients, intercept, mean, scale, impute).map_err(as_compact)
}

pub(crate) fn corrupt(reason: &str) -> ModelError {
    ModelError::invalid(Format::Compact, reason.to_owned())
}

/// A decoded model that fails validation is a corrupt encoding, whatever family it claims.
pub(crate) fn as_compact(e: ModelError) -> ModelError {
    match e {
        ModelError::Invalid { reason, .. } => ModelError::invalid(Format::Compact, reason),
        other => other,
    }
}

pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn f32(&mut self, v: f32) {
        self.u32(v.to_bits());
    }
    pub(crate) fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    pub(crate) fn f64s(&mut self, v: &[f64]) {
        self.u32(v.len() as u32);
        v.iter().for_each(|&x| self.f64(x));
    }
    pub(crate) fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn child(&mut self, c: lightgbm::Child) {
        let (tag, i) = match c {
            lightgbm::Child::Split(i) => (0, i),
            lightgbm::Child::Leaf(i) => (1, i),
        };
        self.u8(tag);
        self.u32(i);
    }
    fn category_sets(&mut self, sets: &[CategorySet]) {
        self.u32(sets.len() as u32);
        for set in sets {
            self.u32(set.words().len() as u32);
            set.words().iter().for_each(|&w| self.u32(w));
        }
    }
    fn schema(&mut self, schema: &Schema) {
        self.u8(schema.names.is_some().into());
        self.u32(schema.kinds.len() as u32);
        for kind in &schema.kinds {
            self.u8(match kind {
                FeatureKind::Numeric => 0,
                FeatureKind::Categorical => 1,
            });
        }
        for name in schema.names.iter().flatten() {
            self.str(name);
        }
    }
}

pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
    /// Offset of `bytes` in the whole encoding, for error messages.
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ModelError> {
        if self.bytes.len() < n {
            return Err(corrupt(&format!("truncated at byte {}", self.at)));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        self.at += n;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], ModelError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, ModelError> {
        Ok(self.array::<1>()?[0])
    }
    pub(crate) fn bool(&mut self) -> Result<bool, ModelError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(corrupt(&format!(
                "byte {} is {other}, not a boolean",
                self.at - 1
            ))),
        }
    }
    pub(crate) fn u16(&mut self) -> Result<u16, ModelError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub(crate) fn f32(&mut self) -> Result<f32, ModelError> {
        Ok(f32::from_bits(self.u32()?))
    }
    pub(crate) fn f64(&mut self) -> Result<f64, ModelError> {
        Ok(f64::from_bits(u64::from_le_bytes(self.array()?)))
    }
    /// A u32 count, checked against the bytes left so a corrupt count cannot
    /// make us allocate more than the input could describe.
    pub(crate) fn count(&mut self, min_item_size: usize) -> Result<usize, ModelError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item_size) > self.bytes.len() {
            return Err(corrupt(&format!(
                "a count of {n} at byte {} exceeds the remaining {} bytes",
                self.at - 4,
                self.bytes.len()
            )));
        }
        Ok(n)
    }
    pub(crate) fn list<T>(
        &mut self,
        min_item_size: usize,
        mut item: impl FnMut(&mut Self) -> Result<T, ModelError>,
    ) -> Result<Vec<T>, ModelError> {
        let n = self.count(min_item_size)?;
        (0..n).map(|_| item(self)).collect()
    }
    pub(crate) fn f64s(&mut self) -> Result<Vec<f64>, ModelError> {
        self.list(8, Self::f64)
    }
    pub(crate) fn str(&mut self) -> Result<String, ModelError> {
        let n = self.count(1)?;
        let at = self.at;
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| corrupt(&format!("the string at byte {at} is not UTF-8")))
    }
    fn child(&mut self) -> Result<lightgbm::Child, ModelError> {
        match self.u8()? {
            0 => Ok(lightgbm::Child::Split(self.u32()?)),
            1 => Ok(lightgbm::Child::Leaf(self.u32()?)),
            other => Err(corrupt(&format!("unknown child tag {other}"))),
        }
    }
    fn category_sets(&mut self) -> Result<Vec<CategorySet>, ModelError> {
        self.list(4, |r| Ok(CategorySet::from_words(r.list(4, Self::u32)?)))
    }
    fn schema(&mut self) -> Result<Schema, ModelError> {
        let has_names = self.bool()?;
        let kinds = self.list(1, |r| match r.u8()? {
            0 => Ok(FeatureKind::Numeric),
            1 => Ok(FeatureKind::Categorical),
            other => Err(corrupt(&format!("unknown feature kind {other}"))),
        })?;
        let names = if has_names {
            Some(
                (0..kinds.len())
                    .map(|_| self.str())
                    .collect::<Result<Vec<_>, _>>()?,
            )
        } else {
            None
        };
        Ok(Schema { names, kinds })
    }
}
