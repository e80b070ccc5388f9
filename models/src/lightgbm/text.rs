//! Reading LightGBM's text model format (`Booster.save_model("model.txt")`).
//!
//! The file is a header of `key=value` lines, then one `Tree=<i>` block per
//! tree, then `end of trees` and sections (importances, parameters) that
//! prediction does not need. Numbers are read with Rust's correctly rounded
//! parsers, as LightGBM's own `fast_double_parser` reads them.
//!
//! The header's `tree_sizes` gives each tree block's length in bytes, and
//! LightGBM 4 (`GBDT::LoadModelFromString`) finds tree `i` at the sum of the
//! sizes before it, counting from the first `Tree=` line, and reads exactly as
//! many trees as the list has sizes; it stops with "expect a tree here" where
//! no `Tree=` line starts, and reads past the end of a file cut short. So a
//! file is refused unless its blocks are the ones `tree_sizes` describes,
//! numbered `Tree=0` up in order and closed by `end of trees`: a cut file
//! would otherwise score with fewer trees. The last size locates nothing, so
//! LightGBM never reads it and neither does this parser.

use std::collections::HashMap;

use super::{Child, LightGbmModel, MissingType, Objective, Split, Tree};
use crate::category_set::{CategorySet, SetBudget};
use crate::model::{Schema, declared_features};
use crate::{FeatureKind, Format, ModelError};

const FORMAT: Format = Format::LightGbmText;

/// What to do about a file whose trees are not the ones its header describes.
const SAVE_AGAIN: &str = "save it again with LightGBM's save_model";

/// Parses and validates a LightGBM text model.
pub(super) fn parse(bytes: &[u8]) -> Result<LightGbmModel, ModelError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| invalid(format!("the file is not UTF-8 text ({e})")))?;
    let layout = Layout::of(text);
    let header = parse_block(layout.header);

    if header.contains_key("average_output")
        || layout.header.lines().any(|l| l.trim() == "average_output")
    {
        return Err(ModelError::unsupported(
            FORMAT,
            "random forest mode (average_output)",
        ));
    }
    let num_class: usize = number(&header, "num_class", "header")?;
    let per_iteration: usize = number(&header, "num_tree_per_iteration", "header")?;
    if num_class != 1 || per_iteration != 1 {
        return Err(ModelError::unsupported(
            FORMAT,
            format!(
                "a multi-class model ({num_class} classes, {per_iteration} trees per iteration)"
            ),
        ));
    }
    let max_feature_idx: i64 = number(&header, "max_feature_idx", "header")?;
    // Checked before `kinds` is sized by it (`i64::MAX + 1` still fits a u64).
    let declared = u64::try_from(max_feature_idx).map_err(|_| {
        invalid(format!(
            "max_feature_idx {max_feature_idx} leaves no features"
        ))
    })? + 1;
    let num_features = declared_features(FORMAT, declared)?;
    let objective = parse_objective(field(&header, "objective", "header")?)?;
    let names: Option<Vec<String>> = header
        .get("feature_names")
        .map(|v| v.split_whitespace().map(str::to_owned).collect());

    // `feature_infos` lists a categorical feature's categories as `a:b:c`, a
    // numeric one's range as `[min:max]` and an unused one as `none`.
    let mut kinds: Vec<FeatureKind> = match header.get("feature_infos") {
        Some(infos) => infos
            .split_whitespace()
            .map(|info| {
                if info.starts_with('[') || info == "none" {
                    FeatureKind::Numeric
                } else {
                    FeatureKind::Categorical
                }
            })
            .collect(),
        None => Vec::new(),
    };
    kinds.resize(num_features, FeatureKind::Numeric);
    // Only one tree per iteration is scored (above), so any number of trees
    // makes whole iterations.
    let sizes = layout.check_trees(&header)?;
    let mut trees = Vec::with_capacity(layout.trees.len());
    // One budget for the whole model's category sets (see `SetBudget`).
    let mut sets = SetBudget::default();
    for (i, block) in layout.trees.iter().enumerate() {
        let tree = parse_tree(&parse_block(block.body), &format!("tree {i}"), &mut sets)?;
        for split in &tree.splits {
            if let Split::Categorical { feature, .. } = split
                && let Some(kind) = kinds.get_mut(*feature as usize)
            {
                *kind = FeatureKind::Categorical;
            }
        }
        trees.push(tree);
    }
    // After the trees, so that an edit inside one is named for what it broke.
    if let Some(sizes) = sizes {
        layout.check_offsets(&sizes)?;
    }
    LightGbmModel::new(Schema { names, kinds }, objective, trees)
}

/// Where the parts of the file lie: the header, each `Tree=` block, and the
/// `end of trees` line if there is one.
struct Layout<'a> {
    header: &'a str,
    trees: Vec<TreeBlock<'a>>,
    terminated: bool,
    crlf: bool,
}

struct TreeBlock<'a> {
    /// What follows `Tree=` on the block's first line.
    label: &'a str,
    /// Where the block starts, in bytes from the start of the first block.
    offset: usize,
    /// The block's lines after the `Tree=` line.
    body: &'a str,
}

impl<'a> Layout<'a> {
    /// Splits `text` at every line that starts with `Tree=` (LightGBM's header
    /// ends at the first one) up to the line `end of trees`.
    fn of(text: &'a str) -> Self {
        let mut starts = Vec::new();
        let mut end = None;
        let mut at = 0;
        for line in text.split_inclusive('\n') {
            let content = line.trim_end_matches(['\n', '\r']);
            if content.starts_with("Tree=") {
                starts.push(at);
            } else if content == "end of trees" {
                end = Some(at);
                break;
            }
            at += line.len();
        }
        let trees_end = end.unwrap_or(text.len());
        let first = starts.first().copied().unwrap_or(trees_end);
        let trees = starts
            .iter()
            .enumerate()
            .map(|(i, &start)| {
                let block = &text[start..starts.get(i + 1).copied().unwrap_or(trees_end)];
                let (id_line, body) = block.split_once('\n').unwrap_or((block, ""));
                TreeBlock {
                    label: id_line.strip_prefix("Tree=").unwrap_or(id_line).trim(),
                    offset: start - first,
                    body,
                }
            })
            .collect();
        Layout {
            header: &text[..first],
            trees,
            terminated: end.is_some(),
            crlf: text.contains("\r\n"),
        }
    }

    /// The blocks are the trees the header's `tree_sizes` lists (if it has
    /// one), numbered in order, all of them there. Returns the sizes.
    fn check_trees(&self, header: &HashMap<&str, &str>) -> Result<Option<Vec<usize>>, ModelError> {
        let held = self.trees.len();
        let sizes: Option<Vec<usize>> = if header.contains_key("tree_sizes") {
            Some(list(header, "tree_sizes", "header")?)
        } else {
            None
        };
        if let Some(sizes) = &sizes
            && sizes.len() > held
        {
            return Err(invalid(format!(
                "the file lists {} trees in tree_sizes but holds {held}; it looks truncated: {SAVE_AGAIN}",
                sizes.len()
            )));
        }
        if held == 0 {
            return Err(invalid("the model has no trees (no `Tree=` block)".into()));
        }
        for (i, block) in self.trees.iter().enumerate() {
            if block.label.parse::<usize>() != Ok(i) {
                return Err(invalid(format!(
                    "tree {i} is headed `Tree={}`: LightGBM numbers its trees from 0 in order, \
                     so trees are missing, repeated or out of order; {SAVE_AGAIN}",
                    block.label
                )));
            }
        }
        if let Some(sizes) = &sizes
            && sizes.len() < held
        {
            return Err(invalid(format!(
                "the file holds {held} trees but tree_sizes lists {}, and LightGBM reads only \
                 the trees it lists; {SAVE_AGAIN}",
                sizes.len()
            )));
        }
        if !self.terminated {
            return Err(invalid(format!(
                "no `end of trees` line after tree {}; the file looks truncated: {SAVE_AGAIN}",
                held - 1
            )));
        }
        Ok(sizes)
    }

    /// Each tree starts where `tree_sizes` puts it, as LightGBM looks for it.
    fn check_offsets(&self, sizes: &[usize]) -> Result<(), ModelError> {
        let mut expected = 0_usize;
        for (i, (block, size)) in self.trees.iter().zip(sizes).enumerate() {
            if block.offset != expected {
                let cause = if self.crlf {
                    "the file has Windows (CRLF) line endings, which change the size of every \
                     tree (LightGBM refuses it too): convert them back to LF"
                        .to_owned()
                } else {
                    format!(
                        "the file was changed after LightGBM wrote it (LightGBM refuses it too); \
                         {SAVE_AGAIN}"
                    )
                };
                return Err(invalid(format!(
                    "tree_sizes says tree {i} starts {expected} bytes after tree 0, but it starts \
                     {} bytes after: {cause}",
                    block.offset
                )));
            }
            expected = expected.saturating_add(*size);
        }
        Ok(())
    }
}

/// `binary sigmoid:1`, `regression`: the objective and its parameters.
fn parse_objective(line: &str) -> Result<Objective, ModelError> {
    let mut words = line.split_whitespace();
    let name = words.next().unwrap_or("");
    let params: HashMap<&str, &str> = words.filter_map(|w| w.split_once(':')).collect();
    let extra: Vec<&str> = line
        .split_whitespace()
        .skip(1)
        .filter(|w| !w.contains(':'))
        .collect();
    match (name, extra.as_slice()) {
        ("binary", []) => {
            let sigmoid = match params.get("sigmoid") {
                Some(s) => s.parse::<f64>().map_err(|_| {
                    invalid(format!("objective '{line}': sigmoid '{s}' is not a number"))
                })?,
                None => 1.0,
            };
            Ok(Objective::Binary { sigmoid })
        }
        ("regression" | "regression_l2", []) => Ok(Objective::Regression),
        _ => Err(ModelError::unsupported(
            FORMAT,
            format!("objective '{line}' (supported: binary, regression)"),
        )),
    }
}

fn parse_tree(
    kv: &HashMap<&str, &str>,
    at: &str,
    budget: &mut SetBudget,
) -> Result<Tree, ModelError> {
    if field(kv, "is_linear", at).is_ok_and(|v| v.trim() != "0") {
        return Err(ModelError::unsupported(
            FORMAT,
            format!("{at}: linear trees (is_linear=1)"),
        ));
    }
    let num_leaves: usize = number(kv, "num_leaves", at)?;
    let leaves: Vec<f64> = list(kv, "leaf_value", at)?;
    if num_leaves == 0 || leaves.len() != num_leaves {
        return Err(invalid(format!(
            "{at}: num_leaves={num_leaves} but {} leaf values",
            leaves.len()
        )));
    }
    // Counts are optional (contributions need them); a file may lack them.
    let leaf_counts: Vec<f64> = list(kv, "leaf_count", at).unwrap_or_default();
    if num_leaves == 1 {
        return Ok(Tree {
            splits: Vec::new(),
            leaves,
            category_sets: Vec::new(),
            split_counts: Vec::new(),
            leaf_counts,
        });
    }
    let n = num_leaves - 1;
    let features: Vec<u32> = list(kv, "split_feature", at)?;
    let thresholds: Vec<f64> = list(kv, "threshold", at)?;
    let decisions: Vec<u8> = list(kv, "decision_type", at)?;
    let lefts: Vec<i64> = list(kv, "left_child", at)?;
    let rights: Vec<i64> = list(kv, "right_child", at)?;
    for (name, len) in [
        ("split_feature", features.len()),
        ("threshold", thresholds.len()),
        ("decision_type", decisions.len()),
        ("left_child", lefts.len()),
        ("right_child", rights.len()),
    ] {
        if len != n {
            return Err(invalid(format!(
                "{at}: {name} has {len} entries for {n} splits"
            )));
        }
    }

    let num_cat: usize = number(kv, "num_cat", at).unwrap_or(0);
    let mut category_sets = Vec::new();
    if num_cat > 0 {
        let bounds: Vec<usize> = list(kv, "cat_boundaries", at)?;
        let words: Vec<u32> = list(kv, "cat_threshold", at)?;
        // `num_cat` sizes nothing until the boundaries in the file agree with it.
        if num_cat.checked_add(1) != Some(bounds.len()) {
            return Err(invalid(format!(
                "{at}: cat_boundaries has {} entries for num_cat={num_cat}",
                bounds.len()
            )));
        }
        category_sets.reserve_exact(num_cat);
        for w in bounds.windows(2) {
            let slice = words.get(w[0]..w[1]).ok_or_else(|| {
                invalid(format!(
                    "{at}: cat_boundaries {:?} run past cat_threshold",
                    w
                ))
            })?;
            // The words are in the file (consecutive windows of one list,
            // so the sets together are at most `cat_threshold`): the budget
            // is the model-wide limit every format's sets share.
            budget
                .take(slice.len())
                .map_err(|e| ModelError::unsupported(FORMAT, format!("{at}: {e}")))?;
            category_sets.push(CategorySet::from_words(slice.to_vec()));
        }
    }

    let child = |c: i64| -> Result<Child, ModelError> {
        // LightGBM stores a leaf as the bitwise complement of its index.
        let (index, limit, make): (i64, usize, fn(u32) -> Child) = if c < 0 {
            (!c, num_leaves, Child::Leaf)
        } else {
            (c, n, Child::Split)
        };
        usize::try_from(index)
            .ok()
            .filter(|&i| i < limit)
            .map(|i| make(i as u32))
            .ok_or_else(|| invalid(format!("{at}: child {c} is out of range")))
    };
    // `n` is bounded by the leaf values present (checked above).
    let mut splits = Vec::with_capacity(n);
    for i in 0..n {
        let (left, right) = (child(lefts[i])?, child(rights[i])?);
        let (feature, threshold, decision) = (features[i], thresholds[i], decisions[i]);
        splits.push(if decision & 1 == 1 {
            let set = threshold as u32;
            if threshold < 0.0 || threshold.fract() != 0.0 || set as usize >= category_sets.len() {
                return Err(invalid(format!("{at}: categorical split {i} names category set {threshold}, but the tree has {}", category_sets.len())));
            }
            Split::Categorical { feature, set, left, right }
        } else {
            let missing = match (decision >> 2) & 3 {
                0 => MissingType::None,
                1 => MissingType::Zero,
                2 => MissingType::NaN,
                other => return Err(invalid(format!("{at}: split {i} has missing type {other}"))),
            };
            Split::Numeric { feature, threshold, missing, default_left: decision & 2 == 2, left, right }
        });
    }
    let split_counts: Vec<f64> = list(kv, "internal_count", at).unwrap_or_default();
    Ok(Tree {
        splits,
        leaves,
        category_sets,
        split_counts,
        leaf_counts,
    })
}

fn parse_block(block: &str) -> HashMap<&str, &str> {
    block
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

fn field<'a>(kv: &HashMap<&str, &'a str>, key: &str, at: &str) -> Result<&'a str, ModelError> {
    kv.get(key)
        .copied()
        .ok_or_else(|| invalid(format!("{at}: missing `{key}=` line")))
}

fn number<T: std::str::FromStr>(
    kv: &HashMap<&str, &str>,
    key: &str,
    at: &str,
) -> Result<T, ModelError> {
    let v = field(kv, key, at)?;
    v.parse()
        .map_err(|_| invalid(format!("{at}: `{key}={v}` is not a valid number")))
}

fn list<T: std::str::FromStr>(
    kv: &HashMap<&str, &str>,
    key: &str,
    at: &str,
) -> Result<Vec<T>, ModelError> {
    field(kv, key, at)?
        .split_whitespace()
        .enumerate()
        .map(|(i, w)| {
            w.parse().map_err(|_| {
                invalid(format!(
                    "{at}: `{key}` entry {i} '{w}' is not a valid number"
                ))
            })
        })
        .collect()
}

fn invalid(reason: String) -> ModelError {
    ModelError::invalid(FORMAT, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::category_set::MAX_CATEGORY_SET_BYTES;

    #[test]
    fn category_sets_count_against_the_model_wide_bound() {
        // One categorical split whose set is two bitset words.
        let block = "num_leaves=2\nnum_cat=1\nsplit_feature=0\nthreshold=0\n\
                     decision_type=1\nleft_child=-1\nright_child=-2\nleaf_value=1 2\n\
                     cat_boundaries=0 2\ncat_threshold=9 1\n";
        let kv = parse_block(block);
        let mut budget = SetBudget::default();
        let tree = parse_tree(&kv, "tree 0", &mut budget).expect("a small set fits");
        assert_eq!(tree.category_sets[0].words(), [9, 1]);
        // With one word left of the model's budget, the tree's two are refused.
        let mut budget = SetBudget::default();
        budget
            .take(MAX_CATEGORY_SET_BYTES / 4 - 1)
            .expect("all but one word");
        let e = parse_tree(&kv, "tree 7", &mut budget).expect_err("refused");
        assert!(
            matches!(e, ModelError::Unsupported { .. })
                && e.to_string()
                    .contains("tree 7: the model's category sets take more than 64 MiB"),
            "{e}"
        );
    }
}
