#!/usr/bin/env python3
"""Loopback benchmark of POST /v1/pipelines/fraud/score (the embedded demo
pipeline: transform with the embedded feature store, then XGBoost, then the
decision and top reasons), one transaction per request, with `oha`.

Two loads:
  - replay: the transactions of a generated fortnight (many cards, in time
    order) sent one per request over keep-alive connections from Python
    threads, each request timed by the client (so client overhead counts
    against us): the realistic case;
  - same card: oha sending one transaction again and again, so the card's
    windows hold the per-entity maximum of 10,000 events at one instant:
    the worst case for the windowed aggregates (peak, and p99 at half peak).
Python's standard library only.

Usage (after `cargo build --release -p edgescore`, `cargo install oha --locked`):
  python3 scripts/bench_pipeline.py [--oha oha] [--seconds 10]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EDGESCORE = ROOT / "target" / "release" / "edgescore"
BODY = json.dumps({"transactions": [{
    "timestamp": "2026-03-01T03:12:00Z", "card_id": "c00042", "amount": 1450.0, "merchant_id": "m40511",
    "merchant_category": "electronics", "channel": "online", "country": "NG", "home_country": "US",
    "device_id": "x91"}]})


def oha(binary, url, seconds, connections, rate=None):
    cmd = [binary, "--no-tui", "--output-format", "json", "-z", f"{seconds}s", "-c", str(connections),
           "-m", "POST", "-H", "content-type: application/json", "-d", BODY, url]
    if rate:
        cmd[1:1] = ["-q", str(rate)]
    result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    pct = result["latencyPercentiles"]
    return {"rps": result["summary"]["requestsPerSec"], "p50_ms": pct["p50"] * 1000,
            "p99_ms": pct["p99"] * 1000, "ok": result["summary"]["successRate"],
            "codes": result.get("statusCodeDistribution", {})}


def wait_ready(port, seconds=120):
    """Waits until the server on `port` answers ready; exits after `seconds`."""
    deadline = time.time() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1):
                return
        except Exception:
            if time.time() > deadline:
                sys.exit("the server did not become ready")
            time.sleep(0.2)


def replay(port, csv_path, threads, limit, rate=None):
    import csv
    import http.client
    import threading
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))[:limit]
    bodies = []
    for row in rows:
        t = {k: v for k, v in row.items() if v != "" and k not in ("transaction_id", "is_fraud", "pattern")}
        t["amount"] = float(t["amount"])
        bodies.append(json.dumps({"transactions": [t]}))
    latencies = [[] for _ in range(threads)]

    def worker(k):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        interval = threads / rate if rate else 0.0
        next_at = time.perf_counter()
        for body in bodies[k::threads]:
            if interval:
                next_at += interval
                pause = next_at - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            start = time.perf_counter()
            conn.request("POST", "/v1/pipelines/fraud/score", body, {"content-type": "application/json"})
            response = conn.getresponse()
            response.read()
            latencies[k].append(time.perf_counter() - start)
            assert response.status == 200, response.status
    started = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    all_ms = sorted(x * 1000 for l in latencies for x in l)
    return {"requests": len(all_ms), "rps": len(all_ms) / elapsed,
            "p50_ms": all_ms[len(all_ms) // 2], "p99_ms": all_ms[int(len(all_ms) * 0.99)]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--oha", default="oha")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--replay-threads", type=int, default=2)
    parser.add_argument("--replay-limit", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = 18190
        proc = subprocess.Popen([str(EDGESCORE), "serve", "--listen", f"127.0.0.1:{port}",
                                 "--alert-log", os.path.join(tmp, "alerts.jsonl")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(port)
            data = os.path.join(tmp, "holdout.csv")
            subprocess.run(["cargo", "run", "-q", "--release", "-p", "edgescore", "--example", "fraud_generate",
                            "--", "--start-day", "60", "--days", "14", "--output", data], check=True, cwd=ROOT)
            realistic = replay(port, data, args.replay_threads, args.replay_limit)
            paced = replay(port, data, args.replay_threads, args.replay_limit, rate=realistic["rps"] / 2)
            url = f"http://127.0.0.1:{port}/v1/pipelines/fraud/score"
            oha(args.oha, url, 3, args.connections)  # warm up: fill the card's windows
            peak = oha(args.oha, url, args.seconds, args.connections)
            half = oha(args.oha, url, args.seconds, args.connections, rate=peak["rps"] / 2)
        finally:
            proc.terminate()
            proc.wait()
    print(json.dumps({"replay_peak": realistic, "replay_half_peak": paced, "same_card_peak": peak, "same_card_half_peak": half}, indent=2))


if __name__ == "__main__":
    main()
