#!/usr/bin/env python3
"""Two `edgescore` binaries (an earlier commit's and this one's) side by
side on the same machine in one run, in alternating rounds: /v1 single-row
throughput and p99 (oha, closed loop) on the quickstart model, and the
pipeline endpoint's p99 on a replayed fortnight (the demo fraud pipeline,
Python client, as scripts/bench_pipeline.py). Prints each round and the
medians with their ratio (after / before).

Usage (release builds of both, `cargo install oha --locked`):
  python3 scripts/bench_serve_before_after.py --before <old edgescore> \
      --after target/release/edgescore --oha oha [--rounds 3] [--seconds 8]
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_pipeline  # noqa: E402
import bench_serve  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def v1_peak(binary: Path, oha: str, seconds: int, connections: int, tmp: Path) -> dict:
    registry = tmp / f"registry-{binary.stat().st_ino}"
    (registry / "fraud" / "1").mkdir(parents=True, exist_ok=True)
    subprocess.run([str(binary), "build", "--model", str(bench_serve.MODEL), "--name", "fraud",
                    "--version", "1", "--output", str(registry / "fraud" / "1" / "model.wasm")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bench_serve.EDGESCORE = binary
    port = 18290
    proc = bench_serve.start_edgescore(registry, port)
    try:
        body = json.dumps({"rows": [dict(zip(bench_serve.NAMES, bench_serve.ROW))]})
        url = f"http://127.0.0.1:{port}/v1/models/fraud/score"
        bench_serve.oha(oha, url, body, 2, connections)  # warm-up
        return bench_serve.oha(oha, url, body, seconds, connections)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def pipeline_replay(binary: Path, data: Path, tmp: Path, limit: int) -> dict:
    port = 18291
    proc = subprocess.Popen([str(binary), "serve", "--listen", f"127.0.0.1:{port}",
                             "--alert-log", str(tmp / "alerts.jsonl")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        bench_pipeline.wait_ready(port, 300)
        return bench_pipeline.replay(port, data, 2, limit)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True, type=Path)
    parser.add_argument("--after", required=True, type=Path)
    parser.add_argument("--oha", default="oha")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--replay-limit", type=int, default=20000)
    args = parser.parse_args()
    results = {"before": {"v1_rps": [], "v1_p99": [], "pipe_p99": [], "pipe_rps": []},
               "after": {"v1_rps": [], "v1_p99": [], "pipe_p99": [], "pipe_rps": []}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "holdout.csv"
        subprocess.run(["cargo", "run", "-q", "--release", "-p", "edgescore", "--example", "fraud_generate",
                        "--", "--start-day", "60", "--days", "14", "--output", str(data)], check=True, cwd=ROOT)
        for round_ in range(1, args.rounds + 1):
            # Alternate which goes first, so neither always has the warmer machine.
            order = ["before", "after"] if round_ % 2 else ["after", "before"]
            for which in order:
                binary = args.before if which == "before" else args.after
                v1 = v1_peak(binary, args.oha, args.seconds, args.connections, tmp)
                pipe = pipeline_replay(binary, data, tmp, args.replay_limit)
                r = results[which]
                r["v1_rps"].append(v1["rps"])
                r["v1_p99"].append(v1["p99_ms"])
                r["pipe_p99"].append(pipe["p99_ms"])
                r["pipe_rps"].append(pipe["rps"])
                print(f"round {round_} {which:6}: /v1 {v1['rps']:8.0f} req/s p99 {v1['p99_ms']:.3f} ms "
                      f"(ok {v1['ok']:.3f}); pipeline replay {pipe['rps']:6.0f} req/s p99 {pipe['p99_ms']:.3f} ms",
                      flush=True)
    print(f"{'median':28} {'before':>10} {'after':>10} {'after/before':>13}")
    for key, label in [("v1_rps", "/v1 req/s"), ("v1_p99", "/v1 p99 ms"),
                       ("pipe_rps", "pipeline replay req/s"), ("pipe_p99", "pipeline replay p99 ms")]:
        b, a = statistics.median(results["before"][key]), statistics.median(results["after"][key])
        print(f"{label:28} {b:10.3f} {a:10.3f} {a / b:13.3f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
