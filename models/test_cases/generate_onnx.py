#!/usr/bin/env python3
"""Generate the ONNX golden test cases, models/test_cases/onnx_*/, from the real libraries.

Every expected score here comes from onnxruntime (pinned in requirements-onnx.txt),
running the very model.onnx file that is committed, never from edgescore. The
Rust tests read the committed files and need no Python.

Layout of one case, `onnx_<name>/`:
  model.onnx               the model as the converter (skl2onnx, onnxmltools, or
                           onnx.helper for the hand-built network) wrote it
  case.json                `"kind": "onnx"`, the trainer, the converter and its
                           options, `inputs` ("tensor": one [N, F] input;
                           "columns": one [N, 1] input per feature, named after
                           it), `positive_class` (the label whose probability is
                           the score; null for a regressor), `score_output`
                           (which graph output holds the score), and under
                           `sets` how each input set was made and which
                           references it has
  <set>.input.csv          a header of the feature names in the model's input
                           order, then one row per example: the float64 values
                           the user has, each the shortest decimal that reads
                           back to that float64 (Python's repr); empty for NaN.
                           The ONNX model is given them cast to its input type
                           (X.astype(np.float32) for a FloatTensorType input).
  <set>.expected.csv       `score,raw`: onnxruntime's output with one intra-op
                           and one inter-op thread: the probability of the
                           positive class for a classifier (from the ZipMap's
                           dict, or from the probability tensor's column), the
                           value for a regressor. `raw` is the same value (an
                           ONNX graph's output is its score). Written as
                           repr(float(v)) of the float32 output widened.
  <set>.trainer.csv        `score`: the training library's own prediction on
                           the float64 rows (predict_proba[:, positive] or
                           predict; a numpy float64 forward pass for the
                           hand-built network). Only for sets where it is meant
                           to agree with onnxruntime; case.json says when it is
                           absent and why.

Input sets:
  random     200 held-out float64 rows (all their digits); NaN included where
             the model was trained with NaN.
  boundary   tree ensembles: found by walking the trees of model.onnx itself.
             For a sample of the distinct (feature, float32 threshold) splits
             (all of them when there are at most BOUNDARY_MAX_SPLITS), rows that
             reach a node with that split and sit exactly on the threshold and
             on its float32 neighbours just below and just above; then, where
             the model was trained with NaN, NaN at that split, a row of all
             NaN and rows with one NaN feature each. Float32 values, widened.

Cases: skl2onnx with default options and with zipmap=False for a
Pipeline(StandardScaler, LogisticRegression) and a RandomForestClassifier;
default options for ExtraTrees, GradientBoosting, HistGradientBoosting (NaN),
DecisionTreeRegressor, a Pipeline(StandardScaler, MLPClassifier(16, 8)) and a
DecisionTreeClassifier with string labels ("clean"/"fraud": the positive class is the second);
onnxmltools for XGBoost binary:logistic and LightGBM binary (both with NaN);
one input per feature (onnx_logreg_columns); a DoubleTensorType pipeline
(zipmap=False: onnxruntime refuses skl2onnx's ZipMap over double); and a
Gemm -> Relu -> Gemm -> Sigmoid network written with onnx.helper.

The onnx_op_* cases are tiny hand-built ONNX-ML graphs (onnx.helper, features
f0..f(F-1), no trainer) for the semantics the converters never write: every
node mode with nodes_missing_value_tracks_true on some splits, AVERAGE/MIN/MAX,
PROBIT, binary classifiers with SOFTMAX/LOGISTIC and base_values,
Imputer/Scaler/Normalizer/LinearRegressor/LinearClassifier,
ArrayFeatureExtractor/Binarizer/Concat/Gemm/Tanh, double thresholds with a
tensor(double) input, and the opset-5 TreeEnsemble with BRANCH_MEMBER (see
op_cases(); --op-only writes just those).

Converters are called with name=<case> (the graph name is otherwise a random
UUID), and the script runs itself with PYTHONHASHSEED=0 (skl2onnx orders
opset_import by iterating a set), so that every byte of model.onnx is the same
on every run.

--ops FILE also writes an inventory of every graph (opsets, inputs, outputs,
every node and attribute) and checks which plain float32 evaluation of the
tree-ensemble and linear attributes reproduces onnxruntime bit for bit.

Usage:
  python3 -m venv /tmp/ovenv
  /tmp/ovenv/bin/pip install -r models/test_cases/requirements.txt -r models/test_cases/requirements-onnx.txt
  /tmp/ovenv/bin/python models/test_cases/generate_onnx.py
  /tmp/ovenv/bin/python models/test_cases/generate_onnx.py --ops /tmp/onnx_notes/ops.md   # also an inventory of every graph
  /tmp/ovenv/bin/python models/test_cases/generate_onnx.py --op-only   # only the hand-built onnx_op_* cases
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import warnings
from pathlib import Path

import google.protobuf
import lightgbm as lgb
import numpy as np
import onnx
import onnxmltools
import onnxruntime as ort
import pandas as pd
import skl2onnx
import sklearn
import xgboost as xgb
from onnx import helper, numpy_helper
from onnxmltools.convert.common.data_types import FloatTensorType as MLFloatTensorType
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import generate as g  # noqa: E402  (the data writers and the Box of the other generator)

SEED = g.SEED + 5000  # the ONNX cases draw from their own generators
NAMES = g.FRAUD_FEATURES
N_RANDOM = 200
BOUNDARY_MAX_SPLITS = 600

TREE_OPS = {"TreeEnsembleClassifier", "TreeEnsembleRegressor", "TreeEnsemble"}


# ---------------------------------------------------------------- data


def fraud_like64(n: int, rng: np.random.Generator, nan_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """generate.fraud_like's transactions, kept in float64 (continuous columns
    have all their digits), at a higher fraud rate; integer-valued columns
    give thresholds at x.5."""
    return g.fraud_like(n, rng, nan_rate, intercept=-3.0, dtype=np.float64)


def regression_target(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return 0.01 * X[:, 0] + 5.0 * X[:, 2] + 0.3 * X[:, 4] + rng.normal(0, 0.5, len(X))


# ---------------------------------------------------------------- onnxruntime


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3  # onnxmltools declares LightGBM's label output as shape [1]: a warning per run
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def feed(sess: ort.InferenceSession, X64: np.ndarray, inputs: str) -> dict:
    ins = sess.get_inputs()
    dtype = {"tensor(float)": np.float32, "tensor(double)": np.float64}[ins[0].type]
    with np.errstate(over="ignore"):
        X = X64.astype(dtype)
    if inputs == "tensor":
        assert len(ins) == 1
        return {ins[0].name: X}
    assert len(ins) == X.shape[1]
    return {inp.name: X[:, [j]] for j, inp in enumerate(ins)}


def ort_scores(sess: ort.InferenceSession, X64: np.ndarray, inputs: str, score_output: dict) -> np.ndarray:
    """The score per row as float64 (the float32 output widened exactly)."""
    outs = sess.run(None, feed(sess, X64, inputs))
    by_name = {o.name: v for o, v in zip(sess.get_outputs(), outs)}
    v = by_name[score_output["name"]]
    how = score_output["how"]
    if how == "zipmap":
        key = score_output["key"]
        return np.array([np.float32(d[key]) for d in v], dtype=np.float32).astype(np.float64)
    v = np.asarray(v)
    assert v.dtype in (np.float32, np.float64), v.dtype
    if how == "column":
        assert v.ndim == 2, v.shape
        return v[:, score_output["column"]].astype(np.float64)
    assert how == "value"
    assert v.size == len(X64), v.shape
    return v.reshape(-1).astype(np.float64)


def classifier_output(model: onnx.ModelProto, positive, classes: list) -> dict:
    """Which graph output holds the positive class's probability, and how to read it."""
    outs = model.graph.output
    for o in outs:
        if o.type.HasField("sequence_type"):
            return {"name": o.name, "how": "zipmap", "key": positive}
    for o in outs:
        t = o.type.tensor_type
        if t.elem_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE) and "prob" in o.name:
            return {"name": o.name, "how": "column", "column": classes.index(positive)}
    raise RuntimeError(f"no probability output among {[o.name for o in outs]}")


def regressor_output(model: onnx.ModelProto) -> dict:
    assert len(model.graph.output) == 1
    return {"name": model.graph.output[0].name, "how": "value"}


# ---------------------------------------------------------------- writing


def write_trainer(path: Path, score: np.ndarray) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["score"])
        for s in score:
            w.writerow([g.fmt64(float(s))])


def references() -> dict:
    return {
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
        "skl2onnx": skl2onnx.__version__,
        "onnxmltools": onnxmltools.__version__,
        "protobuf": google.protobuf.__version__,
        "scikit-learn": sklearn.__version__,
        "xgboost": xgb.__version__,
        "lightgbm": lgb.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


# ---------------------------------------------------------------- boundary rows from the ONNX trees


def tree_attrs(model: onnx.ModelProto) -> dict:
    """The attributes of the model's one tree-ensemble node, as Python values."""
    nodes = [n for n in model.graph.node if n.op_type in TREE_OPS]
    assert len(nodes) == 1, [n.op_type for n in model.graph.node]
    out = {}
    for a in nodes[0].attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, onnx.TensorProto):
            v = numpy_helper.to_array(v).tolist()
        out[a.name] = v
    return out


def onnx_tree_paths(model: onnx.ModelProto, n_features: int, nan_ok: bool):
    """(Box reaching a split, feature, float32 probes, unused) for every branch node of every tree."""
    a = tree_attrs(model)
    assert "nodes_values" in a, "TreeEnsemble (ai.onnx.ml 5) layout: not written by these converters"
    tids, nids = a["nodes_treeids"], a["nodes_nodeids"]
    feats, modes, vals = a["nodes_featureids"], a["nodes_modes"], a["nodes_values"]
    trues, falses = a["nodes_truenodeids"], a["nodes_falsenodeids"]
    nodes = {}
    for k in range(len(tids)):
        m = modes[k].decode() if isinstance(modes[k], bytes) else modes[k]
        nodes[(tids[k], nids[k])] = (feats[k], m, vals[k], trues[k], falses[k])
    out = []
    for tree in sorted(set(tids)):
        children = {v[3] for (t, _), v in nodes.items() if t == tree and v[1] != "LEAF"}
        children |= {v[4] for (t, _), v in nodes.items() if t == tree and v[1] != "LEAF"}
        roots = [n for (t, n) in nodes if t == tree and n not in children]
        assert len(roots) == 1, (tree, roots)
        stack = [(roots[0], g.Box(n_features))]
        while stack:
            nid, box = stack.pop()
            f, mode, v, tn, fn = nodes[(tree, nid)]
            if mode == "LEAF":
                continue
            t = float(np.float32(v))
            tb, fb = box.copy(), box.copy()
            if mode == "BRANCH_LEQ":
                tb.below(f, t, inclusive=True)
                fb.above(f, t, inclusive=False)
            elif mode == "BRANCH_LT":
                tb.below(f, t, inclusive=False)
                fb.above(f, t, inclusive=True)
            elif mode == "BRANCH_GTE":
                tb.above(f, t, inclusive=True)
                fb.below(f, t, inclusive=False)
            elif mode == "BRANCH_GT":
                tb.above(f, t, inclusive=False)
                fb.below(f, t, inclusive=True)
            elif mode in ("BRANCH_EQ", "BRANCH_NEQ"):
                pass  # an equality narrows no range: both sides keep the box
            else:
                raise NotImplementedError(mode)
            probes = [t, float(g.f32_below(t)), float(g.f32_above(t))] + ([np.nan] if nan_ok else [])
            out.append((box, f, probes, probes))
            stack.append((tn, tb))
            stack.append((fn, fb))
    return out


def boundary_rows(model: onnx.ModelProto, n_features: int, nan_ok: bool, rng: np.random.Generator):
    """Float32 boundary rows (see the module doc); returns (rows, number of splits probed, of all)."""
    paths = onnx_tree_paths(model, n_features, nan_ok)
    keys = sorted({(f, p[0]) for _, f, p, _ in paths})
    chosen = set(keys)
    if len(keys) > BOUNDARY_MAX_SPLITS:
        # Round-robin over the features, each feature's thresholds in random order.
        per_feature = {}
        for k in keys:
            per_feature.setdefault(k[0], []).append(k)
        queues = [[ks[i] for i in rng.permutation(len(ks))] for _, ks in sorted(per_feature.items())]
        chosen = set()
        while len(chosen) < BOUNDARY_MAX_SPLITS:
            for q in queues:
                if q and len(chosen) < BOUNDARY_MAX_SPLITS:
                    chosen.add(q.pop())
    paths = [p for p in paths if (p[1], p[2][0]) in chosen]
    rows = g.boundary_rows_from_paths(paths, n_features, rng).astype(np.float64)
    if not nan_ok:
        rows = rows[~np.isnan(rows).any(axis=1)]
    return rows, len(chosen), len(keys)


# ---------------------------------------------------------------- cases

FLOAT_CAST = "float64 rows cast to float32 (X.astype(np.float32)) for the model's FloatTensorType input"


def write_case(
    name: str,
    model: onnx.ModelProto,
    *,
    description: str,
    trainer: str,
    converter: str,
    inputs: str,
    positive_class,
    score_output: dict,
    sets: list,
    extra: dict | None = None,
    names: list[str] | None = None,
) -> dict:
    """sets: (set name, float64 rows, trainer scores or None, description, why no trainer or None).
    names: the input CSV header (the fraud features unless given).

    Returns {set: max |onnxruntime - trainer|} for the sets with a trainer."""
    d = g.new_case(name)
    (d / "model.onnx").write_bytes(model.SerializeToString())
    # Expected values come from onnxruntime loading the very file we commit.
    sess = session(onnx.load(str(d / "model.onnx")))
    in_names = [i.name for i in sess.get_inputs()]
    if inputs == "columns":
        assert in_names == NAMES, in_names
    set_meta, diffs = {}, {}
    for set_name, X64, trainer_scores, text, no_trainer in sets:
        score = ort_scores(sess, X64, inputs, score_output)
        assert np.all(np.isfinite(score)), (name, set_name)
        g.write_inputs(d / f"{set_name}.input.csv", NAMES if names is None else names, X64)
        g.write_expected(d / f"{set_name}.expected.csv", score, score)
        text = f"{len(X64)} rows: {text}; expected: onnxruntime {ort.__version__}, one thread"
        if trainer_scores is not None:
            diff = float(np.max(np.abs(score - trainer_scores)))
            if no_trainer is None:
                assert diff < 1e-5, f"{name} {set_name}: trainer and onnxruntime were meant to agree, max diff {diff}"
                write_trainer(d / f"{set_name}.trainer.csv", trainer_scores)
                diffs[set_name] = diff
                text += f"; trainer.csv: the {trainer} prediction on the float64 rows (max |onnxruntime - trainer| = {diff:.3g})"
            else:
                n_far = int(np.sum(np.abs(score - trainer_scores) > 1e-4))
                text += (
                    f"; no trainer.csv: {no_trainer} ({n_far} of {len(X64)} rows differ by more than 1e-4, "
                    f"max |onnxruntime - trainer| = {diff:.3g})"
                )
            print(f"{name}: {set_name}: {len(X64)} rows, max |onnxruntime - trainer| = {diff:.3g}"
                  + ("" if no_trainer is None else " (trainer.csv not written)"))
        else:
            text += f"; no trainer.csv: {no_trainer}"
            print(f"{name}: {set_name}: {len(X64)} rows, no trainer")
        set_meta[set_name] = text
    meta = {
        "kind": "onnx",
        "description": description,
        "trainer": trainer,
        "converter": converter,
        "inputs": inputs,
        "input_names": in_names,
        "positive_class": positive_class,
        "score_output": score_output,
        **(extra or {}),
        "sets": set_meta,
        "generated_by": "models/test_cases/generate_onnx.py",
        "reference": references(),
    }
    (d / "case.json").write_text(json.dumps(meta, indent=2) + "\n")
    return diffs


def proba(est, X64: np.ndarray, positive) -> np.ndarray:
    classes = list(est.classes_)
    return est.predict_proba(X64)[:, classes.index(positive)].astype(np.float64)


SKL_TREE_BOUNDARY_AGREES = (
    "scikit-learn casts the input to float32 and compares it with its float64 threshold; skl2onnx writes the "
    "largest float32 not above that threshold (adjust_threshold_for_sklearn), so the two are meant to route "
    "every float32 row alike"
)


def sklearn_case(
    name, est, X, y, Xt, *, description, options=None, nan_ok=False, boundary=False,
    initial_types=None, inputs="tensor", positive=1, rng=None, trainer_name="scikit-learn",
    boundary_no_trainer=None, extra=None,
):
    est.fit(X, y)
    if initial_types is None:
        initial_types = [("input", FloatTensorType([None, X.shape[1]]))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = convert_sklearn(est, name=name, initial_types=initial_types, options=options)
    is_classifier = hasattr(est, "classes_")
    if is_classifier:
        score_output = classifier_output(model, positive, list(est.classes_))
        predict = lambda Z: proba(est, Z, positive)  # noqa: E731
        api = "predict_proba(X)[:, list(classes_).index(positive_class)]"
    else:
        score_output = regressor_output(model)
        predict = lambda Z: est.predict(Z).astype(np.float64)  # noqa: E731
        api = "predict(X)"
    opts = "default options" + (" (ZipMap)" if is_classifier and not options else "") if not options else f"options={options_text(options)}"
    it = ", ".join(f"('{n}', {type(t).__name__}({t.shape}))" for n, t in initial_types[:2])
    if len(initial_types) > 2:
        it += f", ... one per feature ({len(initial_types)} inputs)"
    converter = f"skl2onnx {skl2onnx.__version__} convert_sklearn(model, name='{name}', initial_types=[{it}]), {opts}"
    cast = FLOAT_CAST if isinstance(initial_types[0][1], FloatTensorType) else "float64 rows fed as they are to the DoubleTensorType input"
    sets = [("random", Xt, predict(Xt), f"held-out float64 rows{', NaN included' if nan_ok else ''}; {cast}", None)]
    extra = dict(extra or {})
    if boundary:
        Xb, n_probed, n_splits = boundary_rows(model, X.shape[1], nan_ok, rng)
        extra["boundary_splits"] = f"{n_probed} of the {n_splits} distinct (feature, float32 threshold) splits probed"
        sets.append((
            "boundary", Xb, predict(Xb),
            f"float32 rows on {n_probed} of the model's {n_splits} distinct float32 thresholds and their float32 "
            f"neighbours{', plus NaN rows' if nan_ok else ' (no NaN: the model was trained without NaN)'}; {cast}"
            + ("" if boundary_no_trainer else "; " + SKL_TREE_BOUNDARY_AGREES),
            boundary_no_trainer,
        ))
    diffs = write_case(
        name, model, description=description, trainer="scikit-learn", converter=converter, inputs=inputs,
        positive_class=positive if is_classifier else None, score_output=score_output, sets=sets,
        extra={"trainer_api": f"{trainer_name} {api}", **extra},
    )
    # A boundary trainer.csv only where it agrees.
    return model, diffs


def options_text(options: dict) -> str:
    return "{id(model): " + json.dumps(next(iter(options.values()))).replace("false", "False").replace("true", "True") + "}"


def mlmodel_case(name, est, X, y, Xt, *, kind, description, rng, nan_ok=True, fit_params=None):
    """XGBoost or LightGBM through onnxmltools, default options (ZipMap)."""
    est.fit(X, y, **(fit_params or {}))
    initial_types = [("input", MLFloatTensorType([None, X.shape[1]]))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "xgboost":
            model = onnxmltools.convert_xgboost(est, name=name, initial_types=initial_types)
            conv = "convert_xgboost"
        else:
            model = onnxmltools.convert_lightgbm(est, name=name, initial_types=initial_types)
            conv = "convert_lightgbm"
    score_output = classifier_output(model, 1, list(est.classes_))
    Xb, n_probed, n_splits = boundary_rows(model, X.shape[1], nan_ok, rng)
    if kind == "xgboost":
        why_b = None
        lib = f"xgboost {xgb.__version__} XGBClassifier.predict_proba(X)[:, 1] (xgboost casts every value to float32)"
    else:
        why_b = (
            "LightGBM compares the float64 input with its float64 threshold, which the ONNX file narrows to "
            "float32, so on float32-boundary rows they legitimately differ"
        )
        lib = f"lightgbm {lgb.__version__} LGBMClassifier.predict_proba(X)[:, 1] (float64 comparisons)"
    sets = [
        ("random", Xt, proba(est, Xt, 1), f"held-out float64 rows, NaN included; {FLOAT_CAST}", None),
        ("boundary", Xb, proba(est, Xb, 1),
         f"float32 rows on {n_probed} of the model's {n_splits} distinct float32 thresholds and their float32 "
         f"neighbours, NaN at each of them, an all-NaN row and one NaN feature per row; {FLOAT_CAST}", why_b),
    ]
    return model, write_case(
        name, model, description=description, trainer=kind,
        converter=f"onnxmltools {onnxmltools.__version__} {conv}(model, name='{name}', initial_types=[('input', FloatTensorType([None, {X.shape[1]}]))]), default options (ZipMap)",
        inputs="tensor", positive_class=1, score_output=score_output, sets=sets,
        extra={"trainer_api": lib, "params": {k: v for k, v in est.get_params().items()
                          if v is not None and isinstance(v, (int, float, str, bool)) and not (isinstance(v, float) and math.isnan(v))},
               "boundary_splits": f"{n_probed} of the {n_splits} distinct (feature, float32 threshold) splits probed"},
    )


def helper_network(Xs: np.ndarray, y: np.ndarray, rng) -> tuple[onnx.ModelProto, list]:
    """Gemm -> Relu -> Gemm -> Sigmoid with float32 weights taken from a small
    scikit-learn MLP, its StandardScaler folded into the first layer."""
    scaler = StandardScaler().fit(Xs)
    mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=400, random_state=int(rng.integers(1 << 30))).fit(scaler.transform(Xs), y)
    W1 = mlp.coefs_[0] / scaler.scale_[:, None]  # [F, H]
    b1 = mlp.intercepts_[0] - (scaler.mean_ / scaler.scale_) @ mlp.coefs_[0]
    W2, b2 = mlp.coefs_[1], mlp.intercepts_[1]  # [H, 1], [1]
    # Stored as a PyTorch export stores Linear layers: weight [out, in], Gemm transB=1.
    w1 = W1.T.astype(np.float32)
    c1 = b1.astype(np.float32)
    w2 = W2.T.astype(np.float32)
    c2 = b2.astype(np.float32)
    F, H = w1.shape[1], w1.shape[0]
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["h1"], name="fc1", alpha=1.0, beta=1.0, transB=1),
            helper.make_node("Relu", ["h1"], ["r1"], name="relu"),
            helper.make_node("Gemm", ["r1", "fc2.weight", "fc2.bias"], ["logit"], name="fc2", alpha=1.0, beta=1.0, transB=1),
            helper.make_node("Sigmoid", ["logit"], ["score"], name="sigmoid"),
        ],
        "fraud_mlp",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", F])],
        [helper.make_tensor_value_info("score", onnx.TensorProto.FLOAT, ["batch", 1])],
        initializer=[
            numpy_helper.from_array(w1, "fc1.weight"),
            numpy_helper.from_array(c1, "fc1.bias"),
            numpy_helper.from_array(w2, "fc2.weight"),
            numpy_helper.from_array(c2, "fc2.bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8,
                              producer_name="edgescore generate_onnx.py (onnx.helper)")
    onnx.checker.check_model(model, full_check=True)
    assert H == 16
    return model, [w1, c1, w2, c2]


def torch_shaped_network(Xs: np.ndarray, y: np.ndarray, rng) -> tuple[onnx.ModelProto, dict]:
    """The graph torch.onnx.export (opset 17, eval mode) writes for
    nn.Sequential(Flatten, Linear(12, 16), BatchNorm1d(16), LeakyReLU(0.1),
    Dropout, Linear(16, 8), ReLU, Linear(8, 1), Sigmoid): Flatten, Gemm
    (transB=1), BatchNormalization (training_mode=0, running statistics),
    LeakyRelu, Gemm, Relu, Gemm, Sigmoid; eval-mode Dropout is exported as
    nothing. Written with onnx.helper because torch is not installed here
    (its PyPI wheels pull several GB of CUDA libraries). The first layer is a
    scikit-learn MLP's (scaler folded in); the batch-norm statistics are the
    first layer's activations over the training rows; the rest are drawn."""
    scaler = StandardScaler().fit(Xs)
    mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=400, random_state=int(rng.integers(1 << 30))).fit(scaler.transform(Xs), y)
    W1 = mlp.coefs_[0] / scaler.scale_[:, None]
    b1 = mlp.intercepts_[0] - (scaler.mean_ / scaler.scale_) @ mlp.coefs_[0]
    w = {
        "fc1.weight": W1.T.astype(np.float32),
        "fc1.bias": b1.astype(np.float32),
    }
    h1 = Xs.astype(np.float32).astype(np.float64) @ w["fc1.weight"].T.astype(np.float64) + w["fc1.bias"]
    w["bn.weight"] = rng.uniform(0.5, 1.5, 16).astype(np.float32)
    w["bn.bias"] = rng.normal(0.0, 0.2, 16).astype(np.float32)
    w["bn.running_mean"] = h1.mean(axis=0).astype(np.float32)
    w["bn.running_var"] = h1.var(axis=0).astype(np.float32)
    w["fc2.weight"] = rng.normal(0.0, 0.4, (8, 16)).astype(np.float32)
    w["fc2.bias"] = rng.normal(0.0, 0.1, 8).astype(np.float32)
    w["fc3.weight"] = rng.normal(0.0, 0.6, (1, 8)).astype(np.float32)
    w["fc3.bias"] = rng.normal(0.0, 0.1, 1).astype(np.float32)
    F = Xs.shape[1]
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["/0/Flatten_output_0"], name="/0/Flatten", axis=1),
            helper.make_node("Gemm", ["/0/Flatten_output_0", "fc1.weight", "fc1.bias"], ["/1/Gemm_output_0"], name="/1/Gemm",
                             alpha=1.0, beta=1.0, transB=1),
            helper.make_node("BatchNormalization", ["/1/Gemm_output_0", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"],
                             ["/2/BatchNormalization_output_0"], name="/2/BatchNormalization", epsilon=1e-5, momentum=0.9,
                             training_mode=0),
            helper.make_node("LeakyRelu", ["/2/BatchNormalization_output_0"], ["/3/LeakyRelu_output_0"], name="/3/LeakyRelu", alpha=0.1),
            helper.make_node("Gemm", ["/3/LeakyRelu_output_0", "fc2.weight", "fc2.bias"], ["/5/Gemm_output_0"], name="/5/Gemm",
                             alpha=1.0, beta=1.0, transB=1),
            helper.make_node("Relu", ["/5/Gemm_output_0"], ["/6/Relu_output_0"], name="/6/Relu"),
            helper.make_node("Gemm", ["/6/Relu_output_0", "fc3.weight", "fc3.bias"], ["/7/Gemm_output_0"], name="/7/Gemm",
                             alpha=1.0, beta=1.0, transB=1),
            helper.make_node("Sigmoid", ["/7/Gemm_output_0"], ["score"], name="/8/Sigmoid"),
        ],
        "main_graph",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", F])],
        [helper.make_tensor_value_info("score", onnx.TensorProto.FLOAT, ["batch", 1])],
        initializer=[numpy_helper.from_array(v, k) for k, v in w.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8,
                              producer_name="edgescore generate_onnx.py (onnx.helper, torch.onnx.export's layout)")
    onnx.checker.check_model(model, full_check=True)
    return model, w


def torch_shaped_forward(w: dict, X64: np.ndarray) -> np.ndarray:
    """The float64 forward pass of the same float32 parameters, as PyTorch's
    eval mode defines it: (x - mean) / sqrt(var + eps) * gamma + beta."""
    p = {k: v.astype(np.float64) for k, v in w.items()}
    h = X64 @ p["fc1.weight"].T + p["fc1.bias"]
    h = (h - p["bn.running_mean"]) / np.sqrt(p["bn.running_var"] + 1e-5) * p["bn.weight"] + p["bn.bias"]
    h = np.where(h >= 0.0, h, 0.1 * h)
    h = np.maximum(h @ p["fc2.weight"].T + p["fc2.bias"], 0.0)
    z = h @ p["fc3.weight"].T + p["fc3.bias"]
    return (1.0 / (1.0 + np.exp(-z))).reshape(-1)


def numpy_forward(weights: list, X64: np.ndarray) -> np.ndarray:
    """The float64 forward pass of the same float32 weights."""
    w1, c1, w2, c2 = (w.astype(np.float64) for w in weights)
    h = np.maximum(X64 @ w1.T + c1, 0.0)
    z = h @ w2.T + c2
    return (1.0 / (1.0 + np.exp(-z))).reshape(-1)


# ---------------------------------------------------------------- hand-built ONNX-ML operator cases (onnx_op_*)
#
# Tiny models written with onnx.helper to exercise ONNX-ML semantics that the
# converter-made cases above never use: every node mode (BRANCH_LT, GTE, GT,
# EQ, NEQ, MEMBER), nodes_missing_value_tracks_true on some splits only,
# aggregate_function AVERAGE/MIN/MAX, PROBIT and SOFTMAX post-transforms,
# base_values on a classifier, Imputer/Scaler/Normalizer/Binarizer/
# ArrayFeatureExtractor, double thresholds, and the opset-5 TreeEnsemble.
# No trainer: the expected values are onnxruntime's alone. Features f0..f(F-1),
# one [N, F] input named "input". The data draw from their own generators
# (SEED + 700 + k), so these cases leave the others' bytes alone.

OP_OPSETS = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
OP_PRODUCER = "edgescore generate_onnx.py (onnx.helper)"
OP_N_RANDOM = 150
OP_NAN_RATE = 0.1
OP_NO_TRAINER = "hand-built with onnx.helper: there is no trainer, onnxruntime's output is the only reference"
# Tree-case columns: continuous (uniform in [-2.5, 2.5]) and integer-valued (0..3, for BRANCH_EQ/NEQ/MEMBER).
OP_TREE_KINDS = ["cont", "int", "cont", "int", "cont"]


def op_names(n: int) -> list[str]:
    return [f"f{j}" for j in range(n)]


def split(f, mode, t, miss, yes, no):
    """A branch node of a hand-built tree: `yes` when (x[f] mode t) holds (or x[f] is NaN and miss=1)."""
    return {"f": f, "mode": mode, "t": t, "miss": miss, "T": yes, "F": no}


def leaf(w):
    return {"w": w}


# Three trees of depth <= 3 using every mode of ai.onnx.ml 3; nodes_missing_value_tracks_true on 8 of the 15 splits.
# Continuous thresholds are decimals that float32 does not hold exactly; EQ/NEQ/GT on the integer columns compare with integers.
OP_TREES = [
    split(0, "BRANCH_LEQ", 0.3, 1,
          split(1, "BRANCH_EQ", 2.0, 0,
                leaf(1.5),
                split(2, "BRANCH_LT", -0.7, 1, leaf(-0.8), leaf(0.4))),
          split(4, "BRANCH_GTE", 1.1, 0,
                leaf(2.25),
                split(3, "BRANCH_NEQ", 1.0, 1, leaf(-1.2), leaf(0.05)))),
    split(2, "BRANCH_GT", 0.45, 0,
          split(3, "BRANCH_EQ", 0.0, 1, leaf(0.9), leaf(-0.35)),
          split(0, "BRANCH_LT", -1.25, 0,
                leaf(1.1),
                split(1, "BRANCH_NEQ", 3.0, 1,
                      split(4, "BRANCH_LEQ", -0.2, 0, leaf(0.6), leaf(-0.15)),
                      leaf(-2.0)))),
    split(4, "BRANCH_LT", 0.0, 1,
          split(2, "BRANCH_GTE", -0.1, 1,
                leaf(0.3),
                split(1, "BRANCH_GT", 1.0, 0, leaf(-0.6), leaf(0.75))),
          split(3, "BRANCH_LEQ", 2.0, 0,
                split(0, "BRANCH_GT", 1.6, 1, leaf(1.4), leaf(-0.25)),
                leaf(-1.05))),
]


def map_leaves(tree, fn):
    if "w" in tree:
        return leaf(fn(tree["w"]))
    return {**tree, "T": map_leaves(tree["T"], fn), "F": map_leaves(tree["F"], fn)}


def map_splits(tree, fn):
    if "w" in tree:
        return tree
    return fn({**tree, "T": map_splits(tree["T"], fn), "F": map_splits(tree["F"], fn)})


def op_split_nodes(trees):
    """(tree index, node) for every branch node, in pre-order."""
    out = []

    def visit(k, n):
        if "w" in n:
            return
        out.append((k, n))
        visit(k, n["T"])
        visit(k, n["F"])

    for k, t in enumerate(trees):
        visit(k, t)
    return out


def op_test(node, x) -> bool:
    """One branch node's test on one (float32 or float64) value: the IEEE comparison, or NaN where
    nodes_missing_value_tracks_true is 1 (so NaN takes the true branch of BRANCH_NEQ either way)."""
    t, mode = node["t"], node["mode"]
    if mode == "BRANCH_MEMBER":
        holds = any(x == m for m in t)
    else:
        holds = {"BRANCH_LEQ": x <= t, "BRANCH_LT": x < t, "BRANCH_GTE": x >= t, "BRANCH_GT": x > t,
                 "BRANCH_EQ": x == t, "BRANCH_NEQ": x != t}[mode]
    return bool(holds) or (x != x and bool(node["miss"]))


def op_reaches(tree, target, row, dtype) -> bool:
    n = tree
    while "w" not in n:
        if n is target:
            return True
        t = n["t"] if n["mode"] == "BRANCH_MEMBER" else dtype(n["t"])
        n = n["T"] if op_test({**n, "t": t}, dtype(row[n["f"]])) else n["F"]
    return False


def v3_tree_attrs(trees, prefix: str, weight_of, as_tensor_double: bool = False) -> dict:
    """TreeEnsembleRegressor/Classifier (ai.onnx.ml 3) node and leaf attributes; nodes numbered in pre-order per tree.
    weight_of(w) gives the (id, weight) pairs of a leaf."""
    a = {k: [] for k in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes", "nodes_values",
                         "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
                         f"{prefix}_treeids", f"{prefix}_nodeids", f"{prefix}_ids", f"{prefix}_weights"]}
    for tid, tree in enumerate(trees):
        counter = [0]

        def visit(n):
            nid = counter[0]
            counter[0] += 1
            row = len(a["nodes_nodeids"])
            a["nodes_treeids"].append(tid)
            a["nodes_nodeids"].append(nid)
            for k in ["nodes_featureids", "nodes_modes", "nodes_values", "nodes_truenodeids", "nodes_falsenodeids",
                      "nodes_missing_value_tracks_true"]:
                a[k].append(None)
            if "w" in n:
                a["nodes_featureids"][row] = 0
                a["nodes_modes"][row] = "LEAF"
                a["nodes_values"][row] = 0.0
                a["nodes_truenodeids"][row] = 0
                a["nodes_falsenodeids"][row] = 0
                a["nodes_missing_value_tracks_true"][row] = 0
                for i, w in weight_of(n["w"]):
                    a[f"{prefix}_treeids"].append(tid)
                    a[f"{prefix}_nodeids"].append(nid)
                    a[f"{prefix}_ids"].append(i)
                    a[f"{prefix}_weights"].append(w)
                return nid
            a["nodes_featureids"][row] = n["f"]
            a["nodes_modes"][row] = n["mode"]
            a["nodes_values"][row] = n["t"]
            a["nodes_missing_value_tracks_true"][row] = n["miss"]
            a["nodes_truenodeids"][row] = visit(n["T"])
            a["nodes_falsenodeids"][row] = visit(n["F"])
            return nid

        visit(tree)
    if as_tensor_double:
        a["nodes_values_as_tensor"] = numpy_helper.from_array(np.array(a.pop("nodes_values"), np.float64), "nodes_values_as_tensor")
        a[f"{prefix}_weights_as_tensor"] = numpy_helper.from_array(
            np.array(a.pop(f"{prefix}_weights"), np.float64), f"{prefix}_weights_as_tensor")
    return a


def v5_tree_attrs(trees) -> dict:
    """TreeEnsemble (ai.onnx.ml 5) attributes: branch nodes flattened tree after tree in pre-order, leaves in their own list."""
    code = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3, "BRANCH_EQ": 4, "BRANCH_NEQ": 5, "BRANCH_MEMBER": 6}
    feats, splits, modes, miss, tids, tleaf, fids, fleaf, roots, members = ([] for _ in range(10))
    leaf_t, leaf_w = [], []

    def visit(n):
        """Returns (index, is_leaf)."""
        if "w" in n:
            leaf_t.append(0)
            leaf_w.append(n["w"])
            return len(leaf_w) - 1, 1
        k = len(feats)
        feats.append(n["f"])
        modes.append(code[n["mode"]])
        miss.append(n["miss"])
        if n["mode"] == "BRANCH_MEMBER":
            splits.append(0.0)  # unused for BRANCH_MEMBER
            if members:
                members.append(float("nan"))
            members.extend(n["t"])
        else:
            splits.append(n["t"])
        for lst in (tids, tleaf, fids, fleaf):
            lst.append(None)
        tids[k], tleaf[k] = visit(n["T"])
        fids[k], fleaf[k] = visit(n["F"])
        return k, 0

    for tree in trees:
        k, is_leaf = visit(tree)
        assert not is_leaf
        roots.append(k)
    members.append(float("nan"))
    return {
        "nodes_featureids": feats,
        "nodes_splits": numpy_helper.from_array(np.array(splits, np.float32), "nodes_splits"),
        "nodes_modes": numpy_helper.from_array(np.array(modes, np.uint8), "nodes_modes"),
        "nodes_missing_value_tracks_true": miss,
        "nodes_truenodeids": tids, "nodes_trueleafs": tleaf,
        "nodes_falsenodeids": fids, "nodes_falseleafs": fleaf,
        "tree_roots": roots,
        "leaf_targetids": leaf_t,
        "leaf_weights": numpy_helper.from_array(np.array(leaf_w, np.float32), "leaf_weights"),
        "membership_values": numpy_helper.from_array(np.array(members, np.float32), "membership_values"),
        "n_targets": 1,
    }


def op_model(name: str, nodes: list, n_features: int, outputs: list, *, initializer=(), elem=onnx.TensorProto.FLOAT,
             opsets=None, ir_version: int = 8) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("input", elem, [None, n_features])],
        [helper.make_tensor_value_info(n, t, shape) for n, t, shape in outputs], initializer=list(initializer))
    model = helper.make_model(graph, opset_imports=opsets or OP_OPSETS, ir_version=ir_version, producer_name=OP_PRODUCER)
    onnx.checker.check_model(model, full_check=True)
    return model


def op_data(rng, kinds: list[str], n: int, nan_rate: float) -> np.ndarray:
    cols = []
    for k in kinds:
        cols.append(rng.uniform(-2.5, 2.5, n) if k == "cont" else rng.integers(0, 4, n).astype(float))
    X = np.column_stack(cols)
    if nan_rate > 0:
        X[rng.random(X.shape) < nan_rate] = np.nan
    return X


def op_tree_probes(node, dtype) -> list[float]:
    """The values of node's feature to try at node: its threshold and the neighbours in the input type, then NaN."""
    t = node["t"]
    near = (lambda v: [float(np.nextafter(dtype(v), dtype(-np.inf))), float(dtype(v)), float(np.nextafter(dtype(v), dtype(np.inf)))])
    if node["mode"] == "BRANCH_MEMBER":
        vals = [p for m in t for p in near(m)] + [float(v) for v in range(4) if v not in t]
    else:
        vals = near(t)
    return vals + [float("nan")]


def op_tree_boundary(trees, kinds: list[str], rng, dtype=np.float32) -> tuple[np.ndarray, int]:
    """For every branch node, rows that reach it with its feature on the threshold (or each member), on the
    threshold's neighbours in the input type, and NaN; then an all-NaN row and one NaN feature per row."""
    base = op_data(rng, kinds, 400, 0.0).astype(dtype).astype(np.float64)
    rows = []
    nodes = op_split_nodes(trees)
    for k, node in nodes:
        for p in op_tree_probes(node, dtype):
            for i in rng.permutation(len(base)):
                r = base[i].copy()
                r[node["f"]] = p
                if op_reaches(trees[k], node, r, dtype):
                    rows.append(r)
                    break
            else:
                raise RuntimeError(f"no row reaches tree {k} node {node['mode']} f{node['f']} with {p}")
    rows.append(np.full(len(kinds), np.nan))
    for j in range(len(kinds)):
        r = base[rng.integers(len(base))].copy()
        r[j] = np.nan
        rows.append(r)
    return np.array(rows), len(nodes)


def op_sets(X_random, X_boundary, boundary_text, cast=FLOAT_CAST):
    return [
        ("random", X_random, None, f"uniform float64 rows (continuous columns in [-2.5, 2.5], all their digits; "
         f"integer columns in 0..3), about {OP_NAN_RATE:.0%} NaN in every column; {cast}", OP_NO_TRAINER),
        ("boundary", X_boundary, None, f"{boundary_text}; {cast}", OP_NO_TRAINER),
    ]


def op_case(name, model, *, description, n_features, sets, positive_class, score_output, extra):
    write_case(
        name, model, description=description, trainer="none",
        converter=f"onnx {onnx.__version__} onnx.helper.make_graph / make_model ("
        + ", ".join(f"{o.domain or 'ai.onnx'}={o.version}" for o in model.opset_import) + f", ir_version {model.ir_version})",
        inputs="tensor", positive_class=positive_class, score_output=score_output, sets=sets,
        extra={"trainer_api": None, **extra}, names=op_names(n_features),
    )
    ops = ", ".join(f"{n.op_type}" + (f" ({n.domain})" if n.domain else "") for n in model.graph.node)
    sess = session(onnx.load(str(HERE / name / "model.onnx")))
    print(f"{name}: ops [{ops}]; loads in onnxruntime {ort.__version__}: inputs "
          f"{[(i.name, i.type, i.shape) for i in sess.get_inputs()]}, outputs {[(o.name, o.type) for o in sess.get_outputs()]}")


def op_tree_text(trees) -> str:
    nodes = op_split_nodes(trees)
    modes = sorted({n["mode"] for _, n in nodes})
    return (f"{len(trees)} trees of depth <= 3, {len(nodes)} splits, modes {modes}, "
            f"nodes_missing_value_tracks_true=1 on {sum(n['miss'] for _, n in nodes)} of them")


def op_tree_cases() -> None:
    F = len(OP_TREE_KINDS)
    rng = np.random.default_rng(SEED + 700)
    Xr = op_data(rng, OP_TREE_KINDS, OP_N_RANDOM, OP_NAN_RATE)
    Xb, n_splits = op_tree_boundary(OP_TREES, OP_TREE_KINDS, np.random.default_rng(SEED + 701))
    btext = (f"float32 rows reaching each of the {n_splits} branch nodes with its feature on the float32 threshold, on the "
             "float32 neighbours just below and above it, and NaN; then an all-NaN row and one NaN feature per row")
    reg_out = [("variable", onnx.TensorProto.FLOAT, [None, 1])]
    reg_score = {"name": "variable", "how": "value"}
    one = lambda w: [(0, w)]  # noqa: E731

    def regressor(name, trees, *, aggregate="SUM", post="NONE", base=(0.25,)):
        attrs = v3_tree_attrs(trees, "target", one)
        node = helper.make_node("TreeEnsembleRegressor", ["input"], ["variable"], domain="ai.onnx.ml", name="trees",
                                n_targets=1, aggregate_function=aggregate, post_transform=post, base_values=list(base), **attrs)
        return op_model(name, [node], F, reg_out)

    for name, agg in [("onnx_op_tree_modes", "SUM"), ("onnx_op_tree_average", "AVERAGE"),
                      ("onnx_op_tree_min", "MIN"), ("onnx_op_tree_max", "MAX")]:
        op_case(name, regressor(name, OP_TREES, aggregate=agg),
                description=f"TreeEnsembleRegressor written with onnx.helper: {op_tree_text(OP_TREES)}; "
                f"base_values=[0.25], aggregate_function={agg}, post_transform=NONE",
                n_features=F, sets=op_sets(Xr, Xb, btext), positive_class=None, score_output=reg_score,
                extra={"columns": "f1 and f3 hold the integers 0..3 (BRANCH_EQ/NEQ/GT thresholds on them are integers); "
                       "f0, f2, f4 are continuous"})

    # PROBIT: leaves in (0.02, 0.3) and base 0.05, so the sum stays inside (0, 1).
    probit_trees = [map_leaves(t, lambda w: round(0.02 + 0.28 * (w + 2.0) / 4.25, 4)) for t in OP_TREES]
    op_case("onnx_op_tree_probit", regressor("onnx_op_tree_probit", probit_trees, post="PROBIT", base=(0.05,)),
            description=f"TreeEnsembleRegressor written with onnx.helper: the trees of onnx_op_tree_modes ({op_tree_text(probit_trees)}) "
            "with leaf weights mapped into [0.02, 0.3]; base_values=[0.05], aggregate_function=SUM, post_transform=PROBIT "
            "(the sum stays in (0, 1), where the probit is finite; onnxruntime's probit, sqrt(2) * its approximate erfinv(2p - 1), "
            "is up to about 1.4e-4 from the exact inverse normal CDF on these rows)",
            n_features=F, sets=op_sets(Xr, Xb, btext), positive_class=None, score_output=reg_score, extra={})

    cls_out = [("label", onnx.TensorProto.INT64, [None]), ("probabilities", onnx.TensorProto.FLOAT, [None, 2])]
    cls_score = {"name": "probabilities", "how": "column", "column": 1}

    def classifier(name, trees, *, post, base=None):
        attrs = v3_tree_attrs(trees, "class", one)
        kw = {"base_values": list(base)} if base is not None else {}
        node = helper.make_node("TreeEnsembleClassifier", ["input"], ["label", "probabilities"], domain="ai.onnx.ml",
                                name="trees", classlabels_int64s=[0, 1], post_transform=post, **kw, **attrs)
        return op_model(name, [node], F, cls_out)

    mixed = [map_leaves(t, lambda w: round(0.8 * w, 4)) for t in OP_TREES]
    positive = [map_leaves(t, lambda w: round(0.3 * abs(w), 4)) for t in OP_TREES]
    for name, trees, post, base, what in [
        ("onnx_op_classifier_softmax", mixed, "SOFTMAX", None,
         "mixed-sign weights, all on class_ids 0, post_transform=SOFTMAX, no base_values (onnxruntime 1.32's binary "
         "case writes [-s, s], s the float32 sum of the leaf weights, and applies no softmax: the output equals "
         "post_transform=NONE's, so the score is s itself, not a probability)"),
        ("onnx_op_classifier_base2", mixed, "LOGISTIC", (0.1, -0.3),
         "mixed-sign weights, all on class_ids 0, post_transform=LOGISTIC, two base_values [0.1, -0.3] (onnxruntime 1.32 "
         "writes [L(s + 0.1), L(0)]: class 1 has no leaf weight and base_values[1] is not added, so the score, column 1, "
         "is 0.5 on every row whatever base_values[1] is)"),
        ("onnx_op_classifier_base1", mixed, "LOGISTIC", (0.1,),
         "mixed-sign weights, all on class_ids 0, post_transform=LOGISTIC, one base_values [0.1] (onnxruntime 1.32 "
         "writes [1 - L(s + 0.1), L(s + 0.1)])"),
        ("onnx_op_classifier_positive_logistic", positive, "LOGISTIC", None,
         "weights all >= 0, all on class_ids 0, post_transform=LOGISTIC, no base_values (onnxruntime 1.32 writes "
         "[1 - L(s), L(s)])"),
    ]:
        op_case(name, classifier(name, trees, post=post, base=base),
                description=f"binary TreeEnsembleClassifier written with onnx.helper, classlabels_int64s=[0, 1]: the trees of "
                f"onnx_op_tree_modes ({op_tree_text(trees)}) with {what}; the score is column 1 of the [N, 2] "
                "probabilities (the label output is int64)",
                n_features=F, sets=op_sets(Xr, Xb, btext), positive_class=1, score_output=cls_score, extra={})

    # Float64 input, double thresholds and weights (nodes_values_as_tensor, target_weights_as_tensor).
    name = "onnx_op_double"
    attrs = v3_tree_attrs(OP_TREES, "target", one, as_tensor_double=True)
    node = helper.make_node("TreeEnsembleRegressor", ["input"], ["variable"], domain="ai.onnx.ml", name="trees",
                            n_targets=1, aggregate_function="SUM", post_transform="NONE",
                            base_values_as_tensor=numpy_helper.from_array(np.array([0.25], np.float64), "base_values_as_tensor"),
                            **attrs)
    try:
        model = op_model(name, [node], F, reg_out, elem=onnx.TensorProto.DOUBLE)
        session(model)
    except Exception as e:  # noqa: BLE001
        print(f"{name}: skipped, onnxruntime does not load it: {e}")
    else:
        Xb64, _ = op_tree_boundary(OP_TREES, OP_TREE_KINDS, np.random.default_rng(SEED + 702), dtype=np.float64)
        op_case(name, model,
                description=f"TreeEnsembleRegressor with a tensor(double) input and float64 thresholds and weights "
                f"(nodes_values_as_tensor, target_weights_as_tensor, base_values_as_tensor, all DOUBLE): the trees of "
                f"onnx_op_tree_modes ({op_tree_text(OP_TREES)}); base 0.25, SUM, NONE; the output is tensor(float)",
                n_features=F,
                sets=op_sets(Xr, Xb64,
                             f"float64 rows reaching each of the {n_splits} branch nodes with its feature on the float64 "
                             "threshold, on the float64 neighbours just below and above it, and NaN; then an all-NaN row "
                             "and one NaN feature per row", cast="float64 rows fed as they are to the tensor(double) input"),
                positive_class=None, score_output=reg_score, extra={})

    # The opset-5 TreeEnsemble, with BRANCH_MEMBER in place of two EQ/GT splits on integer columns.
    def to_member(n):
        if n["f"] == 3 and n["mode"] == "BRANCH_EQ":
            return {**n, "mode": "BRANCH_MEMBER", "t": [0.0, 2.0]}
        if n["f"] == 1 and n["mode"] == "BRANCH_GT":
            return {**n, "mode": "BRANCH_MEMBER", "t": [1.0, 3.0]}
        return n

    v5_trees = [map_splits(t, to_member) for t in OP_TREES]
    name = "onnx_op_tree_ensemble_v5"
    node = helper.make_node("TreeEnsemble", ["input"], ["variable"], domain="ai.onnx.ml", name="trees",
                            aggregate_function=1, post_transform=0, **v5_tree_attrs(v5_trees))
    opsets5 = [helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", 5)]
    try:
        model = op_model(name, [node], F, reg_out, opsets=opsets5, ir_version=10)
        session(model)
    except Exception as e:  # noqa: BLE001
        print(f"{name}: skipped, onnxruntime does not load it: {e}")
    else:
        Xb5, n5 = op_tree_boundary(v5_trees, OP_TREE_KINDS, np.random.default_rng(SEED + 703))
        op_case(name, model,
                description=f"the opset-5 TreeEnsemble (ai.onnx.ml 5) written with onnx.helper: the trees of onnx_op_tree_modes "
                f"with BRANCH_MEMBER sets {{0, 2}} on f3 and {{1, 3}} on f1 in place of two splits ({op_tree_text(v5_trees)}); "
                "float32 nodes_splits/leaf_weights/membership_values tensors, uint8 nodes_modes; n_targets=1, no base values",
                n_features=F,
                sets=op_sets(Xr, Xb5, f"float32 rows reaching each of the {n5} branch nodes with its feature on the float32 "
                             "threshold or each set member, on the float32 neighbours just below and above it, on the "
                             "integers outside the set, and NaN; then an all-NaN row and one NaN feature per row"),
                positive_class=None, score_output=reg_score,
                extra={"post_transform": "0 (NONE): onnxruntime is reported to swap the codes 1 and 2, so this case uses 0",
                       "aggregate_function": "1 (SUM)"})


def op_linear_cases() -> None:
    # Imputer -> Scaler -> Normalizer(L2) -> LinearRegressor.
    name, F = "onnx_op_preprocess", 4
    imputed = [0.5, -1.0, 0.0, 2.0]
    offset = [0.25, -0.5, 1.0, 0.0]
    scale = [2.0, 0.5, 1.5, -1.25]
    coef = [0.75, -1.5, 0.4, 2.0]
    nodes = [
        helper.make_node("Imputer", ["input"], ["imputed"], domain="ai.onnx.ml", name="imputer",
                         imputed_value_floats=imputed, replaced_value_float=float("nan")),
        helper.make_node("Scaler", ["imputed"], ["scaled"], domain="ai.onnx.ml", name="scaler", offset=offset, scale=scale),
        helper.make_node("Normalizer", ["scaled"], ["normalized"], domain="ai.onnx.ml", name="normalizer", norm="L2"),
        helper.make_node("LinearRegressor", ["normalized"], ["variable"], domain="ai.onnx.ml", name="linear",
                         coefficients=coef, intercepts=[0.3], targets=1),
    ]
    model = op_model(name, nodes, F, [("variable", onnx.TensorProto.FLOAT, [None, 1])])
    rng = np.random.default_rng(SEED + 710)
    Xr = op_data(rng, ["cont"] * F, OP_N_RANDOM, OP_NAN_RATE)
    base = op_data(rng, ["cont"] * F, 8, 0.0).astype(np.float32).astype(np.float64)
    rows = [np.full(F, np.nan), np.array(offset, np.float64)]  # all imputed; the scaled vector all zero
    for j in range(F):
        r = base[j % len(base)].copy()
        r[j] = np.nan
        rows.append(r)
        r = np.array(offset, np.float64)
        r[j] = np.nan  # imputed everywhere but the offsets
        rows.append(r)
    rows += [np.zeros(F), np.array(imputed, np.float64), base[0] * 1e6, base[1] * 1e-6 + np.array(offset)]
    Xb = np.array(rows)
    op_case(name, model,
            description="onnx.helper pipeline: Imputer (imputed_value_floats per column, replaced_value_float=NaN) -> Scaler "
            "(per-column offset and scale) -> Normalizer(norm='L2') -> LinearRegressor (one target); the output [N, 1]",
            n_features=F,
            sets=op_sets(Xr, Xb, "edge rows: all NaN (all imputed), the Scaler's offsets exactly (the L2 norm of a zero "
                         "vector), one NaN per row, the offsets with one NaN, zeros, the imputed values, very large and "
                         "nearly-offset rows"),
            positive_class=None, score_output={"name": "variable", "how": "value"},
            extra={"imputed_value_floats": imputed, "scaler": {"offset": offset, "scale": scale}})

    # Imputer -> Normalizer(MAX) -> Normalizer(L1) -> LinearClassifier (LOGISTIC).
    name, F = "onnx_op_preprocess_l1max", 5
    imputed = [1.0, -0.5, 0.25, 0.0, 3.0]
    nodes = [
        helper.make_node("Imputer", ["input"], ["imputed"], domain="ai.onnx.ml", name="imputer",
                         imputed_value_floats=imputed, replaced_value_float=float("nan")),
        helper.make_node("Normalizer", ["imputed"], ["max_normalized"], domain="ai.onnx.ml", name="normalizer_max", norm="MAX"),
        helper.make_node("Normalizer", ["max_normalized"], ["l1_normalized"], domain="ai.onnx.ml", name="normalizer_l1", norm="L1"),
        helper.make_node("LinearClassifier", ["l1_normalized"], ["label", "probabilities"], domain="ai.onnx.ml", name="linear",
                         coefficients=[1.25, -2.0, 0.5, 3.0, -0.75], intercepts=[-0.2], classlabels_ints=[0, 1],
                         post_transform="LOGISTIC"),
    ]
    model = op_model(name, nodes, F, [("label", onnx.TensorProto.INT64, [None]), ("probabilities", onnx.TensorProto.FLOAT, [None, 2])])
    rng = np.random.default_rng(SEED + 711)
    Xr = op_data(rng, ["cont"] * F, OP_N_RANDOM, OP_NAN_RATE)
    base = op_data(rng, ["cont"] * F, 8, 0.0).astype(np.float32).astype(np.float64)
    rows = [np.full(F, np.nan)]
    for j in range(F):
        r = base[j % len(base)].copy()
        r[j] = np.nan
        rows.append(r)
    rows += [-np.abs(base[0]), np.abs(base[1]), np.array([-1.0, -2.0, -0.5, -3.0, -0.25]), np.array([0.0, -1.0, -2.0, -0.5, -0.25]),
             np.array([2.0, 2.0, -2.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0, 0.0, 0.0]), base[2] * 1e6]
    Xb = np.array(rows)
    op_case(name, model,
            description="onnx.helper pipeline: Imputer (imputed_value_floats per column, replaced_value_float=NaN) -> "
            "Normalizer(norm='MAX') -> Normalizer(norm='L1') -> LinearClassifier (one coefficient row, classlabels_ints=[0, 1], "
            "post_transform=LOGISTIC: onnxruntime 1.32 writes [1 - L(s), L(s)]); the score is column 1 of the [N, 2] probabilities",
            n_features=F,
            sets=op_sets(Xr, Xb, "edge rows: all NaN (all imputed), one NaN per row, all negative (a negative maximum), "
                         "all non-positive with a zero maximum, a tied maximum, one non-zero, very large"),
            positive_class=1, score_output={"name": "probabilities", "how": "column", "column": 1},
            extra={"imputed_value_floats": imputed})

    # ArrayFeatureExtractor [2, 0] and Binarizer(0.5) -> Concat -> Gemm -> Tanh.
    name, F = "onnx_op_columns", 6
    w = np.array([[0.8, -1.1, 0.35, -0.6, 0.9, 0.45, -0.3, 1.2]], np.float32)
    nodes = [
        helper.make_node("ArrayFeatureExtractor", ["input", "columns"], ["picked"], domain="ai.onnx.ml", name="pick"),
        helper.make_node("Binarizer", ["input"], ["binary"], domain="ai.onnx.ml", name="binarize", threshold=0.5),
        helper.make_node("Concat", ["picked", "binary"], ["joined"], name="concat", axis=1),
        helper.make_node("Gemm", ["joined", "weight", "bias"], ["linear"], name="gemm", alpha=0.5, beta=2.0, transB=1),
        helper.make_node("Tanh", ["linear"], ["variable"], name="tanh"),
    ]
    init = [numpy_helper.from_array(np.array([2, 0], np.int64), "columns"),
            numpy_helper.from_array(w, "weight"),
            numpy_helper.from_array(np.array([-0.15], np.float32), "bias")]
    model = op_model(name, nodes, F, [("variable", onnx.TensorProto.FLOAT, [None, 1])], initializer=init)
    rng = np.random.default_rng(SEED + 712)
    Xr = op_data(rng, ["cont"] * F, OP_N_RANDOM, 0.0)
    base = op_data(rng, ["cont"] * F, 16, 0.0).astype(np.float32).astype(np.float64)
    rows = []
    k = 0
    for j in range(F):
        for p in [float(g.f32_below(0.5)), 0.5, float(g.f32_above(0.5))]:
            r = base[k % len(base)].copy()
            k += 1
            r[j] = p
            rows.append(r)
    rows += [np.full(F, 0.5), np.zeros(F), base[3] * 100.0]
    Xb = np.array(rows)
    op_case(name, model,
            description="onnx.helper graph: ArrayFeatureExtractor(input, int64 initializer [2, 0]) and Binarizer(threshold=0.5) "
            "on the input, Concat(axis=1) of the two ([N, 2 + 6]), Gemm(transB=1, alpha=0.5, beta=2.0) with a [1, 8] weight "
            "and a [1] bias, Tanh; the output [N, 1]. No Cast: every tensor is float",
            n_features=F,
            sets=[("random", Xr, None, f"uniform float64 rows in [-2.5, 2.5] (all their digits), no NaN; {FLOAT_CAST}", OP_NO_TRAINER),
                  ("boundary", Xb, None, "each column on the Binarizer threshold 0.5 and its float32 neighbours; all 0.5, "
                   f"zeros, a large row; {FLOAT_CAST}", OP_NO_TRAINER)],
            positive_class=None, score_output={"name": "variable", "how": "value"},
            extra={"nan": "no NaN rows: onnxruntime 1.32's Binarizer fails the whole run on a NaN input (\"Non-zero status code returned while running Binarizer node ... Input data with index: 0 is NaN\")"})


def op_cases() -> None:
    op_tree_cases()
    op_linear_cases()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ops", type=Path, help="also write an inventory of every case's graph to this file")
    ap.add_argument("--op-only", action="store_true", help="write only the hand-built onnx_op_* cases")
    args = ap.parse_args()
    if args.op_only:
        op_cases()
        return

    rng = np.random.default_rng(SEED)
    X, y = fraud_like64(6000, rng, nan_rate=0.0)
    Xt, _ = fraud_like64(N_RANDOM, rng, nan_rate=0.0)
    Xn, yn = fraud_like64(6000, rng, nan_rate=0.08)
    Xnt, _ = fraud_like64(N_RANDOM, rng, nan_rate=0.08)
    yr = regression_target(X, rng)
    brng = lambda k: np.random.default_rng(SEED + k)  # noqa: E731  one generator per boundary set
    F = X.shape[1]
    models = {}
    diffs = {}

    def logreg():
        return Pipeline([("scaler", StandardScaler()), ("logreg", LogisticRegression(C=1.0, max_iter=2000))])

    nozip = lambda est: {id(est): {"zipmap": False}}  # noqa: E731

    est = logreg()
    models["onnx_logreg_pipeline"], diffs["onnx_logreg_pipeline"] = sklearn_case(
        "onnx_logreg_pipeline", est, X, y, Xt,
        description="Pipeline(StandardScaler, LogisticRegression), skl2onnx default options (ZipMap)",
    )
    est = logreg()
    models["onnx_logreg_pipeline_nozipmap"], diffs["onnx_logreg_pipeline_nozipmap"] = sklearn_case(
        "onnx_logreg_pipeline_nozipmap", est, X, y, Xt, options=nozip(est),
        description="Pipeline(StandardScaler, LogisticRegression), zipmap=False: the probabilities as an [N, 2] tensor",
    )
    est = RandomForestClassifier(n_estimators=40, max_depth=8, random_state=1, n_jobs=1)
    models["onnx_random_forest"], diffs["onnx_random_forest"] = sklearn_case(
        "onnx_random_forest", est, X, y, Xt, boundary=True, rng=brng(1),
        description="RandomForestClassifier, 40 trees, depth <= 8, skl2onnx default options (ZipMap)",
    )
    est = RandomForestClassifier(n_estimators=40, max_depth=8, random_state=1, n_jobs=1)
    models["onnx_random_forest_nozipmap"], diffs["onnx_random_forest_nozipmap"] = sklearn_case(
        "onnx_random_forest_nozipmap", est, X, y, Xt, boundary=True, rng=brng(2), options=nozip(est),
        description="RandomForestClassifier, 40 trees, depth <= 8, zipmap=False: the probabilities as an [N, 2] tensor",
    )
    est = ExtraTreesClassifier(n_estimators=40, max_depth=8, random_state=2, n_jobs=1)
    models["onnx_extra_trees"], diffs["onnx_extra_trees"] = sklearn_case(
        "onnx_extra_trees", est, X, y, Xt, boundary=True, rng=brng(3),
        description="ExtraTreesClassifier, 40 trees, depth <= 8, skl2onnx default options (ZipMap)",
    )
    est = GradientBoostingClassifier(n_estimators=50, max_depth=3, learning_rate=0.1, random_state=3)
    models["onnx_gradient_boosting"], diffs["onnx_gradient_boosting"] = sklearn_case(
        "onnx_gradient_boosting", est, X, y, Xt, boundary=True, rng=brng(4),
        description="GradientBoostingClassifier (binary, log-loss), 50 trees of depth 3, skl2onnx default options (ZipMap)",
    )
    est = HistGradientBoostingClassifier(max_iter=50, max_depth=6, learning_rate=0.1, random_state=4, early_stopping=False)
    models["onnx_hist_gradient_boosting_nan"], diffs["onnx_hist_gradient_boosting_nan"] = sklearn_case(
        "onnx_hist_gradient_boosting_nan", est, Xn, yn, Xnt, boundary=True, rng=brng(5), nan_ok=True,
        description="HistGradientBoostingClassifier (binary), 50 iterations, depth <= 6, trained with NaN in every column but one; "
        "skl2onnx default options (ZipMap)",
        boundary_no_trainer=(
            "HistGradientBoosting compares the float64 input with its float64 threshold, which skl2onnx rounds to "
            "the nearest float32 (its HistGradientBoosting converter does not adjust thresholds as it does for the "
            "other scikit-learn trees), so a row on a rounded-up threshold legitimately goes the other way in the ONNX graph"
        ),
    )
    est = DecisionTreeRegressor(max_depth=8, min_samples_leaf=5, random_state=5)
    models["onnx_decision_tree_regressor"], diffs["onnx_decision_tree_regressor"] = sklearn_case(
        "onnx_decision_tree_regressor", est, X, yr, Xt, boundary=True, rng=brng(6),
        description="DecisionTreeRegressor, depth <= 8, on a continuous target; skl2onnx default options",
    )
    est = Pipeline([("scaler", StandardScaler()), ("mlp", MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=1000, random_state=6))])
    models["onnx_mlp"], diffs["onnx_mlp"] = sklearn_case(
        "onnx_mlp", est, X, y, Xt,
        description="Pipeline(StandardScaler, MLPClassifier(hidden_layer_sizes=(16, 8), relu)), skl2onnx default options (ZipMap)",
    )

    est = xgb.XGBClassifier(n_estimators=50, max_depth=6, learning_rate=0.2, objective="binary:logistic",
                            tree_method="hist", random_state=7, n_jobs=1)
    models["onnx_xgboost_nan"], diffs["onnx_xgboost_nan"] = mlmodel_case(
        "onnx_xgboost_nan", est, Xn, yn, Xnt, kind="xgboost", rng=brng(7),
        description="XGBClassifier binary:logistic, 50 trees, depth 6, trained with NaN in every column but one; "
        "onnxmltools default options (ZipMap)",
    )
    est = lgb.LGBMClassifier(n_estimators=50, num_leaves=31, learning_rate=0.1, random_state=8, n_jobs=1,
                             deterministic=True, verbose=-1)
    models["onnx_lightgbm_nan"], diffs["onnx_lightgbm_nan"] = mlmodel_case(
        "onnx_lightgbm_nan", est, Xn, yn, Xnt, kind="lightgbm", rng=brng(8),
        description="LGBMClassifier binary, 50 trees, 31 leaves, trained with NaN in every column but one; "
        "onnxmltools default options (ZipMap)",
    )

    # A categorical feature (hour, 0-23): onnxmltools writes each category
    # test as a chain of BRANCH_EQ nodes sharing one true child.
    est = lgb.LGBMClassifier(n_estimators=30, num_leaves=15, learning_rate=0.1, random_state=10, n_jobs=1,
                             deterministic=True, verbose=-1, min_data_per_group=20, cat_smooth=1.0)
    models["onnx_lightgbm_categorical"], diffs["onnx_lightgbm_categorical"] = mlmodel_case(
        "onnx_lightgbm_categorical", est, Xn, yn, Xnt, kind="lightgbm", rng=brng(10),
        fit_params={"categorical_feature": [1]},
        description="LGBMClassifier binary, 30 trees, 15 leaves, 'hour' (column 1) categorical, NaN in every column "
        "but one; onnxmltools default options (ZipMap): category tests become chains of BRANCH_EQ nodes that "
        "share their true child",
    )

    # One input per feature, as skl2onnx writes for a DataFrame: the graph starts with a Concat.
    est = logreg().fit(pd.DataFrame(X, columns=NAMES), y)
    models["onnx_logreg_columns"], diffs["onnx_logreg_columns"] = columns_case(est, X, y, Xt)

    # String class labels: edgescore's score is the second class's probability
    # (scikit-learn sorts classes_), here "fraud" after "clean".
    ys = np.where(y == 1, "fraud", "clean")
    est = DecisionTreeClassifier(max_depth=7, min_samples_leaf=10, random_state=9)
    models["onnx_string_labels_tree"], diffs["onnx_string_labels_tree"] = sklearn_case(
        "onnx_string_labels_tree", est, X, ys, Xt, boundary=True, rng=brng(9), positive="fraud",
        description="DecisionTreeClassifier, depth <= 7, trained with string labels 'clean'/'fraud' "
        "(classes_ = ['clean', 'fraud']: the positive class is the second column); skl2onnx default options (ZipMap with string keys)",
    )

    # Float64 end to end. With default options skl2onnx writes a ZipMap over the
    # double probabilities, which onnxruntime refuses to load ("Type
    # 'tensor(double)' of input parameter (probabilities) of operator (ZipMap)
    # ... is invalid"), so this case has zipmap=False.
    est = logreg()
    models["onnx_logreg_pipeline_double"], diffs["onnx_logreg_pipeline_double"] = sklearn_case(
        "onnx_logreg_pipeline_double", est, X, y, Xt,
        initial_types=[("input", DoubleTensorType([None, F]))], options=nozip(est),
        description="Pipeline(StandardScaler, LogisticRegression) converted with a DoubleTensorType input: float64 end to end; "
        "zipmap=False (with default options skl2onnx puts a ZipMap on the double probabilities, which onnxruntime "
        "refuses to load: ZipMap takes only tensor(float))",
    )

    # The hand-built network.
    net, weights = helper_network(X, y, np.random.default_rng(SEED + 11))
    models["onnx_helper_mlp"] = net
    diffs["onnx_helper_mlp"] = write_case(
        "onnx_helper_mlp", net,
        description="a network written with the onnx.helper API: Gemm(transB=1) -> Relu -> Gemm(transB=1) -> Sigmoid, "
        "12 -> 16 -> 1, float32 weights (a scikit-learn MLP's, its StandardScaler folded into the first layer), opset 17",
        trainer="numpy",
        converter=f"onnx {onnx.__version__} onnx.helper.make_graph / make_model (opset 17, ir_version 8)",
        inputs="tensor", positive_class=1, score_output={"name": "score", "how": "value"},
        sets=[("random", Xt, numpy_forward(weights, Xt), f"held-out float64 rows; {FLOAT_CAST}", None)],
        extra={"trainer_api": "numpy float64 forward pass of the same float32 weights on the float64 rows"},
    )

    # The network as torch.onnx.export lays it out, with BatchNormalization and LeakyRelu.
    net, params = torch_shaped_network(X, y, np.random.default_rng(SEED + 12))
    models["onnx_torch_shaped_batchnorm"] = net
    diffs["onnx_torch_shaped_batchnorm"] = write_case(
        "onnx_torch_shaped_batchnorm", net,
        description="the graph torch.onnx.export (opset 17, eval mode) writes for nn.Sequential(Flatten, Linear(12, 16), "
        "BatchNorm1d(16), LeakyReLU(0.1), Dropout, Linear(16, 8), ReLU, Linear(8, 1), Sigmoid): Flatten -> Gemm(transB=1) -> "
        "BatchNormalization(training_mode=0) -> LeakyRelu -> Gemm -> Relu -> Gemm -> Sigmoid, written with onnx.helper "
        "(torch is not installed here: its PyPI wheels pull several GB of CUDA libraries)",
        trainer="numpy",
        converter=f"onnx {onnx.__version__} onnx.helper.make_graph / make_model (opset 17, ir_version 8), torch.onnx.export's node layout",
        inputs="tensor", positive_class=1, score_output={"name": "score", "how": "value"},
        sets=[("random", Xt, torch_shaped_forward(params, Xt), f"held-out float64 rows; {FLOAT_CAST}", None)],
        extra={"trainer_api": "numpy float64 forward pass of the same float32 parameters, batch norm as PyTorch's eval mode"},
    )

    # The hand-built ONNX-ML operator cases (not in the --ops inventory: its checks read the fraud features).
    op_cases()

    print()
    for name, dd in diffs.items():
        print(f"{name}: " + ", ".join(f"{s} max |onnxruntime - trainer| = {v:.3g}" for s, v in dd.items()))
    if args.ops:
        args.ops.parent.mkdir(parents=True, exist_ok=True)
        args.ops.write_text(inventory(models))
        print(f"wrote {args.ops}")


def columns_case(est, X, y, Xt):
    initial_types = [(n, FloatTensorType([None, 1])) for n in NAMES]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = convert_sklearn(est, name="onnx_logreg_columns", initial_types=initial_types)
    score_output = classifier_output(model, 1, list(est.classes_))
    Xtdf = pd.DataFrame(Xt, columns=NAMES)
    trainer_scores = est.predict_proba(Xtdf)[:, list(est.classes_).index(1)]
    diffs = write_case(
        "onnx_logreg_columns", model,
        description="Pipeline(StandardScaler, LogisticRegression) fitted on a pandas DataFrame of float64 columns and "
        "converted with one FloatTensorType([None, 1]) input per feature, named after it: skl2onnx joins them with an "
        "ai.onnx.ml FeatureVectorizer (not a Concat) before the Scaler; default options (ZipMap)",
        trainer="scikit-learn",
        converter=f"skl2onnx {skl2onnx.__version__} convert_sklearn(model, name='onnx_logreg_columns', initial_types=[('amount', FloatTensorType([None, 1])), "
        "('hour', FloatTensorType([None, 1])), ... one per feature, 12 inputs]), default options (ZipMap)",
        inputs="columns", positive_class=1, score_output=score_output,
        sets=[("random", Xt, trainer_scores,
               "held-out float64 rows; each column cast to float32 and fed as its own [N, 1] input", None)],
        extra={"trainer_api": "scikit-learn predict_proba(DataFrame)[:, 1]"},
    )
    return model, diffs


# ---------------------------------------------------------------- inventory


def fmt_value(v, limit=16) -> str:
    if isinstance(v, onnx.TensorProto):
        arr = numpy_helper.to_array(v)
        s = f"tensor {onnx.TensorProto.DataType.Name(v.data_type)} dims={list(v.dims)}"
        if arr.size <= limit:
            s += f" values={arr.reshape(-1).tolist()}"
        return s
    if isinstance(v, bytes):
        return repr(v.decode())
    if isinstance(v, (list, tuple)):
        vals = [x.decode() if isinstance(x, bytes) else x for x in v]
        s = f"len={len(vals)}"
        if vals and all(isinstance(x, str) for x in vals):
            s += f" distinct={sorted(set(vals))}"
        if len(vals) <= limit:
            s += f" values={vals}"
        elif vals and isinstance(vals[0], (int, float)):
            s += f" min={min(vals)} max={max(vals)} first={vals[:4]}"
        return s
    if isinstance(v, onnx.GraphProto):
        return f"graph {v.name} ({len(v.node)} nodes)"
    return repr(v)


def type_text(t: onnx.TypeProto) -> str:
    if t.HasField("tensor_type"):
        tt = t.tensor_type
        dims = [d.dim_param or (d.dim_value if d.HasField("dim_value") else "?") for d in tt.shape.dim] if tt.HasField("shape") else None
        return f"tensor({onnx.TensorProto.DataType.Name(tt.elem_type)}) shape={dims}"
    if t.HasField("sequence_type"):
        return f"seq({type_text(t.sequence_type.elem_type)})"
    if t.HasField("map_type"):
        mt = t.map_type
        return f"map({onnx.TensorProto.DataType.Name(mt.key_type)}, {type_text(mt.value_type)})"
    return str(t)


def walk_trees(attrs: dict, X32: np.ndarray):
    """A plain walk of TreeEnsembleClassifier/Regressor attributes: per row, per tree id in
    increasing order, the (class or target id, weight) pairs of the leaf reached. float32
    comparisons; NaN takes the true branch where nodes_missing_value_tracks_true is 1,
    else the comparison (false for NaN) decides."""
    modes = [m.decode() if isinstance(m, bytes) else m for m in attrs["nodes_modes"]]
    nodes = {}
    for k in range(len(modes)):
        nodes[(attrs["nodes_treeids"][k], attrs["nodes_nodeids"][k])] = (
            attrs["nodes_featureids"][k], modes[k], np.float32(attrs["nodes_values"][k]),
            attrs["nodes_truenodeids"][k], attrs["nodes_falsenodeids"][k],
            (attrs.get("nodes_missing_value_tracks_true") or [0] * len(modes))[k],
        )
    pre = "class" if "class_ids" in attrs else "target"
    leaves = {}
    for t, n, c, w in zip(attrs[f"{pre}_treeids"], attrs[f"{pre}_nodeids"], attrs[f"{pre}_ids"], attrs[f"{pre}_weights"]):
        leaves.setdefault((t, n), []).append((c, np.float32(w)))
    trees = sorted(set(attrs["nodes_treeids"]))
    roots = {}
    for t in trees:
        kids = {v[3] for (tt, _), v in nodes.items() if tt == t and v[1] != "LEAF"} | {
            v[4] for (tt, _), v in nodes.items() if tt == t and v[1] != "LEAF"}
        roots[t] = next(n for (tt, n) in nodes if tt == t and n not in kids)
    cmp = {"BRANCH_LEQ": np.less_equal, "BRANCH_LT": np.less, "BRANCH_GTE": np.greater_equal, "BRANCH_GT": np.greater}
    out = []
    for row in X32:
        per_tree = []
        for t in trees:
            n = roots[t]
            while True:
                f, mode, v, tn, fn, miss = nodes[(t, n)]
                if mode == "LEAF":
                    break
                x = row[f]
                n = tn if (np.isnan(x) and miss) or cmp[mode](x, v) else fn
            per_tree.append(leaves.get((t, n), []))
        out.append(per_tree)
    return out


def c_expf():
    """The C library's expf (what onnxruntime's std::exp(float) calls on Linux), element-wise."""
    import ctypes
    import ctypes.util

    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    libm.expf.restype = ctypes.c_float
    libm.expf.argtypes = [ctypes.c_float]
    return lambda v: np.array([libm.expf(float(x)) for x in np.asarray(v, dtype=np.float32).reshape(-1)], dtype=np.float32)


def ort_logistic(s: np.ndarray, exp32) -> np.ndarray:
    """onnxruntime's ComputeLogistic as it reads: v = 1 / (1 + exp(-|s|)) in float32, 1 - v for s < 0."""
    s = np.asarray(s, dtype=np.float32)
    v = (np.float32(1) / (np.float32(1) + exp32(-np.abs(s)))).astype(np.float32)
    return np.where(s < 0, np.float32(1) - v, v).astype(np.float32)


def committed_rows(name: str):
    meta = json.loads((HERE / name / "case.json").read_text())
    X = np.concatenate([
        np.genfromtxt(HERE / name / f"{s}.input.csv", delimiter=",", skip_header=1, missing_values="", filling_values=np.nan)
        for s in meta["sets"]]).reshape(-1, len(NAMES))
    want = np.concatenate([np.loadtxt(HERE / name / f"{s}.expected.csv", delimiter=",", skiprows=1, ndmin=2)[:, 0] for s in meta["sets"]])
    return meta, X, want


def tree_semantics(name: str, model: onnx.ModelProto) -> list[str]:
    """Reproduce onnxruntime's score on the case's committed input sets from the attributes alone."""
    node = next(n for n in model.graph.node if n.op_type in TREE_OPS)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    meta, X, want = committed_rows(name)
    walked = walk_trees(attrs, X.astype(np.float32))
    ids = sorted({c for row in walked for leaf in row for c, _ in leaf})
    base = [np.float32(b) for b in attrs.get("base_values", [])]
    post = attrs.get("post_transform", b"NONE").decode()
    labels = attrs.get("classlabels_int64s") or [x.decode() for x in attrs.get("classlabels_strings", [])]
    flip = "class_ids" in attrs and labels and labels.index(meta["positive_class"]) == 0
    lines = [f"- tree semantics, checked on all {len(X)} committed rows: leaf ids used = {ids}; post_transform={post}; "
             f"base_values={[float(b) for b in base] or 'absent'}"]
    recipes = [
        ("float32, trees in tree-id order, + base_values[0] in float32", np.float32, c_expf(), "the C library's expf"),
        ("float32, trees in tree-id order, + base_values[0] in float32", np.float32, lambda v: np.exp(v.astype(np.float64)).astype(np.float32), "exp rounded from float64"),
        ("float64, then + base_values[0], rounded to float32 once", np.float64, c_expf(), "the C library's expf"),
    ]
    for acc_text, dt, exp32, exp_text in recipes:
        if post != "LOGISTIC" and exp_text != "the C library's expf":
            continue
        s = np.zeros(len(X), dtype=dt)
        for i, row in enumerate(walked):
            acc = dt(0)
            for leaf in row:
                for c, w in leaf:
                    assert c == 0
                    acc = dt(acc + dt(w))
            s[i] = acc
        if base:
            s = (s.astype(np.float32) + base[0]) if dt is np.float32 else (s + np.float64(base[0]))
        s32 = s.astype(np.float32)
        got = ort_logistic(s32, exp32) if post == "LOGISTIC" else s32
        if flip:
            got = (np.float32(1) - got).astype(np.float32)
        diff = np.abs(got.astype(np.float64) - want)
        lines.append(
            f"  - s = the one class-0/target-0 leaf weight of each tree summed in {acc_text}"
            + (f"; p = 1/(1+expf(-|s|)) in float32 with {exp_text}, 1-p for s<0" if post == "LOGISTIC" else "")
            + (f"; that is the probability of classlabels[1] ({labels[1]!r}), the positive class {meta['positive_class']!r} gets 1 - it in float32" if flip else
               ("; that is the positive class's probability" if "class_ids" in attrs else "; that is the value"))
            + f": bit-identical to onnxruntime on {int(np.sum(diff == 0))} of {len(X)} rows, max |diff| = {diff.max():.3g}")
    return lines


def mlas_sigmoid(z: np.ndarray) -> np.ndarray:
    node = helper.make_node("Sigmoid", ["z"], ["p"])
    gr = helper.make_graph([node], "sig", [helper.make_tensor_value_info("z", onnx.TensorProto.FLOAT, [None])],
                           [helper.make_tensor_value_info("p", onnx.TensorProto.FLOAT, [None])])
    m = helper.make_model(gr, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return session(m).run(None, {"z": np.asarray(z, dtype=np.float32)})[0]


def linear_semantics(name: str, model: onnx.ModelProto) -> list[str]:
    """Scaler + LinearClassifier (LOGISTIC): how close a plain float32 evaluation comes to onnxruntime."""
    A = {n.op_type: {a.name: helper.get_attribute_value(a) for a in n.attribute} for n in model.graph.node}
    off = np.array(A["Scaler"]["offset"], np.float32)
    sc = np.array(A["Scaler"]["scale"], np.float32)
    coef = np.array(A["LinearClassifier"]["coefficients"], np.float32).reshape(len(A["LinearClassifier"]["intercepts"]), -1)
    ic = np.array(A["LinearClassifier"]["intercepts"], np.float32)
    _, X, want = committed_rows(name)
    Z = ((X.astype(np.float32) - off) * sc).astype(np.float32)
    z = np.zeros(len(X), np.float32)
    for i in range(len(X)):
        acc = np.float32(0)
        for j in range(Z.shape[1]):
            acc = np.float32(acc + np.float32(Z[i, j] * coef[1, j]))
        z[i] = np.float32(acc + ic[1])
    out = []
    for text, p in (("1/(1+expf(-|z|)) as the tree ensembles do", ort_logistic(z, c_expf())),
                    ("onnxruntime's own Sigmoid op (MLAS)", mlas_sigmoid(z))):
        diff = np.abs(p.astype(np.float64) - want)
        out.append(f"  - z = (x - offset) * scale in float32, dotted with coefficients[row 1] in float32 in feature order, "
                   f"+ intercepts[1]; p = {text}: bit-identical on {int(np.sum(diff == 0))} of {len(X)} rows, max |diff| {diff.max():.3g}")
    return ["- linear semantics (LinearClassifier's LOGISTIC post_transform is MLAS's logistic, its dot product an MLAS GEMM; "
            "a float32 reimplementation matches to about 1e-7, not bit for bit):"] + out


def sigmoid_op_check() -> list[str]:
    """How onnxruntime's Sigmoid op (the hand-built network's last node) compares with the float32 formula."""
    z = np.concatenate([np.linspace(-20, 20, 20001), np.random.default_rng(SEED).normal(0, 4, 20000)]).astype(np.float32)
    node = helper.make_node("Sigmoid", ["z"], ["p"])
    gr = helper.make_graph([node], "sig", [helper.make_tensor_value_info("z", onnx.TensorProto.FLOAT, [None])],
                           [helper.make_tensor_value_info("p", onnx.TensorProto.FLOAT, [None])])
    m = helper.make_model(gr, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    got = session(m).run(None, {"z": z})[0]
    exp32 = c_expf()
    plain = (np.float32(1) / (np.float32(1) + exp32(-z))).astype(np.float32)
    ortl = ort_logistic(z, exp32)
    big = (plain > 1e-6) & (got > 1e-6)
    ulp = np.abs(plain[big].view(np.int32).astype(np.int64) - got[big].view(np.int32).astype(np.int64))
    return [
        f"- onnxruntime's Sigmoid op (float32, CPU, one thread) on {len(z)} values in [-20, 20]: equal to float32 "
        f"1/(1+expf(-z)) on {int(np.sum(plain == got))}, to the tree ensembles' 1/(1+expf(-|z|)) form on {int(np.sum(ortl == got))}; "
        f"max |diff| {float(np.max(np.abs(plain.astype(np.float64) - got))):.3g}, max {int(ulp.max())} ulp where both exceed 1e-6. "
        "Sigmoid is computed by MLAS (a rational approximation), not by expf: its absolute error is about 1e-7, so in the "
        "negative tail it is far off in relative terms (" + ", ".join(
            f"z={int(v)}: {float(q):.4g} vs {1 / (1 + math.exp(-float(v))):.4g}"
            for v, q in zip([-16, -12, -8], mlas_sigmoid(np.array([-16, -12, -8], np.float32)))) +
        "); a reimplementation matches it bit for bit only by copying MLAS's approximation.",
    ]


def inventory(models: dict) -> str:
    lines = [
        "# ONNX cases: graph inventory",
        "",
        f"Written by models/test_cases/generate_onnx.py --ops; onnx {onnx.__version__}, onnxruntime {ort.__version__}, "
        f"skl2onnx {skl2onnx.__version__}, onnxmltools {onnxmltools.__version__}.",
        "",
        "## Across all cases",
        "",
        *sigmoid_op_check(),
        "",
    ]
    for name, m in models.items():
        lines += [f"## {name}", ""]
        meta = json.loads((HERE / name / "case.json").read_text())
        lines.append(f"- case.json: inputs={meta['inputs']} positive_class={meta['positive_class']!r} score_output={meta['score_output']}")
        domains = [o.domain for o in m.opset_import]
        if len(domains) != len(set(domains)):
            lines.append(f"- NOTE: opset_import repeats a domain: {[(o.domain, o.version) for o in m.opset_import]}")
        sess = session(m)
        Xs = np.genfromtxt(HERE / name / "random.input.csv", delimiter=",", skip_header=1, max_rows=3)
        outs = sess.run(None, feed(sess, Xs, meta["inputs"]))
        lines.append("- onnxruntime outputs on 3 rows: " + "; ".join(
            f"{o.name}: {type(v).__name__}" + (f" {v.dtype} shape={list(v.shape)}" if isinstance(v, np.ndarray) else
                                               f" of {len(v)} {type(v[0]).__name__} e.g. {v[0]}")
            for o, v in zip(sess.get_outputs(), outs)))
        lines.append(f"- ir_version: {m.ir_version}")
        lines.append(f"- producer: {m.producer_name} {m.producer_version}; domain={m.domain!r} model_version={m.model_version}")
        lines.append("- opset_import: " + ", ".join(f"{o.domain or 'ai.onnx'!s}={o.version}" for o in m.opset_import))
        if m.metadata_props:
            lines.append("- metadata_props: " + ", ".join(f"{p.key}={p.value!r}" for p in m.metadata_props))
        gr = m.graph
        lines.append(f"- graph name: {gr.name}")
        lines.append("- inputs:")
        for i in gr.input:
            lines.append(f"  - {i.name}: {type_text(i.type)}")
        lines.append("- outputs:")
        for o in gr.output:
            lines.append(f"  - {o.name}: {type_text(o.type)}")
        if gr.value_info:
            lines.append("- value_info: " + "; ".join(f"{v.name}: {type_text(v.type)}" for v in gr.value_info))
        if gr.initializer:
            lines.append("- initializers:")
            for t in gr.initializer:
                lines.append(f"  - {t.name}: {fmt_value(t)}")
        lines.append("- nodes, in order:")
        for k, n in enumerate(gr.node):
            lines.append(f"  {k + 1}. {n.op_type} (domain {n.domain or 'ai.onnx'!s}) name={n.name!r}")
            lines.append(f"     inputs={list(n.input)} outputs={list(n.output)}")
            for a in n.attribute:
                at = onnx.AttributeProto.AttributeType.Name(a.type)
                v = helper.get_attribute_value(a)
                lines.append(f"     - {a.name} ({at}): {fmt_value(v)}")
            if n.op_type == "LinearClassifier" and any(x.op_type == "Scaler" for x in gr.node):
                lines.extend("     " + l for l in linear_semantics(name, m))
            if n.op_type in TREE_OPS:
                attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
                modes = attrs.get("nodes_modes", [])
                modes = sorted({x.decode() if isinstance(x, bytes) else x for x in modes})
                trees = len(set(attrs.get("nodes_treeids", [])))
                tracks = attrs.get("nodes_missing_value_tracks_true")
                lines.append(f"     tree summary: trees={trees} nodes={len(attrs.get('nodes_nodeids', []))} nodes_modes={modes} "
                             f"post_transform={fmt_value(attrs.get('post_transform', b'NONE (default)'))} "
                             f"aggregate_function={fmt_value(attrs['aggregate_function']) if 'aggregate_function' in attrs else 'absent (default SUM)'} "
                             f"base_values={fmt_value(attrs['base_values']) if 'base_values' in attrs else 'absent'} "
                             f"classlabels={fmt_value(attrs.get('classlabels_int64s', attrs.get('classlabels_strings', 'absent')))} "
                             f"missing_value_tracks_true={'absent' if tracks is None else f'{sum(1 for t in tracks if t)} of {len(tracks)} set'} "
                             f"*_as_tensor present={sorted(k for k in attrs if k.endswith('_as_tensor')) or 'none'}")
                vals = attrs.get("nodes_values")
                if vals is not None:
                    branch = [v for v, md in zip(vals, attrs["nodes_modes"]) if md != b"LEAF"]
                    lines.append(f"     nodes_values are float32 (attribute FLOATS); distinct branch thresholds={len(set(branch))}, "
                                 f"non-finite branch thresholds={sum(1 for v in branch if not math.isfinite(v))} "
                                 f"({sorted({repr(v) for v in branch if not math.isfinite(v)})})")
                pre = "class" if "class_ids" in attrs else "target"
                per_leaf = {}
                for key in zip(attrs[pre + "_treeids"], attrs[pre + "_nodeids"]):
                    per_leaf[key] = per_leaf.get(key, 0) + 1
                n_leaves = sum(1 for md in attrs["nodes_modes"] if md == b"LEAF")
                lines.append(f"     leaf {pre}_ids used={sorted(set(attrs[pre + '_ids']))}; LEAF nodes={n_leaves}, "
                             f"leaves with weights={len(per_leaf)}, weights per such leaf={sorted(set(per_leaf.values()))}")
                lines.extend("     " + l for l in tree_semantics(name, m))
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    # skl2onnx builds opset_import from a set, so its order, and the bytes of
    # model.onnx, follow Python's string hashing: fix the hash seed.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    main()
