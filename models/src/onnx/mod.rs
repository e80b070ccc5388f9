//! ONNX models (`.onnx`), scored as onnxruntime scores them.
//!
//! An ONNX file is a graph of operators. edgescore imports the part of the
//! graph that computes the score into a straight-line program
//! ([`program`]): tree ensembles become flattened forests (the same lane
//! walk as XGBoost and LightGBM, see `crate::lanes`), linear models,
//! scikit-learn's preprocessing and small dense networks become
//! row-wise instructions. Nothing is interpreted from the protobuf at
//! scoring time, and the program has its own compact encoding, so a
//! component embeds it as it embeds any model.
//!
//! The model's input is one `[N, F]` tensor (its features go by position)
//! or one `[N, 1]` tensor per feature (named after the inputs), float or
//! double; the row's `f64` values are cast to the input's type, as a user
//! casting a DataFrame for onnxruntime does. "The score" is, for a binary
//! classifier, the probability of the positive class (label 1, or the
//! second label), and for a regressor its value.

mod attributes;
pub(crate) mod codec;
pub(crate) mod ensemble;
mod import;
mod nodes;
mod post;
pub(crate) mod program;
mod proto;
mod run;
#[cfg(test)]
mod tests;

use program::{Instr, Slot, SlotId};
use run::Buffers;

use crate::model::Schema;
use crate::{Format, ModelError, OutputKind, ScoreError};

/// Rows per block: every slot holds this many rows at once...
const BLOCK_ROWS: usize = 256;
/// ...unless that would be more than this many values (2^22, 32 MiB) in
/// all: a program whose slots are wider together runs fewer rows per block.
const BLOCK_VALUES: usize = 1 << 22;
/// The widest value a program may hold (columns per row).
pub(crate) const MAX_WIDTH: u32 = 1 << 16;
/// The most columns a program's values may have together: 2^22, so that a
/// block of one row fits in [`BLOCK_VALUES`]. Every value of a block is
/// kept while it runs, so without this a 90 KB file of 4,000 `Relu` nodes
/// over a 65,536-wide input took 2 GB for one row (and 500 GB for a block).
/// A fraud model's values are tens to thousands of columns wide in all.
pub(crate) const MAX_TOTAL_WIDTH: usize = BLOCK_VALUES;

/// An imported ONNX model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OnnxModel {
    pub(crate) schema: Schema,
    /// The slot of each graph input, in order; input `i` takes the next
    /// `width` features of a row.
    pub(crate) inputs: Vec<SlotId>,
    pub(crate) slots: Vec<Slot>,
    pub(crate) program: Vec<Instr>,
    /// The slot and column that hold the score.
    pub(crate) score: SlotId,
    pub(crate) column: u32,
    pub(crate) output: OutputKind,
}

impl OnnxModel {
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        import::import(bytes)
    }

    /// Checks that the program fits its slots end to end.
    pub(crate) fn new(
        schema: Schema,
        inputs: Vec<SlotId>,
        slots: Vec<Slot>,
        program: Vec<Instr>,
        score: SlotId,
        column: u32,
        output: OutputKind,
    ) -> Result<Self, ModelError> {
        schema.validate(Format::Onnx)?;
        let model = Self {
            schema,
            inputs,
            slots,
            program,
            score,
            column,
            output,
        };
        model
            .check()
            .map_err(|e| ModelError::invalid(Format::Onnx, e))?;
        Ok(model)
    }

    fn check(&self) -> Result<(), String> {
        if let Some(s) = self
            .slots
            .iter()
            .find(|s| s.width == 0 || s.width > MAX_WIDTH)
        {
            return Err(format!(
                "a value of {} columns (1 to {MAX_WIDTH} are allowed)",
                s.width
            ));
        }
        let total = self.total_width();
        if total > MAX_TOTAL_WIDTH {
            return Err(format!(
                "the program's values take {total} columns per row in all (at most {MAX_TOTAL_WIDTH} are allowed)"
            ));
        }
        let mut written = vec![false; self.slots.len()];
        let mut features = 0;
        for &i in &self.inputs {
            let slot = self
                .slots
                .get(i as usize)
                .ok_or("an input slot does not exist")?;
            if std::mem::replace(&mut written[i as usize], true) {
                return Err("two inputs share a slot".into());
            }
            features += slot.width as usize;
        }
        if features != self.schema.kinds.len() {
            return Err(format!(
                "the inputs take {features} features but the model has {}",
                self.schema.kinds.len()
            ));
        }
        for instr in &self.program {
            instr.check(&self.slots, &mut written)?;
        }
        let score = self
            .slots
            .get(self.score as usize)
            .ok_or("the score slot does not exist")?;
        if !written[self.score as usize] || self.column >= score.width {
            return Err("the score column is not computed".into());
        }
        Ok(())
    }

    /// The columns of all the program's values together.
    fn total_width(&self) -> usize {
        self.slots.iter().map(|s| s.width as usize).sum()
    }

    pub(crate) fn output_kind(&self) -> OutputKind {
        self.output
    }

    /// What the model is, for manifests: the operators that score.
    pub(crate) fn objective_name(&self) -> &'static str {
        let ensemble = self.program.iter().any(|i| matches!(i, Instr::Ensemble(_)));
        let linear = self
            .program
            .iter()
            .any(|i| matches!(i, Instr::Linear { .. }));
        match (ensemble, linear, self.output) {
            (true, _, OutputKind::Regression) => "tree ensemble regressor",
            (true, _, _) => "tree ensemble classifier",
            (false, true, OutputKind::Regression) => "linear regressor",
            (false, true, _) => "linear classifier",
            (false, false, OutputKind::Regression) => "network regressor",
            (false, false, _) => "network classifier",
        }
    }

    /// How many trees the model's ensembles have.
    pub(crate) fn num_trees(&self) -> usize {
        self.ensembles().map(|e| e.trees.len()).sum()
    }

    fn ensembles(&self) -> impl Iterator<Item = &ensemble::Ensemble> {
        self.program.iter().filter_map(|i| match i {
            Instr::Ensemble(e) => Some(e.as_ref()),
            _ => None,
        })
    }

    /// Every split of an ensemble that reads the model's inputs directly, as
    /// (feature of the row, threshold).
    pub(crate) fn split_thresholds(&self) -> Vec<(usize, f64)> {
        let mut offset = 0;
        let mut first_feature = std::collections::HashMap::new();
        for &input in &self.inputs {
            first_feature.insert(input, offset);
            offset += self.slots[input as usize].width as usize;
        }
        self.ensembles()
            .filter_map(|e| first_feature.get(&e.x).map(|&at| (at, e)))
            .flat_map(|(at, e)| {
                e.trees.iter().flatten().filter_map(move |n| match n {
                    ensemble::Node::Split {
                        feature, threshold, ..
                    } => Some((at + *feature as usize, *threshold)),
                    ensemble::Node::Leaf { .. } => None,
                })
            })
            .collect()
    }

    /// The work of one row: tree levels, plus one step per value computed.
    pub(crate) fn steps_per_row(&self) -> u64 {
        let trees: u64 = self
            .ensembles()
            .map(ensemble::Ensemble::steps_per_row)
            .sum();
        let values: u64 = self
            .program
            .iter()
            .map(|i| match i {
                Instr::Dense { weights, .. } => weights.len() as u64,
                Instr::Linear { coefficients, .. } => coefficients.len() as u64,
                other => u64::from(self.slots[other.output() as usize].width),
            })
            .sum();
        trees + values
    }

    /// Scores rows (row-major, one value per feature) into `out`; refuses
    /// the batch at the first row the model refuses.
    pub(crate) fn score_into(&self, rows: &[f64], out: &mut [f64]) -> Result<(), ScoreError> {
        let features = self.schema.kinds.len();
        // Rows are scored independently, so the block size changes no bits.
        let block_rows = (BLOCK_VALUES / self.total_width().max(1)).clamp(1, BLOCK_ROWS);
        let mut buffers = Buffers {
            n: 0,
            values: vec![Vec::new(); self.slots.len()],
            refused: None,
        };
        for (b, (block, out)) in rows
            .chunks(features * block_rows)
            .zip(out.chunks_mut(block_rows))
            .enumerate()
        {
            let block_start = b * block_rows;
            let n = out.len();
            buffers.n = n;
            let mut at = 0;
            for &input in &self.inputs {
                let slot = self.slots[input as usize];
                let width = slot.width as usize;
                let values = &mut buffers.values[input as usize];
                values.clear();
                for row in block.chunks(features) {
                    values.extend(row[at..at + width].iter().map(|&v| slot.elem.round(v)));
                }
                at += width;
            }
            for instr in &self.program {
                instr.run(&self.slots, &mut buffers);
                if let Some((row, reason)) = buffers.refused.take() {
                    return Err(ScoreError::Refused {
                        row: block_start + row,
                        reason: reason.to_owned(),
                    });
                }
            }
            let width = self.slots[self.score as usize].width as usize;
            let scores = &buffers.values[self.score as usize];
            for (o, row) in out.iter_mut().zip(scores.chunks(width)) {
                *o = row[self.column as usize];
            }
        }
        Ok(())
    }
}
