#!/usr/bin/env python3
"""Time the reference libraries on the benchmark models that models/benches/score.rs times.

Same models (models/benches/data/*.gz), same 10k rows, one thread:
  - xgboost: Booster.inplace_predict on a float32 numpy array (the fastest Python path),
  - lightgbm: Booster.predict on a float64 numpy array (its native input type);
and per-feature contributions (exact TreeSHAP) for one row and for 100 rows:
  - xgboost: Booster.predict(DMatrix, pred_contribs=True) (DMatrix built per call, as a service would),
  - lightgbm: Booster.predict(pred_contrib=True).
Prints mean times per call; BENCHMARKS.md turns them into ratios against edgescore.

Usage:
  python3 -m venv /tmp/venv && /tmp/venv/bin/pip install -r models/test_cases/requirements.txt
  /tmp/venv/bin/python scripts/bench_peers.py
"""

import csv
import gzip
import io
import json
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import xgboost as xgb

DATA = Path(__file__).resolve().parent.parent / "models" / "benches" / "data"


def rows() -> np.ndarray:
    with gzip.open(DATA / "rows_10k_40f.csv.gz", "rt") as f:
        r = csv.reader(f)
        next(r)
        return np.array([[float(c) for c in row] for row in r], dtype=np.float32)


def timed(fn, min_seconds=3.0, min_calls=5):
    """Mean seconds per call after a warm-up, over at least min_seconds."""
    for _ in range(3):
        fn()
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and calls >= min_calls:
            return elapsed / calls


def report(name, single, b100, b10k):
    print(f"{name:<22} single row {single * 1e6:9.2f} us   batch 100 {b100 * 1e3:8.3f} ms   "
          f"batch 10k {b10k * 1e3:9.2f} ms   ({10_000 / b10k:,.0f} rows/s)")


def contributions(name, single, b100):
    print(f"{name:<22} contributions: single row {single * 1e3:8.3f} ms   batch 100 {b100 * 1e3:9.2f} ms")


def main():
    X = rows()
    booster = xgb.Booster(model_file=bytearray(gzip.open(DATA / "xgboost_300x8_40f.json.gz").read()))
    booster.set_param({"nthread": 1})
    one = X[:1]
    report(
        f"xgboost {xgb.__version__}",
        timed(lambda: booster.inplace_predict(one)),
        timed(lambda: booster.inplace_predict(X[:100])),
        timed(lambda: booster.inplace_predict(X)),
    )
    text = gzip.open(DATA / "lightgbm_300x8_40f.txt.gz").read().decode()
    lbooster = lgb.Booster(model_str=text, params={"num_threads": 1})
    X64 = X.astype(np.float64)
    one64 = X64[:1]
    report(
        f"lightgbm {lgb.__version__}",
        timed(lambda: lbooster.predict(one64, num_threads=1)),
        timed(lambda: lbooster.predict(X64[:100], num_threads=1)),
        timed(lambda: lbooster.predict(X64, num_threads=1)),
    )
    contributions(
        f"xgboost {xgb.__version__}",
        timed(lambda: booster.predict(xgb.DMatrix(one, nthread=1), pred_contribs=True)),
        timed(lambda: booster.predict(xgb.DMatrix(X[:100], nthread=1), pred_contribs=True)),
    )
    contributions(
        f"lightgbm {lgb.__version__}",
        timed(lambda: lbooster.predict(one64, num_threads=1, pred_contrib=True)),
        timed(lambda: lbooster.predict(X64[:100], num_threads=1, pred_contrib=True)),
    )


if __name__ == "__main__":
    main()
