#!/usr/bin/env python3
"""Generate the golden test cases in models/test_cases/ from the real reference libraries.

Every expected score in this folder comes from xgboost, lightgbm or scikit-learn
(pinned in requirements.txt), never from edgescore. The Rust tests read the
committed files and need no Python.

Layout of one case, `<case>/`:
  model.json | model.txt        the model as the reference library saved it
  <set>.input.csv               a header of feature names, one row per example;
                                an empty cell is a missing value (NaN)
  <set>.expected.csv            `score,raw`: the reference library's prediction
                                (probability or regression value) and its raw
                                margin, printed so that they round-trip exactly
  random.contribs.csv           XGBoost `pred_contribs=True`, LightGBM `pred_contrib=True`,
                                linear: coefficient x scikit-learn's standardized value;
                                one column per feature, then `bias`
  case.json                     what the case exercises and, under `sets`, which
                                API of the reference library produced each set

Input sets:
  random       held-out rows; NaN included, except for the linear models
               (scikit-learn refuses NaN).
  boundary     tree models: for every distinct split of the model (feature and
               threshold, or feature and category set), rows that reach a node
               with that split along its real path and then sit exactly on its
               threshold (rounded to float32), one float32 step on either side,
               and at NaN (plus 0.0 for LightGBM's zero-as-missing); float32 values.
  boundary64   tree models: the same walk with float64 probes, on a random
               sample of the splits (at most 3000 rows): the float64 threshold
               itself (LightGBM's as written in model.txt, XGBoost's float32
               one widened), its float64 neighbours, float(np.float32(t)) and
               the lowest and highest float64 that round to it (some of them
               lie on the other side of t, so rounding the input to float32
               takes the wrong branch), then 1e300, -1e300, 1e-36, -1e-36,
               5e-324, -5e-324, 2.2e-310, 0.0 and NaN. Categorical splits keep
               their category-code probes. LightGBM predicts on the float64
               matrix; XGBoost through `inplace_predict`, the one API that
               accepts +-1e300 (it casts every value to float32, so they become
               +-inf; `DMatrix` refuses them).
  extremes     linear models: float64 rows with all their digits, with one
               feature at +-1e300, or tiny, subnormal and zero values.

The `lightgbm_pandas_float64` case is trained from a pandas DataFrame of float64
columns that were never rounded to float32, so its thresholds and its inputs
are float64 values that no float32 reaches.

Every input value (here and in examples/quickstart/transactions.csv) is the
float64 the reference library was given, written as the shortest decimal that
reads back to that float64 exactly (Python's repr). The `boundary` sets and the
`random` sets of the cases trained on float32 data hold float32 values, widened
exactly. XGBoost casts each value to float32 itself; LightGBM and scikit-learn
compute with the float64. (Only the --bench rows file is still written as the
shortest float32 decimals.)

Usage:
  python3 -m venv /tmp/venv && /tmp/venv/bin/pip install -r models/test_cases/requirements.txt
  /tmp/venv/bin/python models/test_cases/generate.py            # golden cases + quickstart
  /tmp/venv/bin/python models/test_cases/generate.py --bench    # also the benchmark model
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import math
import shutil
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import sklearn
import xgboost as xgb
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SEED = 20261121

FRAUD_FEATURES = [
    "amount",
    "hour",
    "merchant_risk",
    "card_age_days",
    "txn_count_1h",
    "distance_km",
    "device_new",
    "country_mismatch",
    "velocity_24h",
    "avg_amount_30d",
    "amount_ratio",
    "account_score",
]


# ---------------------------------------------------------------- data


def fraud_like(
    n: int, rng: np.random.Generator, nan_rate: float, intercept: float = -4.0, dtype=np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Transactions with fraud-like structure; integer-valued columns give thresholds at x.5.
    `intercept` sets the fraud rate; the rows are cast to `dtype` (float32 here;
    generate_onnx.py keeps float64)."""
    amount = rng.lognormal(3.5, 1.2, n)
    hour = rng.integers(0, 24, n).astype(float)
    merchant_risk = rng.beta(2, 8, n)
    card_age = rng.exponential(400, n).round()
    txn_1h = rng.poisson(1.2, n).astype(float)
    distance = rng.exponential(30, n)
    device_new = (rng.random(n) < 0.1).astype(float)
    country = (rng.random(n) < 0.05).astype(float)
    velocity = rng.poisson(4, n).astype(float)
    avg_amount = amount * rng.lognormal(0, 0.5, n)
    ratio = amount / np.maximum(avg_amount, 1.0)
    account = rng.normal(0, 1, n)
    X = np.column_stack(
        [amount, hour, merchant_risk, card_age, txn_1h, distance, device_new, country, velocity, avg_amount, ratio, account]
    )
    logit = (
        intercept
        + 1.2 * np.log1p(ratio)
        + 2.5 * merchant_risk
        + 0.6 * txn_1h
        + 1.5 * device_new
        + 1.8 * country
        - 0.002 * card_age
        + 0.4 * ((hour < 5) | (hour > 22))
        + 0.3 * account
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = X.astype(dtype)
    if nan_rate > 0:
        mask = rng.random(X.shape) < nan_rate
        mask[:, 6] = False  # keep a few columns complete
        X[mask] = np.nan
    return X, y


# ---------------------------------------------------------------- writing


def fmt32(v) -> str:
    """Shortest decimal that reads back to this float32 exactly; empty for NaN."""
    v = np.float32(v)
    if np.isnan(v):
        return ""
    return str(v)


def fmt64(v: float) -> str:
    """Shortest decimal that reads back to this float64 exactly (Python's repr)."""
    if math.isnan(v):
        return "NaN"
    return repr(float(v))


def fmt_input(v) -> str:
    """An input cell: the shortest decimal that reads back to this float64
    exactly (Python's repr); empty for NaN. A float32 is widened first, so the
    cell holds exactly the float64 value the reference library was given."""
    v = float(v)
    if math.isnan(v):
        return ""
    return repr(v)


def write_inputs(path: Path, names: list[str], X: np.ndarray) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(names)
        for row in X:
            w.writerow([fmt_input(v) for v in row])


def write_expected(path: Path, score: np.ndarray, raw: np.ndarray) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["score", "raw"])
        for s, r in zip(score, raw):
            w.writerow([fmt64(float(s)), fmt64(float(r))])


def write_contribs(path: Path, names: list[str], contribs: np.ndarray) -> None:
    """Per-feature contributions (SHAP values), then the bias, per row."""
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(list(names) + ["bias"])
        for row in contribs:
            w.writerow([fmt64(float(v)) for v in row])


def new_case(name: str) -> Path:
    d = HERE / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    return d


def write_meta(d: Path, meta: dict, sets: dict) -> None:
    """case.json: what the case exercises and, per input set, how its expected values were produced."""
    meta = dict(meta)
    meta["sets"] = sets
    meta["generated_by"] = "models/test_cases/generate.py"
    meta["reference"] = {
        "xgboost": xgb.__version__,
        "lightgbm": lgb.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }
    (d / "case.json").write_text(json.dumps(meta, indent=2) + "\n")


# ---------------------------------------------------------------- boundary rows


def f32_below(t: float) -> np.float32:
    """The largest float32 strictly below t."""
    c = np.float32(t)
    if float(c) >= t:
        c = np.nextafter(c, np.float32(-np.inf))
    return c


def f32_above(t: float) -> np.float32:
    """The smallest float32 strictly above t."""
    c = np.float32(t)
    if float(c) <= t:
        c = np.nextafter(c, np.float32(np.inf))
    return c


# What a `boundary64` set probes at every numeric split, besides the
# threshold's own neighbourhood: huge, tiny (below LightGBM's 1e-35 zero
# band), subnormal, zero and missing.
EXTREME_PROBES = [1e300, -1e300, 1e-36, -1e-36, 5e-324, -5e-324, 2.2e-310, 0.0, np.nan]

# A `boundary64` set probes a random sample of the distinct splits when all of
# them would give more rows than this.
BOUNDARY64_MAX_ROWS = 3000


def f32_band(t: float) -> list[float]:
    """The lowest float64 that rounds to np.float32(t), float(np.float32(t)) and the highest one.

    Those of them on the far side of t from np.float32(t) are the inputs that
    rounding to float32 first sends to the wrong side of a LightGBM float64
    threshold t; for an XGBoost float32 threshold t they are the inputs that a
    float64 comparison, without XGBoost's cast to float32, sends the wrong way.
    """
    c = np.float32(t)
    if not np.isfinite(c):
        return []
    out = []
    below = np.nextafter(c, np.float32(-np.inf))
    if np.isfinite(below):
        # The midpoint of two neighbouring float32 is exact in float64; a tie
        # rounds to the float32 with the even significand.
        lo = (float(below) + float(c)) / 2
        if np.float32(lo) != c:
            lo = float(np.nextafter(lo, np.inf))
        assert np.float32(np.nextafter(lo, -np.inf)) != c
        out.append(lo)
    out.append(float(c))
    above = np.nextafter(c, np.float32(np.inf))
    if np.isfinite(above):
        hi = (float(c) + float(above)) / 2
        if np.float32(hi) != c:
            hi = float(np.nextafter(hi, -np.inf))
        assert np.float32(np.nextafter(hi, np.inf)) != c
        out.append(hi)
    assert all(np.float32(v) == c for v in out)
    return out


def unique_probes(values) -> list[float]:
    """The values in order, each once (0.0 and -0.0 are different probes, NaN is one)."""
    seen, out = set(), []
    for v in values:
        v = float(v)
        if repr(v) not in seen:
            seen.add(repr(v))
            out.append(v)
    return out


def numeric_probes64(t: float) -> list[float]:
    """`boundary64` probes of a numeric split with float64 threshold t."""
    return unique_probes(
        [t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf)] + f32_band(t) + EXTREME_PROBES
    )


class Box:
    """Per-feature constraints gathered along a tree path: lo < x <= hi style bounds."""

    def __init__(self, n: int):
        self.lo = [-np.inf] * n  # x must be > lo (strictly) or >= lo_incl
        self.lo_incl = [True] * n
        self.hi = [np.inf] * n
        self.hi_incl = [True] * n
        self.cat_in: dict[int, set] = {}
        self.cat_out: dict[int, set] = {}
        self.nan: set[int] = set()

    def copy(self) -> "Box":
        b = Box(0)
        b.lo, b.lo_incl, b.hi, b.hi_incl = list(self.lo), list(self.lo_incl), list(self.hi), list(self.hi_incl)
        b.cat_in = {k: set(v) for k, v in self.cat_in.items()}
        b.cat_out = {k: set(v) for k, v in self.cat_out.items()}
        b.nan = set(self.nan)
        return b

    def below(self, f: int, t: float, inclusive: bool) -> None:
        if t < self.hi[f] or (t == self.hi[f] and not inclusive):
            self.hi[f], self.hi_incl[f] = t, inclusive

    def above(self, f: int, t: float, inclusive: bool) -> None:
        if t > self.lo[f] or (t == self.lo[f] and not inclusive):
            self.lo[f], self.lo_incl[f] = t, inclusive

    def admits(self, f: int, v: float) -> bool:
        if f in self.nan:
            return False
        ok_lo = v >= self.lo[f] if self.lo_incl[f] else v > self.lo[f]
        ok_hi = v <= self.hi[f] if self.hi_incl[f] else v < self.hi[f]
        return ok_lo and ok_hi

    def value(self, f: int, rng: np.random.Generator) -> float:
        """A float32 value satisfying the numeric bounds of feature f (NaN when forced)."""
        if f in self.nan:
            return np.nan
        if f in self.cat_in:
            return float(sorted(self.cat_in[f])[0])
        if f in self.cat_out:
            c = 0
            while c in self.cat_out[f]:
                c += 1
            return float(c)
        lo, hi = self.lo[f], self.hi[f]
        if lo == -np.inf and hi == np.inf:
            return float(np.float32(rng.normal(0, 10)))
        if lo == -np.inf:
            return float(f32_below(hi - 1.0)) if self.admits(f, float(f32_below(hi - 1.0))) else float(f32_below(hi))
        if hi == np.inf:
            return float(f32_above(lo + 1.0))
        mid = float(np.float32((lo + hi) / 2))
        for cand in (mid, float(f32_above(lo)), float(f32_below(hi)), float(np.float32(hi)), float(np.float32(lo))):
            if self.admits(f, cand):
                return cand
        return np.nan

    def value64(self, f: int, rng: np.random.Generator) -> float:
        """As value(), but where no float32 fits between two float64 bounds
        (LightGBM thresholds closer than a float32 step), a float64 that does."""
        v = self.value(f, rng)
        if v == v or f in self.nan or f in self.cat_in or f in self.cat_out:
            return v
        lo, hi = self.lo[f], self.hi[f]
        for cand in ((lo + hi) / 2, float(np.nextafter(lo, np.inf)), float(np.nextafter(hi, -np.inf)), hi, lo):
            if self.admits(f, cand):
                return cand
        return np.nan


def boundary_rows_from_paths(paths, n_features: int, rng, wide: bool = False) -> np.ndarray:
    """paths: (Box reaching a split, its feature, float32 probes, float64 probes).

    Every distinct split (feature and threshold, or feature and category set)
    gets its probes once, along the path to one node that has it, chosen at
    random; then a row of all NaN and rows with one NaN feature each.

    wide=False: the `boundary` set, float32 rows (the path values and probes
    are float32). wide=True: the `boundary64` set, float64 rows with the
    float64 probes, on at most BOUNDARY64_MAX_ROWS rows (a random sample of
    the splits when needed, always keeping the splits at +-inf, +-1e300 and
    LightGBM's +-1e-35 zero thresholds).
    """
    by_split: dict = {}
    for box, f, probes32, probes64 in paths:
        probes = probes64 if wide else probes32
        key = (f, tuple("nan" if p != p else p for p in probes))
        by_split.setdefault(key, []).append((box, f, probes))
    keys = sorted(by_split, key=repr)
    if wide:
        keys = sample_splits(keys, n_features, rng)
    rows = []
    for key in keys:
        candidates = by_split[key]
        box, f, probes = candidates[rng.integers(len(candidates))]
        if wide:
            base = np.array([box.value64(j, rng) for j in range(n_features)], dtype=np.float64)
        else:
            base = np.array([box.value(j, rng) for j in range(n_features)], dtype=np.float64)
        for p in probes:
            r = base.copy()
            r[f] = p
            rows.append(r)
    rows.append(np.full(n_features, np.nan))
    for f in range(n_features):
        r = np.array([Box(n_features).value(j, rng) for j in range(n_features)])
        r[f] = np.nan
        rows.append(r)
    if wide:
        return np.array(rows, dtype=np.float64)
    return np.array(rows).astype(np.float32)


def sample_splits(keys: list, n_features: int, rng) -> list:
    """At most BOUNDARY64_MAX_ROWS rows' worth of split keys, extreme thresholds first, then at random."""
    budget = BOUNDARY64_MAX_ROWS - 1 - n_features
    if sum(len(k[1]) for k in keys) <= budget:
        return keys
    special = [k for k in keys if k[1][0] != "nan" and (abs(k[1][0]) <= 1e-30 or abs(k[1][0]) >= 1e30)]
    rest = [k for k in keys if k not in special]
    chosen = []
    for k in special + [rest[i] for i in rng.permutation(len(rest))]:
        if len(k[1]) <= budget:
            chosen.append(k)
            budget -= len(k[1])
    return sorted(chosen, key=repr)


def xgboost_paths(model_json: dict):
    """Walk every XGBoost tree: for each split, the box reaching it and probes on its threshold."""
    learner = model_json["learner"]
    n = int(learner["learner_model_param"]["num_feature"])
    out = []
    for tree in learner["gradient_booster"]["model"]["trees"]:
        left, right = tree["left_children"], tree["right_children"]
        feat, cond, stype = tree["split_indices"], tree["split_conditions"], tree["split_type"]
        cats = {}
        for k, node in enumerate(tree["categories_nodes"]):
            s, z = tree["categories_segments"][k], tree["categories_sizes"][k]
            cats[node] = set(tree["categories"][s : s + z])
        stack = [(0, Box(n))]
        while stack:
            nid, box = stack.pop()
            if left[nid] == -1:
                continue
            f = feat[nid]
            if stype[nid] == 1:
                chosen = sorted(cats.get(nid, set()))
                probes = [float(c) for c in chosen[:3]] + [float(max(chosen, default=0) + 1), 0.0, np.nan]
                probes64 = probes  # category codes: no huge or tiny values
                lb, rb = box.copy(), box.copy()
                lb.cat_out.setdefault(f, set()).update(chosen)  # not in set: left
                rb.cat_in[f] = set(chosen[:1]) if chosen else set()
            else:
                t = float(np.float32(cond[nid]))
                probes = [t, float(f32_below(t)), float(f32_above(t)), np.nan]
                probes64 = numeric_probes64(t)  # the float32 threshold, widened
                lb, rb = box.copy(), box.copy()
                lb.below(f, t, inclusive=False)  # x < t goes left
                rb.above(f, t, inclusive=True)
            out.append((box, f, probes, probes64))
            stack.append((left[nid], lb))
            stack.append((right[nid], rb))
    return out, n


def lightgbm_paths(model_text: str):
    """Walk every LightGBM tree from its text dump: boxes reaching each split and threshold probes."""
    header, *tree_blocks = model_text.split("\nTree=")
    n = int(next(l for l in header.splitlines() if l.startswith("max_feature_idx=")).split("=")[1]) + 1
    out = []
    for block in tree_blocks:
        block = block.split("end of trees")[0]
        kv = dict(l.split("=", 1) for l in block.splitlines()[1:] if "=" in l)
        if int(kv["num_leaves"]) <= 1:
            continue
        feat = [int(x) for x in kv["split_feature"].split()]
        thr = [float(x) for x in kv["threshold"].split()]  # the float64 LightGBM reads back
        dec = [int(x) for x in kv["decision_type"].split()]
        left = [int(x) for x in kv["left_child"].split()]
        right = [int(x) for x in kv["right_child"].split()]
        cat_bound = [int(x) for x in kv.get("cat_boundaries", "").split()]
        cat_thr = [int(x) for x in kv.get("cat_threshold", "").split()]
        stack = [(0, Box(n))]
        while stack:
            nid, box = stack.pop()
            f, t, d = feat[nid], thr[nid], dec[nid]
            lb, rb = box.copy(), box.copy()
            if d & 1:
                ci = int(t)
                words = cat_thr[cat_bound[ci] : cat_bound[ci + 1]]
                members = [w * 32 + b for w, word in enumerate(words) for b in range(32) if word >> b & 1]
                probes = [float(c) for c in members[:3]] + [float(max(members, default=0) + 1), -1.0, np.nan]
                probes64 = probes  # category codes: no huge or tiny values
                lb.cat_in[f] = set(members[:1])  # in the set: left
                rb.cat_out.setdefault(f, set()).update(members)
            else:
                probes = [float(np.float32(t)), float(f32_below(t)), float(f32_above(t)), 0.0, np.nan]
                probes64 = numeric_probes64(t)
                lb.below(f, t, inclusive=True)  # x <= t goes left
                rb.above(f, t, inclusive=False)
            out.append((box, f, probes, probes64))
            for child, b in ((left[nid], lb), (right[nid], rb)):
                if child >= 0:
                    stack.append((child, b))
    return out, n


# ---------------------------------------------------------------- cases

XGB_DMATRIX_API = (
    "xgboost.DMatrix(float32 ndarray, missing=NaN) and Booster.predict "
    "(output_margin=True for raw, pred_contribs=True for contribs)"
)
XGB_INPLACE_API = (
    "Booster.inplace_predict(float64 ndarray, missing=NaN) (predict_type='margin' for raw). "
    "xgboost casts every value to float32, so +-1e300 becomes +-inf; xgboost.DMatrix refuses such rows "
    "('Input data contains `inf` or a value too large, while `missing` is not set to `inf`'). "
    "Checked here: on every other row DMatrix(float64 ndarray) gives the same bits, and rounding "
    "the whole input to float32 first changes no output."
)
LGB_API = "Booster.predict(float64 ndarray) and Booster.predict(..., raw_score=True); a pandas DataFrame of the same float64 columns gives the same bits"


def float32_first(X64: np.ndarray) -> np.ndarray:
    """X64 rounded to float32 and widened back: what a float32 feature contract would feed."""
    with np.errstate(over="ignore"):
        return X64.astype(np.float32).astype(np.float64)


def xgb_case(name, desc, params, rounds, X, y, Xtest, names, rng, rng64, feature_types=None, rewrite_scalar_base_score=False):
    meta = {"kind": "xgboost", "description": desc, "params": params, "num_boost_round": rounds}
    d = new_case(name)
    categorical = feature_types is not None
    dtrain = xgb.DMatrix(X, y, feature_names=names, feature_types=feature_types, enable_categorical=categorical)
    booster = xgb.train(params, dtrain, rounds)
    path = d / "model.json"
    booster.save_model(str(path))
    model_json = json.loads(path.read_text())
    if rewrite_scalar_base_score:
        # The pre-3.1 encoding: a bare number instead of a one-element list.
        param = model_json["learner"]["learner_model_param"]
        param["base_score"] = param["base_score"].strip("[]")
        path.write_text(json.dumps(model_json))
    # Expected values come from xgboost loading the very file we commit.
    booster = xgb.Booster(model_file=str(path))
    paths, n = xgboost_paths(model_json)
    sets = {"random": Xtest, "boundary": boundary_rows_from_paths(paths, n, rng)}
    for set_name, Xs in sets.items():
        dm = xgb.DMatrix(Xs, feature_names=names, feature_types=feature_types, enable_categorical=categorical)
        score = booster.predict(dm)
        raw = booster.predict(dm, output_margin=True)
        assert score.dtype == np.float32 and raw.dtype == np.float32
        write_inputs(d / f"{set_name}.input.csv", names, Xs)
        write_expected(d / f"{set_name}.expected.csv", score, raw)
        if set_name == "random":
            contribs = booster.predict(dm, pred_contribs=True)
            assert contribs.dtype == np.float32
            write_contribs(d / f"{set_name}.contribs.csv", names, contribs)

    # boundary64: float64 rows, ±1e300 included, which only inplace_predict accepts.
    X64 = boundary_rows_from_paths(paths, n, rng64, wide=True)
    score = booster.inplace_predict(X64, missing=np.nan)
    raw = booster.inplace_predict(X64, missing=np.nan, predict_type="margin")
    assert score.dtype == np.float32 and raw.dtype == np.float32
    # xgboost casts to float32: rounding the input first must change nothing.
    X32 = float32_first(X64)
    assert np.array_equal(booster.inplace_predict(X32, missing=np.nan), score)
    assert np.array_equal(booster.inplace_predict(X32, missing=np.nan, predict_type="margin"), raw)
    # DMatrix agrees on every row it accepts, and refuses the others.
    fits = ~np.isinf(X32).any(axis=1)
    assert (~fits).any()
    dm = xgb.DMatrix(X64[fits], feature_names=names, feature_types=feature_types, enable_categorical=categorical)
    assert np.array_equal(booster.predict(dm), score[fits])
    assert np.array_equal(booster.predict(dm, output_margin=True), raw[fits])
    try:
        xgb.DMatrix(X64[~fits], feature_names=names, feature_types=feature_types, enable_categorical=categorical)
        raise AssertionError("xgboost.DMatrix accepted a value beyond float32's range")
    except xgb.core.XGBoostError as e:
        assert "Input data contains `inf`" in str(e), e
    write_inputs(d / "boundary64.input.csv", names, X64)
    write_expected(d / "boundary64.expected.csv", score, raw)
    print(f"{name}: boundary64 {len(X64)} rows, {int((~fits).sum())} beyond float32's range")

    write_meta(d, meta, {
        "random": XGB_DMATRIX_API + "; held-out rows, NaN included",
        "boundary": XGB_DMATRIX_API + "; float32 probes at every distinct split",
        "boundary64": XGB_INPLACE_API + " Float64 probes at the splits.",
    })
    return booster


def lgb_case(name, desc, params, rounds, X, y, Xtest, names, rng, rng64, categorical=(), extra_meta=None):
    """X, Xtest: float32 ndarrays, or pandas DataFrames of float64 columns (trained from the frame)."""
    meta = {"kind": "lightgbm", "description": desc, "params": params, "num_boost_round": rounds}
    meta.update(extra_meta or {})
    d = new_case(name)
    params = dict(params, verbose=-1, seed=SEED, deterministic=True, num_threads=1)
    if isinstance(X, pd.DataFrame):
        assert list(X.columns) == list(names) and all(X.dtypes == np.float64)
        ds = lgb.Dataset(X, y, categorical_feature=[names[c] for c in categorical], free_raw_data=False)
        Xtest = Xtest.to_numpy(np.float64)
    else:
        ds = lgb.Dataset(X.astype(np.float64), y, feature_name=names, categorical_feature=list(categorical), free_raw_data=False)
    booster = lgb.train(params, ds, rounds)
    path = d / "model.txt"
    booster.save_model(str(path))
    booster = lgb.Booster(model_file=str(path))
    paths, n = lightgbm_paths(path.read_text())
    sets = {
        "random": Xtest,
        "boundary": boundary_rows_from_paths(paths, n, rng),
        "boundary64": boundary_rows_from_paths(paths, n, rng64, wide=True),
    }
    float32_changes = None
    for set_name, Xs in sets.items():
        X64 = Xs.astype(np.float64)  # exact widening: the reference sees the very values we write
        score = booster.predict(X64)
        raw = booster.predict(X64, raw_score=True)
        frame = pd.DataFrame(X64, columns=names)
        assert np.array_equal(booster.predict(frame), score) and np.array_equal(booster.predict(frame, raw_score=True), raw)
        write_inputs(d / f"{set_name}.input.csv", names, Xs)
        write_expected(d / f"{set_name}.expected.csv", score, raw)
        if set_name == "random":
            contribs = booster.predict(X64, pred_contrib=True)
            write_contribs(d / f"{set_name}.contribs.csv", names, contribs)
        if set_name == "boundary64":
            # How many rows a float32 feature contract would get wrong.
            float32_changes = int((booster.predict(float32_first(X64), raw_score=True) != raw).sum())
            print(f"{name}: boundary64 {len(X64)} rows, {float32_changes} change when rounded to float32 first")
    write_meta(d, meta, {
        "random": LGB_API + "; held-out rows, NaN included",
        "boundary": LGB_API + "; float32 probes at every distinct split",
        "boundary64": LGB_API + "; float64 probes at the splits. "
        f"Rounding these inputs to float32 first changes the raw score of {float32_changes} rows.",
    })


def linear_extremes(Xtest: np.ndarray, rng) -> np.ndarray:
    """Rows for the `extremes` set: ordinary float64 values with all their digits,
    and the same with one feature at +-1e300, or one or all features tiny,
    subnormal or zero."""
    base = Xtest[:8].astype(np.float64) * (1 + rng.normal(0, 1e-3, (8, Xtest.shape[1])))
    n = Xtest.shape[1]
    rows = list(base)
    for i, v in enumerate([1e300, -1e300]):
        for j in range(n):
            r = base[(i + j) % len(base)].copy()
            r[j] = v
            rows.append(r)
    for i, v in enumerate([1e-36, -1e-36, 5e-324, -5e-324, 2.2e-310, 0.0, -0.0]):
        for j in (i % n, (i + 5) % n):
            r = base[i % len(base)].copy()
            r[j] = v
            rows.append(r)
    # At most one huge value per row: its term absorbs all the others, so the
    # expected value does not depend on the order the dot product is summed in.
    for v in [1e-36, 5e-324, 2.2e-310, 0.0]:
        rows.append(np.full(n, v))
    return np.array(rows, dtype=np.float64)


def linear_case(name, desc, kind, X, y, Xtest, names, standardize, rng64):
    meta = {"kind": "linear", "description": desc}
    d = new_case(name)
    Xtr = X.astype(np.float64)
    scaler = StandardScaler().fit(Xtr) if standardize else None
    Z = scaler.transform(Xtr) if scaler else Xtr
    if kind == "logistic":
        est = LogisticRegression(C=1.0, max_iter=2000).fit(Z, y)
        coef, intercept = est.coef_[0], float(est.intercept_[0])
    else:
        est = LinearRegression().fit(Z, y)
        coef, intercept = est.coef_, float(est.intercept_)
    model = {
        "format": "edgescore-linear",
        "format_version": 1,
        "kind": kind,
        "feature_names": names,
        "coefficients": [float(c) for c in coef],
        "intercept": intercept,
    }
    if scaler is not None:
        model["standardize"] = {"mean": [float(m) for m in scaler.mean_], "scale": [float(s) for s in scaler.scale_]}
    (d / "model.json").write_text(json.dumps(model, indent=2) + "\n")

    def predict(Xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        Zt = scaler.transform(Xs.astype(np.float64)) if scaler else Xs.astype(np.float64)
        raw = est.decision_function(Zt) if kind == "logistic" else est.predict(Zt)
        score = est.predict_proba(Zt)[:, 1] if kind == "logistic" else raw
        return Zt, score, raw

    Zt, score, raw = predict(Xtest)
    write_inputs(d / "random.input.csv", names, Xtest)
    write_expected(d / "random.expected.csv", score, raw)
    # A linear model's SHAP values (features independent, the training mean
    # as background): each coefficient times scikit-learn's own standardized
    # value, the intercept as the bias.
    contribs = np.column_stack([Zt * coef, np.full(len(Zt), intercept)])
    write_contribs(d / "random.contribs.csv", names, contribs)

    Xe = linear_extremes(Xtest, rng64)
    with np.errstate(over="ignore", invalid="ignore"):
        _, score, raw = predict(Xe)
    finite = np.isfinite(score) & np.isfinite(raw)
    dropped = [[fmt_input(v) for v in row] for row in Xe[~finite]]
    if dropped:
        print(f"{name}: extremes: dropped {len(dropped)} rows whose scikit-learn output is not finite")
    write_inputs(d / "extremes.input.csv", names, Xe[finite])
    write_expected(d / "extremes.expected.csv", score[finite], raw[finite])
    api = (
        "predict_proba(...)[:, 1] and decision_function" if kind == "logistic" else "predict"
    ) + (" of the estimator on StandardScaler.transform(float64 rows)" if scaler else " of the estimator on the float64 rows")
    write_meta(d, meta, {
        "random": f"scikit-learn {api}; held-out rows; contribs: coefficient x standardized value",
        "extremes": f"scikit-learn {api}; float64 rows with +-1e300, +-1e-36, subnormals and +-0.0 "
        "(no NaN: scikit-learn refuses it); rows whose output overflows are left out",
        **({"extremes_dropped_rows": dropped} if dropped else {}),
    })


def fraud_frame64(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Transactions as a pandas DataFrame of float64 columns, never rounded to float32:
    amounts with all their digits, distances, ratios; merchant_category is an integer code;
    NaN in several columns, and a missing distance (no geolocation) is itself a fraud signal."""
    amount = rng.lognormal(3.5, 1.2, n)
    hour = rng.integers(0, 24, n).astype(float)
    merchant_category = rng.integers(0, 30, n).astype(float)
    merchant_risk = rng.beta(2, 8, n)
    card_age = rng.exponential(400, n)
    txn_1h = rng.poisson(1.2, n).astype(float)
    distance = rng.exponential(30, n) * rng.lognormal(0, 0.3, n)
    no_geo = rng.random(n) < 0.12
    device_trust = rng.normal(0.5, 0.2, n)
    velocity = rng.poisson(4, n).astype(float)
    avg_amount = amount * rng.lognormal(0, 0.5, n)
    ratio = amount / np.maximum(avg_amount, 1.0)
    balance = rng.lognormal(9, 2, n)
    logit = (
        -4.2
        + 1.2 * np.log1p(ratio)
        + 2.5 * merchant_risk
        + 0.6 * txn_1h
        + 1.6 * no_geo
        + 0.02 * np.minimum(distance, 200)
        - 2.0 * (device_trust - 0.5)
        - 0.002 * card_age
        + 0.4 * ((hour < 5) | (hour > 22))
        + 1.0 * np.isin(merchant_category, [3, 7, 11, 19, 23])
        - 0.1 * np.log(balance)
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    distance[no_geo] = np.nan
    frame = pd.DataFrame({
        "amount": amount,
        "hour": hour,
        "merchant_category": merchant_category,
        "merchant_risk": merchant_risk,
        "card_age_days": card_age,
        "txn_count_1h": txn_1h,
        "distance_km": distance,
        "device_trust": device_trust,
        "velocity_24h": velocity,
        "avg_amount_30d": avg_amount,
        "amount_ratio": ratio,
        "balance": balance,
    })
    for col, rate in [("amount", 0.03), ("merchant_category", 0.04), ("device_trust", 0.1), ("avg_amount_30d", 0.06), ("balance", 0.05)]:
        frame.loc[rng.random(n) < rate, col] = np.nan
    assert all(frame.dtypes == np.float64)
    return frame, y


def side_rng(k: int) -> np.random.Generator:
    """A generator of its own for the k-th later addition, leaving the main one's draws alone."""
    return np.random.default_rng(SEED + k)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", action="store_true", help="also write the 300-tree benchmark model")
    args = ap.parse_args()
    # The main generator draws the training data and the `random` and
    # `boundary` sets, always in this order, so that the committed models stay
    # what they are; everything added later draws from its own side_rng(k).
    rng = np.random.default_rng(SEED)
    names = FRAUD_FEATURES

    X, y = fraud_like(20000, rng, nan_rate=0.08)
    Xt, _ = fraud_like(400, rng, nan_rate=0.08)

    xgb_case(
        "xgboost_binary_deep_nan",
        "binary:logistic, depth 10, 120 trees, trained with NaN in every column but one",
        {"objective": "binary:logistic", "max_depth": 10, "eta": 0.1, "seed": SEED, "nthread": 1, "tree_method": "hist"},
        120, X, y, Xt, names, rng, side_rng(1),
    )
    xgb_case(
        "xgboost_binary_scalar_base_score",
        "binary:logistic with base_score rewritten to the pre-3.1 scalar encoding; xgboost reloads it",
        {"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "seed": SEED, "nthread": 1, "base_score": 0.3},
        20, X, y, Xt, names, rng, side_rng(2), rewrite_scalar_base_score=True,
    )
    yr = np.nan_to_num(X[:, 0].astype(np.float64)) * 0.01 + np.nan_to_num(X[:, 2]) * 5 + rng.normal(0, 0.5, len(X))
    xgb_case(
        "xgboost_regression",
        "reg:squarederror, depth 6, 60 trees, NaN in inputs",
        {"objective": "reg:squarederror", "max_depth": 6, "eta": 0.2, "seed": SEED, "nthread": 1},
        60, X, yr, Xt, names, rng, side_rng(3),
    )
    yp = np.clip(np.nan_to_num(X[:, 2]) + rng.normal(0, 0.05, len(X)), 0, 1)
    xgb_case(
        "xgboost_reg_logistic",
        "reg:logistic on a target in [0, 1], depth 5, 30 trees",
        {"objective": "reg:logistic", "max_depth": 5, "eta": 0.3, "seed": SEED, "nthread": 1},
        30, X, yp, Xt, names, rng, side_rng(4),
    )
    xgb_case(
        "xgboost_logitraw",
        "binary:logitraw (margin output), depth 4, 25 trees",
        {"objective": "binary:logitraw", "max_depth": 4, "eta": 0.3, "seed": SEED, "nthread": 1},
        25, X, y, Xt, names, rng, side_rng(5),
    )
    # Categorical splits: merchant category (0..29) and channel (0..3) as codes.
    Xc = X.copy()
    Xc[:, 1] = rng.integers(0, 30, len(X))
    Xc[:, 7] = rng.integers(0, 4, len(X))
    Xc[rng.random(len(X)) < 0.05, 1] = np.nan
    yc = ((np.isin(Xc[:, 1], [3, 7, 11, 19, 23]) & (rng.random(len(X)) < 0.6)) | (y == 1)).astype(int)
    Xct = Xt.copy()
    Xct[:, 1] = rng.integers(0, 32, len(Xt))
    Xct[:, 7] = rng.integers(0, 4, len(Xt))
    Xct[::9, 1] = np.nan
    cat_names = list(names)
    cat_names[1], cat_names[7] = "merchant_category", "channel"
    ftypes = ["q"] * len(names)
    ftypes[1] = ftypes[7] = "c"
    xgb_case(
        "xgboost_categorical",
        "binary:logistic with two categorical features (partition splits, max_cat_to_onehot=1) and NaN",
        {"objective": "binary:logistic", "max_depth": 5, "eta": 0.3, "seed": SEED, "nthread": 1, "tree_method": "hist", "max_cat_to_onehot": 1},
        30, Xc, yc, Xct, cat_names, rng, side_rng(6), feature_types=ftypes,
    )

    lgb_case(
        "lightgbm_binary_categorical_nan",
        "binary, merchant_category categorical, NaN in inputs (missing type NaN), 80 trees",
        {"objective": "binary", "num_leaves": 31, "learning_rate": 0.1, "min_data_in_leaf": 20, "cat_smooth": 1, "min_data_per_group": 5},
        80, Xc, yc, Xct, cat_names, rng, side_rng(7), categorical=[1],
    )
    lgb_case(
        "lightgbm_binary_sigmoid",
        "binary with sigmoid=0.7 and NaN (missing type NaN), 40 trees",
        {"objective": "binary", "sigmoid": 0.7, "num_leaves": 15, "learning_rate": 0.2},
        40, X, y, Xt, names, rng, side_rng(8),
    )
    Xz = np.nan_to_num(X, nan=0.0)
    Xzt = Xt.copy()
    Xzt[::5, 4] = 0.0
    lgb_case(
        "lightgbm_regression_zero_missing",
        "regression with zero_as_missing=true (missing type Zero); NaN inputs also count as missing",
        {"objective": "regression", "zero_as_missing": True, "num_leaves": 15, "learning_rate": 0.2},
        40, Xz, yr, Xzt, names, rng, side_rng(9),
    )
    lgb_case(
        "lightgbm_regression_no_missing",
        "regression with use_missing=false (missing type None): NaN becomes 0.0 and default_left is ignored",
        {"objective": "regression", "use_missing": False, "num_leaves": 15, "learning_rate": 0.2},
        40, Xz, yr, Xt, names, rng, side_rng(10),
    )

    # The user's report: a model trained from a pandas DataFrame of float64
    # columns, whose thresholds float32 inputs cannot reach.
    frame_rng = side_rng(13)
    F, yf = fraud_frame64(20000, frame_rng)
    Ft, _ = fraud_frame64(400, frame_rng)
    lgb_case(
        "lightgbm_pandas_float64",
        "binary trained from a pandas DataFrame of float64 columns (never rounded to float32), "
        "merchant_category categorical, NaN in several columns, 60 trees",
        {"objective": "binary", "num_leaves": 31, "learning_rate": 0.1},
        60, F, yf, Ft, list(F.columns), frame_rng, side_rng(14), categorical=[2],
        extra_meta={"training_data": "pandas.DataFrame, float64 columns; categorical_feature=['merchant_category']"},
    )

    Xl = np.nan_to_num(X, nan=0.0)
    Xlt = np.nan_to_num(Xt, nan=0.0)
    linear_case("linear_logistic", "scikit-learn LogisticRegression on standardized features", "logistic", Xl, y, Xlt, names, True, side_rng(11))
    linear_case("linear_regression", "scikit-learn LinearRegression, no standardization", "linear", Xl, yr, Xlt, names, False, side_rng(12))

    # The README's quickstart: a small fraud model and a handful of transactions.
    q = REPO / "examples" / "quickstart"
    q.mkdir(parents=True, exist_ok=True)
    b = xgb.train(
        {"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "seed": SEED, "nthread": 1},
        xgb.DMatrix(X, y, feature_names=names), 40,
    )
    b.save_model(str(q / "fraud_xgboost.json"))
    write_inputs(q / "transactions.csv", names, Xt[:12])

    if args.bench:
        write_bench_model(rng)


def write_bench_model(rng) -> None:
    """300 trees, depth 8, 40 features, as XGBoost and as LightGBM: the models
    models/benches/score.rs and scripts/bench_peers.py both score."""
    n, f = 50000, 40
    X = rng.normal(0, 1, (n, f)).astype(np.float32)
    logit = X[:, :10] @ rng.normal(0, 1, 10) + np.sin(X[:, 10] * 3) + X[:, 11] * X[:, 12]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    b = xgb.train(
        {"objective": "binary:logistic", "max_depth": 8, "eta": 0.1, "seed": SEED, "nthread": 2, "tree_method": "hist"},
        xgb.DMatrix(X, y), 300,
    )
    out = REPO / "models" / "benches" / "data"
    out.mkdir(parents=True, exist_ok=True)
    raw = b.save_raw("json")
    with gzip.GzipFile(out / "xgboost_300x8_40f.json.gz", "wb", mtime=0) as g:
        g.write(bytes(raw))
    lb = lgb.train(
        {"objective": "binary", "num_leaves": 255, "max_depth": 8, "learning_rate": 0.1, "min_data_in_leaf": 5,
         "verbose": -1, "seed": SEED, "deterministic": True, "num_threads": 2},
        lgb.Dataset(X.astype(np.float64), y), 300,
    )
    with gzip.GzipFile(out / "lightgbm_300x8_40f.txt.gz", "wb", mtime=0) as g:
        g.write(lb.model_to_string().encode())
    Xb = rng.normal(0, 1, (10000, f)).astype(np.float32)
    with gzip.GzipFile(out / "rows_10k_40f.csv.gz", "wb", mtime=0) as gz, io.TextIOWrapper(gz, newline="") as g:
        w = csv.writer(g, lineterminator="\n")
        w.writerow([f"f{i}" for i in range(f)])
        for row in Xb:
            w.writerow([fmt32(v) for v in row])


if __name__ == "__main__":
    main()
