#!/usr/bin/env python3
"""edgescore's backends beside the reference libraries, on the same machine,
models and rows, in one run (issue 15's table in BENCHMARKS.md):

  - the 300-tree depth-8 XGBoost model of models/benches/data (40 features)
    and a 500-tree LightGBM model (31 leaves) trained here on the same rows;
  - 100,000 rows: models/benches/data/rows_10k_40f repeated, with 10% of the
    cells missing (NaN; an empty CSV cell for edgescore);
  - xgboost Booster.inplace_predict (float32 input) with nthread 1 and all
    cores; lightgbm Booster.predict (float64) with num_threads 1 and all
    cores; onnxruntime (the XGBoost model converted by onnxmltools) with one
    thread; Treelite 4 / TL2cgen compiled C (both models) and lleaves
    compiled LLVM (LightGBM) on 1 thread and all cores; edgescore `bench
    --backend native` on 1 thread and all cores, `--backend component` on 1
    thread, and `--backend gpu` (on whatever Vulkan device is present: on a
    machine with only Mesa's lavapipe that figure is a CPU emulating a GPU,
    a check that the path runs, not a GPU's speed).

Throughput: the median of 3 timed passes after a warm-up, rows/s. Single
row: p50 and p99 over 10,000 calls on one thread (the Python figures include
the binding's per-call cost, as a Python caller pays it).

Usage (a venv of models/test_cases/requirements.txt, requirements-onnx.txt
and scripts/bench_backends_requirements.txt; gcc for TL2cgen):
  cargo build --release -p edgescore
  /tmp/ovenv/bin/python scripts/bench_backends.py [--rows 100000]
"""

import argparse
import gzip
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import xgboost as xgb

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "models/benches/data"
CORES = os.cpu_count() or 1


def load_rows(n: int) -> np.ndarray:
    with gzip.open(DATA / "rows_10k_40f.csv.gz", "rt") as f:
        x = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float64)
    x = np.resize(x, (n, x.shape[1]))
    rng = np.random.default_rng(15)
    x[rng.random(x.shape) < 0.10] = np.nan
    return x


def write_csv(path: Path, x: np.ndarray) -> None:
    with open(path, "w") as f:
        f.write(",".join(f"f{i}" for i in range(x.shape[1])) + "\n")
        for row in x:
            f.write(",".join("" if np.isnan(v) else repr(float(v)) for v in row) + "\n")


def pass_rate(fn, rows: int) -> float:
    fn()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return rows / statistics.median(times)


def single_row(fn, x: np.ndarray, calls: int = 10_000) -> tuple[float, float]:
    for i in range(calls // 10):
        fn(x[i % len(x)][None, :])
    took = []
    for i in range(calls):
        row = x[i % len(x)][None, :]
        start = time.perf_counter()
        fn(row)
        took.append(time.perf_counter() - start)
    took.sort()
    return took[calls // 2 - 1] * 1e6, took[int(np.ceil(calls * 0.99)) - 1] * 1e6


def edgescore_bench(binary: Path, model: Path, csv: Path, rows: int, threads: int, backend: str,
                    check: bool = True) -> dict | None:
    out = subprocess.run(
        [str(binary), "bench", "--model", str(model), "--input", str(csv), "--rows", str(rows),
         "--threads", str(threads), "--backend", backend, "--json"],
        capture_output=True, text=True)
    if out.returncode != 0:
        if not check:
            print(f"edgescore --backend {backend} skipped: {out.stderr.strip().splitlines()[-1]}")
            return None
        raise SystemExit(f"edgescore bench failed: {out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def compiled_peers(label: str, load_treelite, x: np.ndarray, rows: int, tmp: Path, lightgbm_file: Path | None):
    """Treelite/TL2cgen (and lleaves for LightGBM) on 1 thread and all cores."""
    results = []
    try:
        import tl2cgen
        import treelite
        lib = tmp / f"{label.split()[0]}_tl2cgen.so"
        tl2cgen.export_lib(load_treelite(treelite), toolchain="gcc", libpath=str(lib),
                           params={"parallel_comp": CORES * 4}, nthread=CORES)
        dmat = tl2cgen.DMatrix(x, missing=np.nan)
        for threads in (1, CORES):
            predictor = tl2cgen.Predictor(str(lib), nthread=threads)
            rate = pass_rate(lambda: predictor.predict(dmat), rows)
            p50, p99 = (single_row(lambda r: predictor.predict(tl2cgen.DMatrix(r, missing=np.nan)), x)
                        if threads == 1 else (None, None))
            results.append((label, f"treelite {treelite.__version__} / tl2cgen {tl2cgen.__version__}",
                            threads, rate, p50, p99))
    except ImportError as e:
        print(f"treelite skipped: {e}")
    if lightgbm_file is not None:
        try:
            import lleaves
            model = lleaves.Model(model_file=str(lightgbm_file))
            model.compile(cache=str(tmp / "lleaves.o"))
            for threads in (1, CORES):
                rate = pass_rate(lambda: model.predict(x, n_jobs=threads), rows)
                p50, p99 = (single_row(lambda r: model.predict(r, n_jobs=1), x) if threads == 1
                            else (None, None))
                results.append((label, "lleaves 1.3 (compiled)", threads, rate, p50, p99))
        except (ImportError, AttributeError) as e:
            print(f"lleaves skipped: {e} (see scripts/bench_backends_requirements.txt)")
    return results


def edgescore_gpu(binary: Path, label: str, model: Path, csv: Path, rows: int):
    r = edgescore_bench(binary, model, csv, rows, 1, "gpu", check=False)
    if r is None:
        return []
    return [(label, f"edgescore gpu: {r['adapter']}", 1, r["rows_per_s"], r["single_row_p50_us"],
             r["single_row_p99_us"])]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--edgescore", type=Path, default=ROOT / "target/release/edgescore")
    args = ap.parse_args()
    x = load_rows(args.rows)
    x32 = x.astype(np.float32)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv = tmp / "rows.csv"
        write_csv(csv, x)

        # XGBoost 300 trees, depth 8.
        xgb_model = tmp / "xgboost_300x8_40f.json"
        xgb_model.write_bytes(gzip.open(DATA / "xgboost_300x8_40f.json.gz").read())
        booster = xgb.Booster(model_file=str(xgb_model))
        for threads in (1, CORES):
            booster.set_param({"nthread": threads})
            rate = pass_rate(lambda: booster.inplace_predict(x32), args.rows)
            p50, p99 = single_row(lambda r: booster.inplace_predict(r), x32) if threads == 1 else (None, None)
            results.append(("xgboost 300x8", f"xgboost {xgb.__version__} inplace_predict", threads, rate, p50, p99))
        try:
            import onnxmltools
            import onnxruntime as ort
            from onnxmltools.convert.common.data_types import FloatTensorType
            onx = onnxmltools.convert_xgboost(booster, initial_types=[("input", FloatTensorType([None, x.shape[1]]))],
                                              target_opset=15)
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(onx.SerializeToString(), so, providers=["CPUExecutionProvider"])
            rate = pass_rate(lambda: sess.run(None, {"input": x32}), args.rows)
            p50, p99 = single_row(lambda r: sess.run(None, {"input": r}), x32)
            results.append(("xgboost 300x8", f"onnxruntime {ort.__version__}", 1, rate, p50, p99))
        except (ImportError, RuntimeError) as e:
            print(f"onnxruntime skipped: {e}")
        for threads in (1, CORES):
            r = edgescore_bench(args.edgescore, xgb_model, csv, args.rows, threads, "native")
            results.append(("xgboost 300x8", "edgescore native", threads, r["rows_per_s"],
                            r["single_row_p50_us"] if threads == 1 else None,
                            r["single_row_p99_us"] if threads == 1 else None))
        results += compiled_peers("xgboost 300x8",
                                  lambda tl: tl.frontend.load_xgboost_model(xgb_model, format_choice="json"),
                                  x32, args.rows, tmp, None)
        results += edgescore_gpu(args.edgescore, "xgboost 300x8", xgb_model, csv, args.rows)
        wasm = tmp / "xgboost.wasm"
        subprocess.run([str(args.edgescore), "build", "--model", str(xgb_model), "--name", "xgb", "--version", "1",
                        "--output", str(wasm)], check=True, capture_output=True)
        r = edgescore_bench(args.edgescore, wasm, csv, args.rows, 1, "component")
        results.append(("xgboost 300x8", "edgescore component", 1, r["rows_per_s"], r["single_row_p50_us"],
                        r["single_row_p99_us"]))

        # LightGBM 500 trees, 31 leaves, trained here on the same rows.
        base = x[:10_000]
        rng = np.random.default_rng(16)
        y = (np.nan_to_num(base[:, 0]) + 0.5 * np.nan_to_num(base[:, 1]) * np.nan_to_num(base[:, 2])
             + rng.normal(0, 1, len(base)) > 0.3).astype(int)
        lgb_booster = lgb.train({"objective": "binary", "num_leaves": 31, "verbose": -1, "num_threads": CORES,
                                 "seed": 16},
                                lgb.Dataset(base, y, feature_name=[f"f{i}" for i in range(x.shape[1])]),
                                num_boost_round=500)
        lgb_model = tmp / "lightgbm_500.txt"
        lgb_booster.save_model(str(lgb_model))
        lgb_booster = lgb.Booster(model_file=str(lgb_model))
        for threads in (1, CORES):
            rate = pass_rate(lambda: lgb_booster.predict(x, num_threads=threads), args.rows)
            p50, p99 = (single_row(lambda r: lgb_booster.predict(r, num_threads=1), x) if threads == 1
                        else (None, None))
            results.append(("lightgbm 500x31", f"lightgbm {lgb.__version__} predict", threads, rate, p50, p99))
        results += compiled_peers("lightgbm 500x31", lambda tl: tl.frontend.load_lightgbm_model(lgb_model),
                                  x, args.rows, tmp, lgb_model)
        for threads in (1, CORES):
            r = edgescore_bench(args.edgescore, lgb_model, csv, args.rows, threads, "native")
            results.append(("lightgbm 500x31", "edgescore native", threads, r["rows_per_s"],
                            r["single_row_p50_us"] if threads == 1 else None,
                            r["single_row_p99_us"] if threads == 1 else None))

    print(f"\n{args.rows} rows, 40 features, 10% missing; {CORES} cores\n")
    print("| model | scorer | threads | rows/s | vs reference, same threads | single row p50 | p99 |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    reference = {}
    for model, who, threads, rate, p50, p99 in results:
        if who.startswith(("xgboost", "lightgbm")):
            reference[(model, threads)] = rate
    for model, who, threads, rate, p50, p99 in results:
        ref = reference.get((model, threads))
        ratio = f"{rate / ref:.2f}x" if ref else "—"
        fmt = lambda v: f"{v:.2f} us" if v is not None else "—"
        print(f"| {model} | {who} | {threads} | {rate:,.0f} | {ratio} | {fmt(p50)} | {fmt(p99)} |")


if __name__ == "__main__":
    main()
