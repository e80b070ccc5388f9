#!/usr/bin/env python3
"""edgescore's native ONNX scoring beside onnxruntime (one thread), on the
same models and rows in one run: the median single-row call and a 10k-row
batch, for the random forest, the gradient boosting and the MLP golden cases.

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


def main() -> None:
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "edgescore-models", "--example", "time_rows"],
                   check=True, cwd=ROOT)
    binary = ROOT / "target/release/examples/time_rows"
    print(f"{'model':34} {'edgescore 1 row':>16} {'ort 1 row':>10} {'ratio':>6} "
          f"{'edgescore 10k':>14} {'ort 10k':>9} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            header, x = tiled_rows(case)
            rows_csv = Path(tmp) / f"{case}.csv"
            with open(rows_csv, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(header)
                w.writerows([["" if np.isnan(v) else repr(float(v)) for v in r] for r in x])
            model = ROOT / "models/test_cases" / case / "model.onnx"
            ours = json.loads(subprocess.run([str(binary), str(model), str(rows_csv)], check=True,
                                             capture_output=True, text=True).stdout)
            theirs = onnxruntime_times(model, x)
            print(f"{case:34} {ours['single_row_p50_us']:13.2f} us {theirs['single_row_p50_us']:7.2f} us "
                  f"{theirs['single_row_p50_us'] / ours['single_row_p50_us']:5.1f}x "
                  f"{ours['batch_ms']:11.2f} ms {theirs['batch_ms']:6.2f} ms "
                  f"{theirs['batch_ms'] / ours['batch_ms']:5.1f}x", flush=True)


if __name__ == "__main__":
    main()
