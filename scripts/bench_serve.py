#!/usr/bin/env python3
"""Loopback HTTP benchmark of `edgescore serve` against MLServer on the same
XGBoost model (examples/quickstart/fraud_xgboost.json), with `oha` as the
load generator. Prints the figures BENCHMARKS.md records.

Measures, for single-row requests:
  - peak throughput and p50/p99 latency (closed loop, C connections, D seconds)
    for edgescore's /v1 JSON and V2 JSON endpoints and MLServer's V2 JSON;
  - edgescore's p99 at half its peak rate (open loop, fixed rate);
  - edgescore's p99 at that rate while versions swap (a new version every
    50 ms through the admin API), and again after the swaps (no creep).

Usage (after `cargo build --release -p edgescore`):
  python3 -m venv /tmp/venv && /tmp/venv/bin/pip install -r scripts/bench_serve_requirements.txt
  cargo install oha --locked
  /tmp/venv/bin/python scripts/bench_serve.py [--oha oha] [--mlserver /tmp/venv/bin/mlserver]
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "examples" / "quickstart" / "fraud_xgboost.json"
EDGESCORE = ROOT / "target" / "release" / "edgescore"
TOKEN = "bench-token"
ROW = [950.0, 3.0, 0.8, 12.0, 6.0, 850.0, 1.0, 1.0, 14.0, 40.0, 23.75, -1.2]
NAMES = ["amount", "hour", "merchant_risk", "card_age_days", "txn_count_1h", "distance_km",
         "device_new", "country_mismatch", "velocity_24h", "avg_amount_30d", "amount_ratio",
         "account_score"]


def wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.2)
    sys.exit(f"{url} did not become ready")


def oha(binary: str, url: str, body: str, seconds: int, connections: int, rate: float | None = None) -> dict:
    cmd = [binary, "--no-tui", "--output-format", "json", "-z", f"{seconds}s", "-c", str(connections),
           "-m", "POST", "-H", "content-type: application/json", "-d", body, url]
    if rate:
        cmd[1:1] = ["-q", str(rate)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result = json.loads(out)
    summary = result["summary"]
    pct = result["latencyPercentiles"]
    codes = result.get("statusCodeDistribution", {})
    return {
        "rps": summary["requestsPerSec"],
        "p50_ms": pct["p50"] * 1000,
        "p99_ms": pct["p99"] * 1000,
        "ok": summary["successRate"],
        "codes": codes,
    }


def start_edgescore(registry: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, EDGESCORE_ADMIN_TOKEN=TOKEN)
    proc = subprocess.Popen([str(EDGESCORE), "serve", "--registry", str(registry),
                             "--listen", f"127.0.0.1:{port}"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/v2/health/ready")
    return proc


def start_mlserver(mlserver: str, workdir: Path, port: int) -> subprocess.Popen:
    model_dir = workdir / "fraud"
    model_dir.mkdir(parents=True)
    shutil.copy(MODEL, model_dir / "model.json")
    (model_dir / "model-settings.json").write_text(json.dumps({
        "name": "fraud",
        "implementation": "mlserver_xgboost.XGBoostModel",
        "parameters": {"uri": "./model.json"},
    }))
    (workdir / "settings.json").write_text(json.dumps({
        "http_port": port, "grpc_port": port + 1, "metrics_port": port + 2,
        "parallel_workers": 0, "debug": False,
    }))
    proc = subprocess.Popen([mlserver, "start", str(workdir)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    wait_http(f"http://127.0.0.1:{port}/v2/models/fraud/ready", 120)
    return proc


def swap_loop(registry: Path, port: int, component: bytes, stop: threading.Event, count: list) -> None:
    version = 2
    while not stop.is_set():
        folder = registry / "fraud" / str(version)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.wasm.tmp").write_bytes(component)
        os.rename(folder / "model.wasm.tmp", folder / "model.wasm")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v2/repository/models/fraud/load", method="POST",
            headers={"authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=10) as r:
            assert json.loads(r.read())["serving"] == version
        if version > 3:
            shutil.rmtree(registry / "fraud" / str(version - 2), ignore_errors=True)
        version += 1
        count[0] += 1
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--oha", default="oha")
    parser.add_argument("--mlserver", default=str(Path(sys.executable).parent / "mlserver"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    v1_body = json.dumps({"rows": [dict(zip(NAMES, ROW))]})
    v2_body = json.dumps({"inputs": [{"name": "features", "shape": [1, 12], "datatype": "FP32", "data": ROW}]})
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        registry = tmp / "registry"
        (registry / "fraud" / "1").mkdir(parents=True)
        subprocess.run([str(EDGESCORE), "build", "--model", str(MODEL), "--name", "fraud", "--version", "1",
                        "--output", str(registry / "fraud" / "1" / "model.wasm")], check=True,
                       stdout=subprocess.DEVNULL)
        component = (registry / "fraud" / "1" / "model.wasm").read_bytes()

        port = 18090
        edge = start_edgescore(registry, port)
        try:
            base = f"http://127.0.0.1:{port}"
            oha(args.oha, f"{base}/v1/models/fraud/score", v1_body, 2, args.connections)  # warm-up
            results["edgescore /v1 JSON"] = oha(args.oha, f"{base}/v1/models/fraud/score", v1_body,
                                                args.seconds, args.connections)
            results["edgescore /v2 infer JSON"] = oha(args.oha, f"{base}/v2/models/fraud/infer", v2_body,
                                                      args.seconds, args.connections)
            half = results["edgescore /v1 JSON"]["rps"] / 2
            results["edgescore /v1 at half peak, steady"] = oha(
                args.oha, f"{base}/v1/models/fraud/score", v1_body, args.seconds, args.connections, half)
            stop, swaps = threading.Event(), [0]
            swapper = threading.Thread(target=swap_loop, args=(registry, port, component, stop, swaps))
            swapper.start()
            during = oha(args.oha, f"{base}/v1/models/fraud/score", v1_body, args.seconds, args.connections, half)
            stop.set()
            swapper.join()
            during["swaps"] = swaps[0]
            results["edgescore /v1 at half peak, during swaps"] = during
            results["edgescore /v1 at half peak, after swaps"] = oha(
                args.oha, f"{base}/v1/models/fraud/score", v1_body, args.seconds, args.connections, half)
        finally:
            edge.send_signal(signal.SIGTERM)
            edge.wait(30)

        ml = start_mlserver(args.mlserver, tmp / "mlserver", 18190)
        try:
            base = "http://127.0.0.1:18190"
            oha(args.oha, f"{base}/v2/models/fraud/infer", v2_body, 2, args.connections)  # warm-up
            results["MLServer /v2 infer JSON"] = oha(args.oha, f"{base}/v2/models/fraud/infer", v2_body,
                                                     args.seconds, args.connections)
        finally:
            os.killpg(ml.pid, signal.SIGTERM)
            ml.wait(30)

    print(f"{'case':48} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'ok':>6}")
    for name, r in results.items():
        extra = f"  ({r['swaps']} swaps)" if "swaps" in r else ""
        print(f"{name:48} {r['rps']:10.0f} {r['p50_ms']:8.3f} {r['p99_ms']:8.3f} {r['ok']:6.3f}{extra}")
    ratio = results["edgescore /v2 infer JSON"]["rps"] / results["MLServer /v2 infer JSON"]["rps"]
    print(f"edgescore V2 / MLServer V2 throughput: {ratio:.1f}x")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
