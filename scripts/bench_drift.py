#!/usr/bin/env python3
"""What drift tracking costs POST /v1/pipelines/fraud/score, side by side.

Two servers on the same machine, the same fraud example pipeline in a
registry folder, one with its reference profile (`profile.json`: drift
tracked, every transaction binned into the window, states judged every 100
events) and one without. oha loads each in turn, alternating A/B for
`--rounds` rounds so that drift of the machine itself falls on both sides;
the report gives each round's requests/s and the median ratio.

Usage (after `cargo build --release -p edgescore --bin edgescore`, with oha
on the PATH or --oha):
  python3 scripts/bench_drift.py [--oha oha] [--seconds 10] [--rounds 3]
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EDGESCORE = ROOT / "target" / "release" / "edgescore"
EXAMPLE = ROOT / "examples" / "fraud"
BODY = json.dumps({"transactions": [{
    "timestamp": "2026-03-01T03:12:00Z", "card_id": "c00042", "amount": 145.0, "merchant_id": "m40511",
    "merchant_category": "electronics", "channel": "online", "country": "US", "home_country": "US",
    "device_id": "x91"}]})


def registry(root, with_profile):
    version = root / "fraud" / "1"
    (version / "model").mkdir(parents=True)
    files = ["pipeline.toml", "transform.toml", "model/xgboost.json"]
    if with_profile:
        files.append("profile.json")
    for name in files:
        shutil.copy(EXAMPLE / name, version / name)


def oha(binary, url, seconds, connections):
    cmd = [binary, "--no-tui", "--output-format", "json", "-z", f"{seconds}s", "-c", str(connections),
           "-m", "POST", "-H", "content-type: application/json", "-d", BODY, url]
    result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    codes = result.get("statusCodeDistribution", {})
    if set(codes) != {"200"}:
        sys.exit(f"not every answer was 200: {codes}")
    return result["summary"]["requestsPerSec"]


def start(root, port, work):
    server = subprocess.Popen(
        [str(EDGESCORE), "serve", "--registry", str(root), "--listen", f"127.0.0.1:{port}",
         "--alert-log", str(work / f"alerts-{port}.jsonl")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1):
                return server
        except Exception:
            if time.time() > deadline:
                server.kill()
                sys.exit("the server did not become ready")
            time.sleep(0.2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oha", default="oha")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sides = {}
        for port, (name, with_profile) in zip((18431, 18432), (("without drift", False), ("with drift", True))):
            root = work / name.replace(" ", "-")
            registry(root, with_profile)
            sides[name] = (start(root, port, work), f"http://127.0.0.1:{port}/v1/pipelines/fraud/score")
        try:
            with urllib.request.urlopen("http://127.0.0.1:18432/v1/pipelines/fraud/drift") as r:
                assert json.load(r)["pipeline"] == "fraud"
            for _, url in sides.values():
                oha(args.oha, url, 3, args.connections)  # warm up: the card's windows fill
            rates = {name: [] for name in sides}
            order = list(sides.items())
            for _ in range(args.rounds):
                for name, (_, url) in order:
                    rates[name].append(oha(args.oha, url, args.seconds, args.connections))
                order.reverse()  # A B, B A, A B...: a trend in the machine falls on both
        finally:
            for server, _ in sides.values():
                server.terminate()
                server.wait()
    ratios = [w / wo for w, wo in zip(rates["with drift"], rates["without drift"])]
    print(json.dumps({
        "requests_per_s": rates,
        "ratio_with_over_without": ratios,
        "median_ratio": statistics.median(ratios),
        "seconds": args.seconds, "connections": args.connections,
    }, indent=2))


if __name__ == "__main__":
    main()
