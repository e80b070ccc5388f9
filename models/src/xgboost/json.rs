//! Reading XGBoost's JSON model format (`Booster.save_model("model.json")`).
//!
//! Fields edgescore does not need for prediction (`loss_changes`,
//! `base_weights`, `parents`) are ignored; `sum_hessian` is kept as each
//! node's cover, which per-feature contributions weigh branches by. `best_iteration` is
//! ignored too, as XGBoost's own `Booster.predict` ignores it: every tree scores.

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::{Node, Objective, Tree, XGBoostModel};
use crate::category_set::{CategorySet, SetBudget, SetError};
use crate::model::{Schema, declared_features};
use crate::{FeatureKind, Format, ModelError};

const FORMAT: Format = Format::XGBoostJson;

#[derive(Deserialize)]
struct File {
    learner: Learner,
    /// The XGBoost version that saved the file, `[major, minor, patch]`.
    #[serde(default)]
    version: Vec<u32>,
}

#[derive(Deserialize)]
struct Learner {
    #[serde(default)]
    feature_names: Vec<String>,
    #[serde(default)]
    feature_types: Vec<String>,
    gradient_booster: GradientBooster,
    learner_model_param: LearnerModelParam,
    objective: ObjectiveJson,
}

#[derive(Deserialize)]
struct GradientBooster {
    name: String,
    #[serde(default)]
    model: Option<GbTreeModel>,
}

/// A `gbtree` booster's `model`. Absent in a `dart` booster (which nests a
/// whole gbtree); a `gblinear` one holds `weights` instead of `trees`, so
/// `trees` is optional here to let the booster's name be checked first.
#[derive(Deserialize)]
struct GbTreeModel {
    #[serde(default)]
    trees: Option<Vec<TreeJson>>,
    #[serde(default)]
    tree_info: Vec<i64>,
}

#[derive(Deserialize)]
struct LearnerModelParam {
    #[serde(deserialize_with = "number_or_string")]
    base_score: String,
    #[serde(default, deserialize_with = "opt_number_or_string")]
    num_class: Option<String>,
    #[serde(deserialize_with = "number_or_string")]
    num_feature: String,
    #[serde(default, deserialize_with = "opt_number_or_string")]
    num_target: Option<String>,
}

#[derive(Deserialize)]
struct ObjectiveJson {
    name: String,
}

#[derive(Deserialize)]
struct TreeJson {
    left_children: Vec<i64>,
    right_children: Vec<i64>,
    split_indices: Vec<i64>,
    split_conditions: Vec<f32>,
    #[serde(deserialize_with = "flags")]
    default_left: Vec<bool>,
    #[serde(default)]
    split_type: Vec<u8>,
    #[serde(default)]
    categories: Vec<i64>,
    #[serde(default)]
    categories_nodes: Vec<i64>,
    #[serde(default)]
    categories_segments: Vec<u64>,
    #[serde(default)]
    categories_sizes: Vec<u64>,
    /// Each node's cover, for contributions; absent in hand-made files.
    #[serde(default)]
    sum_hessian: Vec<f32>,
}

/// Parses and validates an XGBoost JSON model.
pub(super) fn parse(bytes: &[u8]) -> Result<XGBoostModel, ModelError> {
    // XGBoost's own loader wants `{` as the very first byte and refuses a
    // byte order mark (3.2: c_api.cc, "Check failed: str[0] == '{'"), so a
    // BOM is refused here too, by name rather than as a JSON syntax error.
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return Err(ModelError::invalid(
            FORMAT,
            "the file starts with a UTF-8 byte order mark (BOM), and XGBoost refuses it too: \
             remove the first 3 bytes, or save the model again with Booster.save_model",
        ));
    }
    let file: File = serde_json::from_slice(bytes).map_err(|source| ModelError::Json {
        format: FORMAT,
        source,
    })?;
    let learner = file.learner;

    match learner.gradient_booster.name.as_str() {
        "gbtree" => {}
        "gblinear" => {
            return Err(ModelError::unsupported(
                FORMAT,
                "an XGBoost linear booster (booster 'gblinear'), which edgescore does not score \
                 yet: retrain with booster='gbtree', or write it as an edgescore linear JSON \
                 model (\"format\": \"edgescore-linear\", see models/src/linear.rs) with the \
                 first num_feature weights as coefficients, the last weight plus the base_score \
                 margin as intercept and impute 0 for every feature (it then computes in float64, \
                 where XGBoost uses float32)",
            ));
        }
        "dart" => {
            return Err(ModelError::unsupported(
                FORMAT,
                "an XGBoost DART booster (booster 'dart'), whose trees XGBoost scales by their \
                 weight_drop when it predicts, which edgescore does not score yet: retrain with \
                 booster='gbtree'",
            ));
        }
        other => {
            return Err(ModelError::unsupported(
                FORMAT,
                format!("booster '{other}' (edgescore scores booster 'gbtree')"),
            ));
        }
    }
    let objective = Objective::from_name(&learner.objective.name).ok_or_else(|| {
        let supported: Vec<_> = Objective::ALL.iter().map(|o| o.name()).collect();
        ModelError::unsupported(
            FORMAT,
            format!(
                "objective '{}' (supported: {})",
                learner.objective.name,
                supported.join(", ")
            ),
        )
    })?;
    if objective == Objective::BinaryLogitRaw
        && file.version.first().is_some_and(|&major| major < 2)
    {
        return Err(ModelError::unsupported(
            FORMAT,
            "binary:logitraw saved by XGBoost 1.x (its base_score meant a probability then); \
             load and re-save the model with XGBoost 2 or later",
        ));
    }
    let param = &learner.learner_model_param;
    let num_class = parse_count("num_class", param.num_class.as_deref().unwrap_or("0"))?;
    if num_class > 1 {
        return Err(ModelError::unsupported(
            FORMAT,
            format!("a multi-class model ({num_class} classes)"),
        ));
    }
    let num_target = parse_count("num_target", param.num_target.as_deref().unwrap_or("1"))?;
    if num_target > 1 {
        return Err(ModelError::unsupported(
            FORMAT,
            format!("a multi-target model ({num_target} targets)"),
        ));
    }
    // Checked before `feature_kinds` allocates one entry per feature.
    let num_features = declared_features(
        FORMAT,
        parse_count("num_feature", &param.num_feature)? as u64,
    )?;
    let base_score = parse_base_score(&param.base_score)?;

    let (tree_info, trees) = learner
        .gradient_booster
        .model
        .and_then(|model| model.trees.map(|trees| (model.tree_info, trees)))
        .ok_or_else(|| ModelError::invalid(FORMAT, "gradient_booster has no 'model' with trees"))?;
    if let Some(bad) = tree_info.iter().find(|&&class| class != 0) {
        return Err(ModelError::unsupported(
            FORMAT,
            format!(
                "tree_info assigns a tree to output group {bad}; only single-output models are scored"
            ),
        ));
    }
    // One budget for the whole model's category sets (see `SetBudget`).
    let mut sets = SetBudget::default();
    let trees = trees
        .into_iter()
        .enumerate()
        .map(|(t, tree)| {
            convert_tree(tree, &mut sets).map_err(|e| match e {
                TreeError::Invalid(reason) => {
                    ModelError::invalid(FORMAT, format!("tree {t}: {reason}"))
                }
                TreeError::Sets(what) => {
                    ModelError::unsupported(FORMAT, format!("tree {t}: {what}"))
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let schema = Schema {
        names: (!learner.feature_names.is_empty()).then_some(learner.feature_names),
        kinds: feature_kinds(&learner.feature_types, num_features)?,
    };
    XGBoostModel::new(schema, objective, base_score, trees)
}

/// `base_score` is a number written as a string: `"5E-1"` before XGBoost 3.1,
/// a one-element list such as `"[5E-1]"` since. Read as float32, as XGBoost does.
fn parse_base_score(text: &str) -> Result<f32, ModelError> {
    let trimmed = text.trim();
    let inner = match trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(list) => {
            let items: Vec<&str> = list.split(',').map(str::trim).collect();
            if items.len() != 1 {
                return Err(ModelError::unsupported(
                    FORMAT,
                    format!(
                        "base_score '{text}' with {} values (one per target); only one target is scored",
                        items.len()
                    ),
                ));
            }
            items[0]
        }
        None => trimmed,
    };
    inner
        .parse::<f32>()
        .map_err(|_| ModelError::invalid(FORMAT, format!("base_score '{text}' is not a number")))
}

fn parse_count(field: &str, text: &str) -> Result<usize, ModelError> {
    text.trim().parse::<usize>().map_err(|_| {
        ModelError::invalid(
            FORMAT,
            format!("{field} '{text}' is not a non-negative integer"),
        )
    })
}

/// XGBoost's feature types: `q`, `float`, `int` and `i` are numeric, `c` is
/// categorical. `num_features` must have passed [`declared_features`]: it
/// sizes the list when the file has no types.
fn feature_kinds(types: &[String], num_features: usize) -> Result<Vec<FeatureKind>, ModelError> {
    if types.is_empty() {
        return Ok(vec![FeatureKind::Numeric; num_features]);
    }
    if types.len() != num_features {
        return Err(ModelError::invalid(
            FORMAT,
            format!("{} feature types for {num_features} features", types.len()),
        ));
    }
    types
        .iter()
        .map(|t| match t.as_str() {
            "c" => Ok(FeatureKind::Categorical),
            "q" | "float" | "int" | "i" => Ok(FeatureKind::Numeric),
            other => Err(ModelError::invalid(
                FORMAT,
                format!("unknown feature type '{other}'"),
            )),
        })
        .collect()
}

/// Why a tree was not converted: the file is malformed, or the model's
/// category sets are past [`crate::category_set::MAX_CATEGORY_SET_BYTES`].
enum TreeError {
    Invalid(String),
    Sets(SetError),
}

impl From<String> for TreeError {
    fn from(reason: String) -> Self {
        TreeError::Invalid(reason)
    }
}

fn convert_tree(tree: TreeJson, budget: &mut SetBudget) -> Result<Tree, TreeError> {
    let n = tree.left_children.len();
    let lengths = [
        ("right_children", tree.right_children.len()),
        ("split_indices", tree.split_indices.len()),
        ("split_conditions", tree.split_conditions.len()),
        ("default_left", tree.default_left.len()),
    ];
    for (name, len) in lengths {
        if len != n {
            return Err(format!("{name} has {len} entries but left_children has {n}").into());
        }
    }
    if !tree.split_type.is_empty() && tree.split_type.len() != n {
        return Err(format!(
            "split_type has {} entries for {n} nodes",
            tree.split_type.len()
        )
        .into());
    }

    // categories_nodes[k] owns categories[segments[k] .. segments[k] + sizes[k]].
    let k = tree.categories_nodes.len();
    if tree.categories_segments.len() != k || tree.categories_sizes.len() != k {
        return Err(TreeError::Invalid(
            "categories_nodes, categories_segments and categories_sizes differ in length".into(),
        ));
    }
    // Each node has one category list: XGBoost (`RegTree::LoadCategoricalSplit`)
    // pairs the lists with the categorical nodes in node order and never
    // gives a node two, so a node listed twice is malformed (and each
    // listing would be a set of its own, up to 2 MiB).
    let mut set_of_node = vec![None; n];
    let mut category_sets = Vec::with_capacity(k);
    for i in 0..k {
        let node = index(tree.categories_nodes[i], n, "categories_nodes")?;
        if set_of_node[node].is_some() {
            return Err(format!(
                "categories_nodes lists node {node} twice (a node has one category list)"
            )
            .into());
        }
        let start = tree.categories_segments[i] as usize;
        let end = start
            .checked_add(tree.categories_sizes[i] as usize)
            .filter(|&e| e <= tree.categories.len())
            .ok_or_else(|| format!("category segment {i} runs past the categories list"))?;
        let members = tree.categories[start..end]
            .iter()
            .map(|&c| {
                u32::try_from(c).map_err(|_| format!("category {c} is negative or too large"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let set = CategorySet::from_members(&members, budget).map_err(|e| match e {
            SetError::Code(_) => TreeError::Invalid(format!("node {node}: {e}")),
            SetError::TooLarge => TreeError::Sets(e),
        })?;
        set_of_node[node] = Some(category_sets.len() as u32);
        category_sets.push(set);
    }

    let mut nodes = Vec::with_capacity(n);
    for (i, set) in set_of_node.iter().enumerate() {
        let (left, right) = (tree.left_children[i], tree.right_children[i]);
        if left == -1 {
            nodes.push(Node::Leaf {
                value: tree.split_conditions[i],
            });
            continue;
        }
        let left = index(left, n, "left_children")? as u32;
        let right = index(right, n, "right_children")? as u32;
        let feature = u32::try_from(tree.split_indices[i])
            .map_err(|_| format!("node {i} has split index {}", tree.split_indices[i]))?;
        let default_left = tree.default_left[i];
        let categorical = tree.split_type.get(i).copied().unwrap_or(0) == 1;
        nodes.push(if categorical {
            let set = set.ok_or_else(|| format!("categorical node {i} has no category list"))?;
            Node::Categorical {
                feature,
                set,
                left,
                right,
                default_left,
            }
        } else {
            Node::Numeric {
                feature,
                threshold: tree.split_conditions[i],
                left,
                right,
                default_left,
            }
        });
    }
    Ok(Tree {
        nodes,
        category_sets,
        covers: tree.sum_hessian,
    })
}

fn index(value: i64, n: usize, field: &str) -> Result<usize, String> {
    usize::try_from(value)
        .ok()
        .filter(|&v| v < n)
        .ok_or_else(|| format!("{field} holds {value}, not a node index below {n}"))
}

/// XGBoost writes `num_feature` and friends as strings; accept plain numbers too.
fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(de::Error::custom(format!(
            "expected a number or a string, got {other}"
        ))),
    }
}

fn opt_number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    number_or_string(d).map(Some)
}

/// `default_left` is a list of 0/1 integers in current XGBoost and of booleans in some older files.
fn flags<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Int(u8),
        Bool(bool),
    }
    let raw: Vec<Flag> = Vec::deserialize(d)?;
    raw.into_iter()
        .map(|f| match f {
            Flag::Int(0) | Flag::Bool(false) => Ok(false),
            Flag::Int(1) | Flag::Bool(true) => Ok(true),
            Flag::Int(other) => Err(de::Error::custom(format!(
                "default_left holds {other}, not 0 or 1"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::category_set::MAX_CATEGORY;

    #[test]
    fn base_score_reads_both_encodings_to_the_same_float32() {
        assert_eq!(parse_base_score("5E-1").ok(), Some(0.5));
        assert_eq!(parse_base_score("[5E-1]").ok(), Some(0.5));
        assert_eq!(
            parse_base_score("[1.85E-1]").ok(),
            parse_base_score("1.85E-1").ok()
        );
        assert!(parse_base_score("[1E-1,2E-1]").is_err());
        assert!(parse_base_score("half").is_err());
    }

    /// A model of one tree: a chain of `splits` categorical splits on
    /// feature 0, each with a leaf on its left, and the category lists of
    /// `listed` (node indices), each the one code `code`.
    fn categorical_chain(splits: usize, listed: &[usize], code: u32) -> Vec<u8> {
        let (mut left, mut right, mut types) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..splits {
            let at = 2 * i as i64;
            left.extend([at + 1, -1]);
            right.extend([at + 2, -1]);
            types.extend([1, 0]);
        }
        left.push(-1);
        right.push(-1);
        types.push(0);
        let n = left.len();
        let k = listed.len();
        serde_json::json!({"learner": {
            "feature_types": ["c"],
            "gradient_booster": {"name": "gbtree", "model": {"tree_info": [0], "trees": [{
                "left_children": left, "right_children": right, "split_indices": vec![0; n],
                "split_conditions": vec![0.5; n], "default_left": vec![0; n], "split_type": types,
                "categories": [code], "categories_nodes": listed,
                "categories_segments": vec![0; k], "categories_sizes": vec![1; k]}]}},
            "learner_model_param": {"base_score": "5E-1", "num_class": "0", "num_feature": "1"},
            "objective": {"name": "binary:logistic"}}})
        .to_string()
        .into_bytes()
    }

    fn error_of(bytes: &[u8]) -> ModelError {
        match parse(bytes) {
            Ok(_) => panic!("the model loaded"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_node_listed_twice_in_categories_nodes_is_invalid() {
        // 1,500 listings of one node, each a 2 MiB set (the code 2^24 - 1),
        // asked for 3 GiB from 9 KB of JSON; XGBoost gives a node one list.
        let e = error_of(&categorical_chain(1, &[0; 1500], MAX_CATEGORY));
        assert!(
            matches!(e, ModelError::Invalid { .. })
                && e.to_string()
                    .contains("tree 0: categories_nodes lists node 0 twice"),
            "{e}"
        );
    }

    #[test]
    fn the_category_sets_of_a_model_are_bounded_together() {
        // Each set of the code 2^24 - 1 takes 2 MiB: 32 of them fill the
        // 64 MiB bound and load; a 33rd distinct node is refused before its
        // set is allocated (1,500 of them asked for 3 GiB).
        let nodes: Vec<usize> = (0..33).map(|i| 2 * i).collect();
        let model = parse(&categorical_chain(32, &nodes[..32], MAX_CATEGORY)).expect("32 sets fit");
        assert_eq!(model.trees[0].category_sets.len(), 32);
        let e = error_of(&categorical_chain(33, &nodes, MAX_CATEGORY));
        assert!(
            matches!(e, ModelError::Unsupported { .. })
                && e.to_string().contains(
                    "tree 0: the model's category sets take more than 64 MiB (at most 64 MiB"
                ),
            "{e}"
        );
        // Codes XGBoost itself refuses stay invalid, whatever the budget.
        let e = error_of(&categorical_chain(1, &[0], MAX_CATEGORY + 1));
        assert!(
            matches!(e, ModelError::Invalid { .. })
                && e.to_string()
                    .contains("node 0: the category 16777216 is above 2^24 - 1"),
            "{e}"
        );
    }
}
