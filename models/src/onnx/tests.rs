//! Refusals: what edgescore does not score is refused at load, naming what
//! and where, with what to do.

use prost::Message;

use super::proto::*;
use crate::{Format, Model, ModelError};

fn tensor_type(elem: i32, dims: &[Option<i64>]) -> TypeProto {
    TypeProto {
        value: Some(Value::TensorType(TensorType {
            elem_type: elem,
            shape: Some(TensorShapeProto {
                dim: dims
                    .iter()
                    .map(|d| Dimension {
                        value: Some(match d {
                            Some(v) => DimensionValue::DimValue(*v),
                            None => DimensionValue::DimParam("N".into()),
                        }),
                    })
                    .collect(),
            }),
        })),
    }
}

fn value(name: &str, t: TypeProto) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(t),
    }
}

fn node(
    op: &str,
    domain: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        name: format!("{op}_1"),
        op_type: op.into(),
        domain: domain.into(),
        attribute: attrs,
    }
}

fn floats(name: &str, v: &[f32]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: 6,
        floats: v.to_vec(),
        ..Default::default()
    }
}

fn strings(name: &str, v: &[&str]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: 8,
        strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: 7,
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn opsets(onnx: i64, ml: i64) -> Vec<OperatorSetIdProto> {
    vec![
        OperatorSetIdProto {
            domain: String::new(),
            version: onnx,
        },
        OperatorSetIdProto {
            domain: "ai.onnx.ml".into(),
            version: ml,
        },
    ]
}

/// A model: `input` [N, 3] float through `nodes` to the float output `y`.
fn model_with(nodes: Vec<NodeProto>, input: TypeProto, output: &str, output_width: i64) -> Vec<u8> {
    ModelProto {
        ir_version: 8,
        opset_import: opsets(17, 3),
        graph: Some(GraphProto {
            node: nodes,
            name: "g".into(),
            input: vec![value("input", input)],
            output: vec![value(output, tensor_type(1, &[None, Some(output_width)]))],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn scaler_to(output: &str) -> NodeProto {
    node(
        "Scaler",
        "ai.onnx.ml",
        &["input"],
        &[output],
        vec![floats("offset", &[1.0]), floats("scale", &[2.0])],
    )
}

fn linear_regressor(input: &str) -> NodeProto {
    node(
        "LinearRegressor",
        "ai.onnx.ml",
        &[input],
        &["y"],
        vec![
            floats("coefficients", &[1.0, -1.0, 0.5]),
            floats("intercepts", &[0.25]),
        ],
    )
}

fn refusal(bytes: &[u8]) -> String {
    match Model::from_bytes(bytes, None) {
        Ok(_) => panic!("the model loaded"),
        Err(
            e @ (ModelError::Unsupported {
                format: Format::Onnx,
                ..
            }
            | ModelError::Invalid {
                format: Format::Onnx,
                ..
            }),
        ) => e.to_string(),
        Err(other) => panic!("not an ONNX error: {other}"),
    }
}

fn float_input() -> TypeProto {
    tensor_type(1, &[None, Some(3)])
}

#[test]
fn a_small_graph_scores_in_float32() {
    let bytes = model_with(
        vec![scaler_to("s"), linear_regressor("s")],
        float_input(),
        "y",
        1,
    );
    let model = Model::from_bytes(&bytes, None).expect("loads");
    assert_eq!(model.num_features(), 3);
    assert_eq!(
        model.feature_names(),
        None,
        "one [N, F] input binds by position"
    );
    // ((x - 1) * 2) . [1, -1, 0.5] + 0.25, exact in float32 here.
    let score = model.score(&[2.0, 1.0, 3.0]).expect("scores");
    assert_eq!(score, vec![2.0 - 0.0 + 2.0 + 0.25]);
    // 0.1 reaches the model as float32.
    let narrowed = model.score(&[0.1, 1.0, 1.0]).expect("scores")[0];
    assert_eq!(narrowed, f64::from((0.1_f32 - 1.0) * 2.0 + 0.25));
}

#[test]
fn an_unsupported_operator_on_the_score_path_is_named_with_its_node() {
    let lstm = node("LSTM", "", &["s"], &["h"], vec![]);
    let bytes = model_with(
        vec![scaler_to("s"), lstm, linear_regressor("h")],
        float_input(),
        "y",
        1,
    );
    let e = refusal(&bytes);
    assert!(e.contains("LSTM") && e.contains("LSTM_1"), "{e}");
}

#[test]
fn an_operator_off_the_score_path_is_not_needed() {
    // A label branch the score does not depend on.
    let argmax = node("ArgMax", "", &["s"], &["label"], vec![]);
    let mut bytes_model = ModelProto::decode(
        model_with(
            vec![scaler_to("s"), argmax, linear_regressor("s")],
            float_input(),
            "y",
            1,
        )
        .as_slice(),
    )
    .expect("decodes");
    let graph = bytes_model.graph.as_mut().expect("graph");
    graph.output.push(value("label", tensor_type(7, &[None])));
    Model::from_bytes(&bytes_model.encode_to_vec(), None).expect("loads without ArgMax");
}

#[test]
fn string_inputs_sequences_and_free_widths_are_refused_with_what_to_do() {
    let cases = [
        (tensor_type(8, &[None, Some(3)]), "string"),
        (tensor_type(1, &[None, None]), "shape [?, ?]"),
        (tensor_type(1, &[None, Some(3), Some(2)]), "shape [?, 3, 2]"),
        (
            TypeProto {
                value: Some(Value::SequenceType(Box::new(SequenceType {
                    elem_type: Some(Box::new(float_input())),
                }))),
            },
            "sequence or map",
        ),
    ];
    for (input, words) in cases {
        let e = refusal(&model_with(vec![linear_regressor("input")], input, "y", 1));
        assert!(
            e.contains(words) && e.contains("input 'input'"),
            "{words}: {e}"
        );
    }
}

#[test]
fn operator_sets_outside_the_supported_range_are_refused() {
    for (onnx, ml, words) in [
        (30, 3, "ai.onnx version 30"),
        (17, 9, "ai.onnx.ml version 9"),
    ] {
        let mut m = ModelProto::decode(
            model_with(vec![linear_regressor("input")], float_input(), "y", 1).as_slice(),
        )
        .expect("decodes");
        m.opset_import = opsets(onnx, ml);
        let e = refusal(&m.encode_to_vec());
        assert!(e.contains(words), "{e}");
    }
}

#[test]
fn a_multi_class_model_is_refused_not_reduced() {
    let classifier = node(
        "LinearClassifier",
        "ai.onnx.ml",
        &["input"],
        &["label", "y"],
        vec![
            floats("coefficients", &[1.0; 9]),
            floats("intercepts", &[0.0; 3]),
            ints("classlabels_ints", &[0, 1, 2]),
        ],
    );
    let e = refusal(&model_with(vec![classifier], float_input(), "y", 3));
    assert!(
        e.contains("3 class probabilities") && e.contains("binary"),
        "{e}"
    );
}

#[test]
fn an_oversized_file_is_refused_before_it_is_parsed() {
    let mut bytes = vec![0u8; super::import::MAX_BYTES + 1];
    bytes[..2].copy_from_slice(&[0x08, 0x08]);
    let e = refusal(&bytes);
    assert!(e.contains("MiB"), "{e}");
}

#[test]
fn bytes_that_are_not_a_protobuf_are_invalid_not_a_panic() {
    let e = refusal(&[0x08, 0x07, 0x3a, 0xff, 0xff, 0xff]);
    assert!(e.contains("not an ONNX protobuf"), "{e}");
}

#[test]
fn a_large_opset_5_membership_set_is_refused() {
    let tensor = |data_type: i32, dims: i64, raw: Vec<u8>| TensorProto {
        dims: vec![dims],
        data_type,
        raw_data: raw,
        ..Default::default()
    };
    let t = |name: &str, t: TensorProto| AttributeProto {
        name: name.into(),
        r#type: 4,
        t: Some(t),
        ..Default::default()
    };
    let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let members: Vec<f32> = (0..40).map(|m| m as f32).chain([f32::NAN]).collect();
    let tree = node(
        "TreeEnsemble",
        "ai.onnx.ml",
        &["input"],
        &["y"],
        vec![
            ints("nodes_featureids", &[0]),
            t("nodes_modes", tensor(2, 1, vec![6])),
            t("nodes_splits", tensor(1, 1, f32s(&[0.0]))),
            ints("nodes_truenodeids", &[0]),
            ints("nodes_falsenodeids", &[1]),
            ints("nodes_trueleafs", &[1]),
            ints("nodes_falseleafs", &[1]),
            ints("leaf_targetids", &[0, 0]),
            t("leaf_weights", tensor(1, 2, f32s(&[1.0, 2.0]))),
            ints("tree_roots", &[0]),
            t(
                "membership_values",
                tensor(1, members.len() as i64, f32s(&members)),
            ),
        ],
    );
    let mut m = ModelProto::decode(model_with(vec![tree], float_input(), "y", 1).as_slice())
        .expect("decodes");
    m.opset_import = opsets(21, 5);
    let e = refusal(&m.encode_to_vec());
    assert!(
        e.contains("BRANCH_MEMBER set of 40 members") && e.contains("int32"),
        "{e}"
    );
}

#[test]
fn a_missing_value_through_relu_stays_missing() {
    let relu = node("Relu", "", &["s"], &["r"], vec![]);
    let bytes = model_with(
        vec![scaler_to("s"), relu, linear_regressor("r")],
        float_input(),
        "y",
        1,
    );
    let model = Model::from_bytes(&bytes, None).expect("loads");
    let scores = model
        .score(&[f64::NAN, 1.0, 1.0, 2.0, 1.0, 1.0])
        .expect("scores");
    assert!(scores[0].is_nan(), "{scores:?}");
    assert!(scores[1].is_finite(), "{scores:?}");
}

#[test]
fn a_value_defined_twice_is_invalid() {
    let bytes = model_with(
        vec![scaler_to("s"), scaler_to("s"), linear_regressor("s")],
        float_input(),
        "y",
        1,
    );
    let e = refusal(&bytes);
    assert!(e.contains("'s'") && e.contains("already defined"), "{e}");
}

#[test]
fn a_tree_with_a_shared_node_scores_as_onnxruntime_walks_it() {
    // Two equality tests sharing one true child (how onnxmltools writes a
    // LightGBM category test): x0 == 1 or x0 == 3 -> 10, else -> -10.
    let tree = node(
        "TreeEnsembleRegressor",
        "ai.onnx.ml",
        &["input"],
        &["y"],
        vec![
            ints("nodes_treeids", &[0, 0, 0, 0]),
            ints("nodes_nodeids", &[0, 1, 2, 3]),
            ints("nodes_featureids", &[0, 0, 0, 0]),
            strings("nodes_modes", &["BRANCH_EQ", "BRANCH_EQ", "LEAF", "LEAF"]),
            floats("nodes_values", &[1.0, 3.0, 0.0, 0.0]),
            ints("nodes_truenodeids", &[2, 2, 0, 0]),
            ints("nodes_falsenodeids", &[1, 3, 0, 0]),
            ints("target_treeids", &[0, 0]),
            ints("target_nodeids", &[2, 3]),
            ints("target_ids", &[0, 0]),
            floats("target_weights", &[10.0, -10.0]),
        ],
    );
    let model = Model::from_bytes(&model_with(vec![tree], float_input(), "y", 1), None)
        .expect("a shared node loads");
    let rows = [1.0, 0.0, 0.0, 3.0, 0.0, 0.0, 2.0, 0.0, 0.0];
    assert_eq!(model.score(&rows).expect("scores"), vec![10.0, 10.0, -10.0]);
}

#[test]
fn weights_that_nothing_defines_are_named() {
    let matmul = node("MatMul", "", &["s", "W"], &["y"], vec![]);
    let e = refusal(&model_with(
        vec![scaler_to("s"), matmul],
        float_input(),
        "y",
        1,
    ));
    assert!(e.contains("reads 'W', which nothing defines"), "{e}");
    // A computed value where a constant belongs says so.
    let matmul = node("MatMul", "", &["s", "s"], &["y"], vec![]);
    let e = refusal(&model_with(
        vec![scaler_to("s"), matmul],
        float_input(),
        "y",
        1,
    ));
    assert!(e.contains("the weights must be a constant"), "{e}");
}

#[test]
fn a_graph_listed_out_of_order_scores_and_a_cycle_is_refused() {
    // onnxruntime sorts the nodes itself; so does edgescore.
    let bytes = model_with(
        vec![linear_regressor("s"), scaler_to("s")],
        float_input(),
        "y",
        1,
    );
    let model = Model::from_bytes(&bytes, None).expect("loads out of order");
    assert_eq!(model.score(&[2.0, 1.0, 3.0]).expect("scores"), vec![4.25]);

    // s = Relu(t), t = Relu(s): neither can be computed first.
    let a = node("Relu", "", &["t"], &["s"], vec![]);
    let b = node("Relu", "", &["s"], &["t"], vec![]);
    let e = refusal(&model_with(
        vec![a, b, linear_regressor("s")],
        float_input(),
        "y",
        1,
    ));
    assert!(e.contains("cycle"), "{e}");
}

#[test]
fn a_flatten_or_squeeze_across_rows_is_refused() {
    let attr_axis = AttributeProto {
        name: "axis".into(),
        r#type: 2,
        i: 0,
        ..Default::default()
    };
    let flatten = node("Flatten", "", &["s"], &["f"], vec![attr_axis]);
    let e = refusal(&model_with(
        vec![scaler_to("s"), flatten, linear_regressor("f")],
        float_input(),
        "y",
        1,
    ));
    assert!(e.contains("axis 1"), "{e}");
    let squeeze = node("Squeeze", "", &["s"], &["f"], vec![ints("axes", &[0])]);
    let e = refusal(&model_with(
        vec![scaler_to("s"), squeeze, linear_regressor("f")],
        float_input(),
        "y",
        1,
    ));
    assert!(e.contains("exclude 0"), "{e}");
}

#[test]
fn leaky_relu_scales_negative_values_in_float32() {
    let alpha = AttributeProto {
        name: "alpha".into(),
        r#type: 1,
        f: 0.1,
        ..Default::default()
    };
    let leaky = node("LeakyRelu", "", &["input"], &["r"], vec![alpha]);
    let bytes = model_with(vec![leaky, linear_regressor("r")], float_input(), "y", 1);
    let model = Model::from_bytes(&bytes, None).expect("loads");
    // [-3, 2, 0] -> [-0.3 (float32), 2, 0] . [1, -1, 0.5] + 0.25
    let want = f64::from(-3.0_f32 * 0.1_f32 - 2.0 + 0.25);
    assert_eq!(model.score(&[-3.0, 2.0, 0.0]).expect("scores"), vec![want]);
}

#[test]
fn a_cast_to_int64_out_of_range_is_int64_min_as_onnxruntime_casts_it() {
    let to = |t: i64| AttributeProto {
        name: "to".into(),
        r#type: 2,
        i: t,
        ..Default::default()
    };
    let to_int = node("Cast", "", &["input"], &["i"], vec![to(7)]);
    let mut back = node("Cast", "", &["i"], &["f"], vec![to(1)]);
    back.name = "Cast_2".into();
    let bytes = model_with(
        vec![to_int, back, linear_regressor("f")],
        float_input(),
        "y",
        1,
    );
    let model = Model::from_bytes(&bytes, None).expect("loads");
    let min = f64::from(i64::MIN as f32);
    let scores = model
        .score(&[2.7, 1e30, f64::NAN, -2.7, 0.0, 0.0])
        .expect("scores");
    assert_eq!(
        scores[0],
        f64::from(2.0_f32 - min as f32 + 0.5 * min as f32 + 0.25)
    );
    assert_eq!(scores[1], -2.0 + 0.25);
}

#[test]
fn input_widths_past_the_feature_limit_are_refused_before_features_are_named() {
    // 4097 inputs of 65536 columns declare 2^28 + 65536 features, each of
    // which would get a generated name (about 10 GiB of them) from a file of
    // a few tens of KiB: the declared sum is refused first.
    let inputs: Vec<ValueInfoProto> = (0..4097)
        .map(|i| value(&format!("x{i}"), tensor_type(1, &[None, Some(65536)])))
        .collect();
    let bytes = ModelProto {
        ir_version: 8,
        opset_import: opsets(17, 3),
        graph: Some(GraphProto {
            name: "g".into(),
            input: inputs,
            output: vec![value("y", tensor_type(1, &[None, Some(1)]))],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec();
    let e = refusal(&bytes);
    assert!(
        e.contains("268500992 features (at most 268435455 are supported)"),
        "{e}"
    );
}

#[test]
fn weights_whose_dims_overflow_are_refused_not_a_panic() {
    // 4 x 2^62 wraps to 0, the number of values the tensor holds: the
    // product is checked, so these weights are not a constant of 2^64
    // entries that MatMul would size its matrix by.
    let weights = TensorProto {
        name: "W".into(),
        data_type: 1,
        dims: vec![4, 1 << 62],
        ..Default::default()
    };
    let bytes = ModelProto {
        ir_version: 8,
        opset_import: opsets(17, 3),
        graph: Some(GraphProto {
            node: vec![node("MatMul", "", &["input", "W"], &["y"], vec![])],
            name: "g".into(),
            initializer: vec![weights],
            input: vec![value("input", tensor_type(1, &[None, Some(4)]))],
            output: vec![value("y", tensor_type(1, &[None, Some(1)]))],
        }),
        ..Default::default()
    }
    .encode_to_vec();
    let e = refusal(&bytes);
    assert!(e.contains("MatMul node 'MatMul_1'"), "{e}");
}

#[test]
fn a_node_id_past_its_own_trees_node_count_is_refused() {
    // Tree 0 has one node, with id 2: below the ensemble's 3 nodes, but a
    // tree's ids run up to its own count (the check that keeps a tree's
    // nodes from being sized by the whole ensemble, once per tree).
    let tree = node(
        "TreeEnsembleRegressor",
        "ai.onnx.ml",
        &["input"],
        &["y"],
        vec![
            ints("nodes_treeids", &[0, 1, 1]),
            ints("nodes_nodeids", &[2, 0, 1]),
            ints("nodes_featureids", &[0, 0, 0]),
            strings("nodes_modes", &["LEAF", "BRANCH_LEQ", "LEAF"]),
            floats("nodes_values", &[0.0, 1.0, 0.0]),
            ints("nodes_truenodeids", &[0, 1, 0]),
            ints("nodes_falsenodeids", &[0, 1, 0]),
            ints("target_treeids", &[0, 1]),
            ints("target_nodeids", &[2, 1]),
            ints("target_ids", &[0, 0]),
            floats("target_weights", &[1.0, 2.0]),
        ],
    );
    let e = refusal(&model_with(vec![tree], float_input(), "y", 1));
    assert!(
        e.contains("tree 0: node id 2 is past the tree's node count 1"),
        "{e}"
    );
}

mod bounds;
