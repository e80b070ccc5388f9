#!/usr/bin/env python3
"""Dynamic batching under many single-row clients (issue 15): `edgescore
serve` on the 300-tree depth-8 XGBoost model (40 features, the benchmark
model of BENCHMARKS.md), one server per setting, `oha` as the load generator
with C concurrent connections each sending one row per request.

Settings, each run in the same invocation on the same machine:
  - native, unbatched;  native, batched (max_batch_rows, max_queue_delay_us);
  - component, unbatched;  component, batched;
  - with --gpu: gpu, unbatched;  gpu, batched (on the Vulkan device present:
    with only Mesa's lavapipe, a CPU emulating a GPU, whose cost per call
    shows what batching does where calls are expensive).
Prints req/s, p50/p99 latency, the mean batch (rows and requests) from
/metrics, and the batched/unbatched throughput ratios.

Usage (after `cargo build --release -p edgescore`; oha as in bench_serve.py):
  python3 scripts/bench_batching.py [--oha target/tools/oha/bin/oha] [--connections 64]
      [--seconds 10] [--max-batch-rows 64] [--max-queue-delay-us 500] [--gpu]
"""

import argparse
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import EDGESCORE, ROOT, oha, wait_http  # noqa: E402

MODEL = ROOT / "models" / "benches" / "data" / "xgboost_300x8_40f.json.gz"
ROWS = ROOT / "models" / "benches" / "data" / "rows_10k_40f.csv.gz"


def one_row() -> list:
    """The first row of the benchmark rows (`null` for a missing value)."""
    line = gzip.decompress(ROWS.read_bytes()).decode().splitlines()[1]
    return [None if c == "" else float(c) for c in line.split(",")]


def batch_mean(metrics: str, name: str) -> float:
    values = {}
    for suffix in ("_sum", "_count"):
        m = re.search(rf"^{name}{suffix}\{{[^}}]*\}} (\S+)$", metrics, re.M)
        values[suffix] = float(m.group(1)) if m else 0.0
    return values["_sum"] / values["_count"] if values["_count"] else 0.0


def bucket_quantile(metrics: str, name: str, q: float) -> float | None:
    """The upper bound of the histogram bucket holding quantile q (None: no series)."""
    buckets = []
    for m in re.finditer(rf'^{name}_bucket\{{([^}}]*)\}} (\S+)$', metrics, re.M):
        le = re.search(r'le="([^"]+)"', m.group(1)).group(1)
        buckets.append((float("inf") if le == "+Inf" else float(le), float(m.group(2))))
    if not buckets:
        return None
    buckets.sort()
    total = buckets[-1][1]
    for bound, count in buckets:
        if count >= q * total:
            return bound
    return None


def run(registry: Path, config: str, port: int, args, body: str) -> dict:
    config_path = registry.parent / f"serve-{port}.toml"
    config_path.write_text(config)
    proc = subprocess.Popen([str(EDGESCORE), "serve", "--registry", str(registry), "--listen",
                             f"127.0.0.1:{port}", "--config", str(config_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/v2/models/bench/ready")
        url = f"{base}/v1/models/bench/score"
        oha(args.oha, url, body, 2, args.connections)  # warm-up
        result = oha(args.oha, url, body, args.seconds, args.connections)
        import urllib.request
        with urllib.request.urlopen(f"{base}/metrics") as r:
            metrics = r.read().decode()
        result["batch_rows"] = batch_mean(metrics, "edgescore_batch_rows")
        result["batch_requests"] = batch_mean(metrics, "edgescore_batch_requests")
        result["oldest_in_batcher_p99_le_ms"] = (
            (bucket_quantile(metrics, "edgescore_batch_oldest_request_seconds", 0.99) or 0.0) * 1000)
        return result
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--oha", default=str(ROOT / "target" / "tools" / "oha" / "bin" / "oha"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--max-batch-rows", type=int, default=64)
    parser.add_argument("--max-queue-delay-us", type=int, default=500)
    parser.add_argument("--gpu", action="store_true", help="also the GPU backend, unbatched and batched")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = tmp / "model.json"
        model.write_bytes(gzip.decompress(MODEL.read_bytes()))
        registry = tmp / "registry"
        (registry / "bench" / "1").mkdir(parents=True)
        subprocess.run([str(EDGESCORE), "build", "--model", str(model), "--name", "bench", "--version", "1",
                        "--output", str(registry / "bench" / "1" / "model.wasm")], check=True,
                       stdout=subprocess.DEVNULL)
        body = json.dumps({"rows": [one_row()]})
        batching = f"max_batch_rows = {args.max_batch_rows}\nmax_queue_delay_us = {args.max_queue_delay_us}\n"
        settings = {
            "native, unbatched": '[models.bench]\nbackend = "native"\n',
            "native, batched": '[models.bench]\nbackend = "native"\n' + batching,
            "component, unbatched": "",
            "component, batched": "[models.bench]\n" + batching,
        }
        if args.gpu:
            settings["gpu, unbatched"] = '[models.bench]\nbackend = "gpu"\n'
            settings["gpu, batched"] = '[models.bench]\nbackend = "gpu"\n' + batching
        results = {}
        for i, (name, config) in enumerate(settings.items()):
            results[name] = run(registry, config, 18300 + i, args, body)

    print(f"{args.connections} connections, one row per request, {args.seconds} s each; "
          f"batched: max_batch_rows={args.max_batch_rows}, max_queue_delay_us={args.max_queue_delay_us}")
    print(f"{'setting':22} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ok':>6} {'rows/batch':>10} {'req/batch':>9}"
          f" {'batcher p99 <= ms':>17}")
    for name, r in results.items():
        print(f"{name:22} {r['rps']:9.0f} {r['p50_ms']:8.3f} {r['p99_ms']:8.3f} {r['ok']:6.3f} "
              f"{r['batch_rows']:10.1f} {r['batch_requests']:9.1f} {r['oldest_in_batcher_p99_le_ms']:17.3f}")
    for backend in ("native", "component") + (("gpu",) if args.gpu else ()):
        ratio = results[f"{backend}, batched"]["rps"] / results[f"{backend}, unbatched"]["rps"]
        print(f"{backend}: batched / unbatched throughput {ratio:.2f}x")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
