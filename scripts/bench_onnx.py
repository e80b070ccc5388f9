#!/usr/bin/env python3
"""edgescore's ONNX scoring, native and inside a component, beside
onnxruntime (one thread), on the same models and rows in one run: the median
single-row call and a 10k-row batch for the forests, the gradient boosting,
the logistic pipeline and the MLP golden cases; and each component's size
and fresh-instance time.

Usage (the venv of models/test_cases/requirements-onnx.txt):
  /tmp/ovenv/bin/python scripts/bench_onnx.py
"""

import csv
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
CASES = ["onnx_random_forest", "onnx_gradient_boosting", "onnx_hist_gradient_boosting_nan",
         "onnx_logreg_pipeline", "onnx_mlp"]
ROWS = 10_000


def tiled_rows(case: str) -> tuple[list[str], np.ndarray]:
    with open(ROOT / "models/test_cases" / case / "random.input.csv") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [[float(c) if c else np.nan for c in r] for r in reader]
    data = np.array(rows, dtype=np.float64)
    return header, np.resize(data, (ROWS, data.shape[1]))


def onnxruntime_times(model: Path, x: np.ndarray) -> dict:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x32 = x.astype(np.float32)
    single = []
    for i in range(10_000):
        row = x32[i % len(x32)][None, :]
        start = time.perf_counter()
        session.run(None, {name: row})
        single.append(time.perf_counter() - start)
    best = min(_timed(lambda: session.run(None, {name: x32})) for _ in range(5))
    return {"single_row_p50_us": statistics.median(single) * 1e6, "batch_ms": best * 1e3}


def _timed(f) -> float:
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def run_json(args: list[str]) -> dict:
    return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    for package, example in [("edgescore-models", "time_rows"), ("edgescore-runtime", "time_component")]:
        subprocess.run(["cargo", "build", "-q", "--release", "-p", package, "--example", example],
                       check=True, cwd=ROOT)
    native_bin = ROOT / "target/release/examples/time_rows"
    component_bin = ROOT / "target/release/examples/time_component"
    print(f"{'model':32} {'1 row: native':>14} {'component':>10} {'ort':>8} "
          f"{'10k: native':>12} {'component':>10} {'ort':>8}  {'ort/native':>10} {'ort/comp':>8}"
          f"  {'size':>8} {'fresh':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            header, x = tiled_rows(case)
            rows_csv = Path(tmp) / f"{case}.csv"
            with open(rows_csv, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(header)
                w.writerows([["" if np.isnan(v) else repr(float(v)) for v in r] for r in x])
            model = ROOT / "models/test_cases" / case / "model.onnx"
            native = run_json([str(native_bin), str(model), str(rows_csv)])
            comp = run_json([str(component_bin), str(model), str(rows_csv)])
            ort_t = onnxruntime_times(model, x)
            print(f"{case:32} {native['single_row_p50_us']:11.2f} us {comp['single_row_p50_us']:7.2f} us "
                  f"{ort_t['single_row_p50_us']:5.1f} us {native['batch_ms']:9.2f} ms {comp['batch_ms']:7.2f} ms "
                  f"{ort_t['batch_ms']:5.2f} ms  {ort_t['batch_ms'] / native['batch_ms']:9.2f}x "
                  f"{ort_t['batch_ms'] / comp['batch_ms']:7.2f}x  {comp['bytes'] / 1024:5.0f} KiB "
                  f"{comp['fresh_instance_us']:5.0f} us", flush=True)


if __name__ == "__main__":
    main()
