//! Bounds on what a small file can make the importer build: tree nodes
//! once shared nodes are copied, features and their generated names,
//! values made from constants, and the columns a block of rows holds.
//! Each of these files made gigabytes before its bound.

use super::*;

fn tensor_attr(name: &str, values: &[f32]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: 4,
        t: Some(TensorProto {
            dims: vec![values.len() as i64],
            data_type: 1,
            raw_data: values.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A graph of `nodes` over `inputs` (and `initializer`) to the float output `y`.
fn graph(
    nodes: Vec<NodeProto>,
    inputs: Vec<ValueInfoProto>,
    initializer: Vec<TensorProto>,
    ml: i64,
) -> Vec<u8> {
    ModelProto {
        ir_version: 8,
        opset_import: opsets(17, ml),
        graph: Some(GraphProto {
            node: nodes,
            name: "g".into(),
            initializer,
            input: inputs,
            output: vec![value("y", tensor_type(1, &[None, Some(1)]))],
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn wide_input(name: &str, width: i64) -> ValueInfoProto {
    value(name, tensor_type(1, &[None, Some(width)]))
}

fn reduce_sum(input: &str, output: &str) -> NodeProto {
    node(
        "ReduceSum",
        "",
        &[input],
        &[output],
        vec![ints("axes", &[1])],
    )
}

/// `trees` trees of 20 nodes: 19 splits, each with both branches on the
/// next node, then a leaf. Unshared, each is 2^20 - 1 nodes.
fn chain_trees(trees: i64) -> NodeProto {
    let depth = 19;
    let (mut tree_ids, mut ids, mut modes, mut next) = (vec![], vec![], vec![], vec![]);
    for t in 0..trees {
        for i in 0..=depth {
            tree_ids.push(t);
            ids.push(i);
            modes.push(if i == depth { "LEAF" } else { "BRANCH_LEQ" });
            next.push(if i == depth { 0 } else { i + 1 });
        }
    }
    let n = tree_ids.len();
    let leaves: Vec<i64> = (0..trees).collect();
    node(
        "TreeEnsembleRegressor",
        "ai.onnx.ml",
        &["input"],
        &["y"],
        vec![
            ints("nodes_treeids", &tree_ids),
            ints("nodes_nodeids", &ids),
            ints("nodes_featureids", &vec![0; n]),
            strings("nodes_modes", &modes),
            floats("nodes_values", &vec![0.5; n]),
            ints("nodes_truenodeids", &next),
            ints("nodes_falsenodeids", &next),
            ints("target_treeids", &leaves),
            ints("target_nodeids", &vec![depth; trees as usize]),
            ints("target_ids", &vec![0; trees as usize]),
            floats("target_weights", &vec![1.0; trees as usize]),
        ],
    )
}

#[test]
fn copies_of_shared_nodes_are_bounded_across_the_ensemble() {
    // Four chains unshare to 4 × (2^20 - 1) nodes, within 2^22; a fifth
    // passes it (ten such trees, 4.6 KB, made 740 MB; forty, 2.9 GB).
    let model = Model::from_bytes(
        &model_with(vec![chain_trees(4)], float_input(), "y", 1),
        None,
    )
    .expect("4 chains fit");
    assert_eq!(model.score(&[1.0, 0.0, 0.0]).expect("scores"), vec![4.0]);
    let e = refusal(&model_with(vec![chain_trees(5)], float_input(), "y", 1));
    assert!(
        e.starts_with("unsupported ONNX model")
            && e.contains(
                "tree 4: the ensembles have more than 4194304 tree nodes once shared nodes are \
                 copied (at most max(2^22, 4 × the 100 tree nodes the file writes)"
            ),
        "{e}"
    );
}

/// An opset-5 `TreeEnsemble` of chains as in [`chain_trees`], rooted at `roots`.
fn opset5_chains(chains: usize, roots: &[i64]) -> Vec<u8> {
    let depth = 19;
    let (mut next, mut leaf) = (vec![], vec![]);
    for c in 0..chains {
        for i in 0..depth {
            let last = i == depth - 1;
            next.push(if last { 0 } else { (c * depth + i + 1) as i64 });
            leaf.push(i64::from(last));
        }
    }
    let n = next.len();
    let tree = node(
        "TreeEnsemble",
        "ai.onnx.ml",
        &["input"],
        &["y"],
        vec![
            ints("tree_roots", roots),
            ints("nodes_featureids", &vec![0; n]),
            tensor_attr("nodes_splits", &vec![0.5; n]),
            tensor_attr("nodes_modes", &vec![0.0; n]),
            ints("nodes_truenodeids", &next),
            ints("nodes_falsenodeids", &next),
            ints("nodes_trueleafs", &leaf),
            ints("nodes_falseleafs", &leaf),
            ints("leaf_targetids", &[0]),
            tensor_attr("leaf_weights", &[1.0]),
        ],
    );
    graph(vec![tree], vec![value("input", float_input())], vec![], 5)
}

#[test]
fn opset_5_trees_are_bounded_and_a_root_is_one_trees() {
    // A root listed forty times (658 bytes) made forty trees of 2^20 nodes.
    let e = refusal(&opset5_chains(1, &[0; 40]));
    assert!(
        e.starts_with("invalid ONNX model") && e.contains("tree_roots lists node 0 twice"),
        "{e}"
    );
    // Five distinct chains pass the program's 2^22 nodes, counted as made.
    let roots: Vec<i64> = (0..5).map(|c| c * 19).collect();
    let e = refusal(&opset5_chains(5, &roots));
    assert!(
        e.starts_with("unsupported ONNX model")
            && e.contains("the ensembles have more than 4194304 tree nodes"),
        "{e}"
    );
    let model = Model::from_bytes(&opset5_chains(1, &[0]), None).expect("one chain loads");
    assert_eq!(model.score(&[1.0, 0.0, 0.0]).expect("scores"), vec![1.0]);
}

#[test]
fn a_models_inputs_take_at_most_2_to_the_20_features() {
    // 16 inputs of 65,536 columns are 2^20 features, each named; 17 are
    // refused (4,095 such inputs, 110 KB, asked for 10 GiB of names).
    let inputs = |k: usize| {
        (0..k)
            .map(|i| wide_input(&format!("x{i}"), 65536))
            .collect()
    };
    let sum = || vec![reduce_sum("x0", "y")];
    let model = Model::from_bytes(&graph(sum(), inputs(16), vec![], 3), None).expect("2^20 fits");
    let names = model.feature_names().expect("named");
    assert_eq!((names.len(), names[65536].as_str()), (1 << 20, "x1_0"));
    let e = refusal(&graph(sum(), inputs(17), vec![], 3));
    assert!(
        e.contains(
            "17 inputs of 1114112 features in all (an ONNX model's inputs may take at most 1048576)"
        ),
        "{e}"
    );
    // A long name repeats in each of its columns' names.
    let long = "n".repeat(1100);
    let named = vec![wide_input(&long, 65536), wide_input("x", 65536)];
    let e = refusal(&graph(vec![reduce_sum("x", "y")], named, vec![], 3));
    assert!(
        e.contains(
            "feature names (one per column, `<input>_<column>`) would take 69 MiB; at most 64 MiB"
        ),
        "{e}"
    );
}

#[test]
fn values_made_from_constants_or_from_nothing_are_bounded() {
    // 513 sums over a 65,536-wide input make 2^25 + 65,536 ones (2,000 of
    // them, 86 KB, made 1 GiB).
    let mut nodes: Vec<NodeProto> = (0..513)
        .map(|i| reduce_sum("x", &format!("r{i}")))
        .collect();
    let sums: Vec<String> = (0..513).map(|i| format!("r{i}")).collect();
    let sums: Vec<&str> = sums.iter().map(String::as_str).collect();
    nodes.push(node("Concat", "", &sums, &["c"], vec![]));
    nodes.push(reduce_sum("c", "y"));
    let e = refusal(&graph(nodes, vec![wide_input("x", 65536)], vec![], 3));
    assert!(
        e.contains(
            "ReduceSum node 'ReduceSum_1': the program's nodes would make more than 33554432 \
             constant values"
        ) && e.contains("at most the 0 values of the file's constants plus 2^25"),
        "{e}"
    );
    // One weight matrix of 65,536 values, read by 520 MatMul nodes.
    let weights = TensorProto {
        name: "W".into(),
        dims: vec![65536, 1],
        data_type: 1,
        raw_data: vec![0; 4 * 65536],
        ..Default::default()
    };
    let mut nodes: Vec<NodeProto> = (0..520)
        .map(|i| node("MatMul", "", &["x", "W"], &[&format!("m{i}")], vec![]))
        .collect();
    let products: Vec<String> = (0..520).map(|i| format!("m{i}")).collect();
    let products: Vec<&str> = products.iter().map(String::as_str).collect();
    nodes.push(node("Concat", "", &products, &["c"], vec![]));
    nodes.push(reduce_sum("c", "y"));
    let e = refusal(&graph(
        nodes,
        vec![wide_input("x", 65536)],
        vec![weights],
        3,
    ));
    assert!(
        e.contains("MatMul node 'MatMul_1': the program's nodes would make more than 33619968")
            && e.contains("at most the 65536 values of the file's constants plus 2^25"),
        "{e}"
    );
}

#[test]
fn the_columns_of_a_programs_values_are_bounded_and_wide_programs_score_fewer_rows_a_block() {
    // 64 values of 65,536 columns (a 1.2 KB file) would hold 32 MiB a row.
    let chain = |k: usize| {
        let mut nodes = Vec::new();
        let mut prev = "x".to_owned();
        for i in 0..k {
            nodes.push(node("Relu", "", &[&prev], &[&format!("a{i}")], vec![]));
            prev = format!("a{i}");
        }
        nodes.push(reduce_sum(&prev, "y"));
        graph(nodes, vec![wide_input("x", 65536)], vec![], 3)
    };
    let e = refusal(&chain(63));
    assert!(
        e.contains(
            "the program's values would take 4194305 columns per row in all (at most 4194304"
        ),
        "{e}"
    );
    // 3 × 30,000 columns: blocks of 46 rows, which score as rows alone do.
    let width = 30_000;
    let nodes = vec![
        node("Relu", "", &["x"], &["a"], vec![]),
        node("Abs", "", &["a"], &["b"], vec![]),
        reduce_sum("b", "y"),
    ];
    let model = Model::from_bytes(&graph(nodes, vec![wide_input("x", width)], vec![], 3), None)
        .expect("loads");
    let rows: Vec<f64> = (0..100 * width).map(|i| ((i % 7) as f64) - 3.0).collect();
    let batch = model.score(&rows).expect("scores");
    let alone: Vec<f64> = rows
        .chunks(width as usize)
        .map(|row| model.score(row).expect("scores")[0])
        .collect();
    assert_eq!(batch, alone);
    assert_eq!(batch.len(), 100);
}
