#!/usr/bin/env python3
"""The npm package `edgescore` in headless Chromium against native scoring
and against onnxruntime-web (issue 16), on the 300-tree depth-8 XGBoost
model (40 features) and 10,000 rows of models/benches/data with 10 % of
the cells missing, in one run on one machine:

  - edgescore in Chromium, both builds (`edgescore/models`, `edgescore`),
    each in a page of its own: after 3 s of warm-up and a pause (so V8 has
    tiered the code up), `Model.score` on the 10k rows as one batch (median
    of 7 after 2 more), and 2,000 single-row calls (mean; the browser's
    clock is too coarse, 5-100 us, for per-call percentiles);
  - onnxruntime-web (the same model converted by onnxmltools, wasm
    backend, one thread) on the same rows as float32, timed the same way;
  - edgescore native, one thread: `edgescore bench --rows 10000 --threads 1`.

Usage (Debian's chromium and chromium-driver; the package built by
`bash guest/web/build.sh`; `npm install --prefix /tmp/ortweb onnxruntime-web`;
a venv with xgboost and onnxmltools, e.g. the one of bench_backends.py):
  /tmp/ovenv/bin/python scripts/bench_browser.py [--ort /tmp/ortweb/node_modules/onnxruntime-web/dist]
"""

import argparse
import functools
import gzip
import http.server
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "models/benches/data"

PAGE_SCRIPT = r"""
const [withOrt, module, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
(async () => {
  const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rows64 = new Float64Array(await (await fetch("/rows.f64")).arrayBuffer());
  const width = 40, n = rows64.length / width;
  const out = {};
  const { default: init, Model } = await import(`/pkg/${module}`);
  await init();
  const model = Model.load(new Uint8Array(await (await fetch("/model.json")).arrayBuffer()));
  // Warm up for 3 s, then pause, so V8 has tiered the code up (TurboFan
  // compiles in the background; on a busy machine that takes a while).
  const calls = 2000;
  const warm = performance.now();
  while (performance.now() - warm < 3000) {
    model.score(rows64);
    for (let i = 0; i < 200; i++) model.score(rows64.subarray((i % n) * width, (i % n + 1) * width));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  let times = [];
  for (let i = 0; i < 9; i++) {
    const t = performance.now(); model.score(rows64); times.push(performance.now() - t);
  }
  out.edgescore_batch_ms = median(times.slice(2));
  let t = performance.now();
  for (let i = 0; i < calls; i++) model.score(rows64.subarray((i % 1024) * width, (i % 1024 + 1) * width));
  out.edgescore_single_us = (performance.now() - t) * 1000 / calls;
  out.edgescore_first_scores = Array.from(model.score(rows64.subarray(0, 5 * width)));
  if (withOrt) {
    const ort = await import("/ort/ort.wasm.min.mjs");
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.wasmPaths = "/ort/";
    const session = await ort.InferenceSession.create("/model.onnx", { executionProviders: ["wasm"] });
    const rows32 = Float32Array.from(rows64);
    const input = session.inputNames[0];
    const feed = (data, rows) => ({ [input]: new ort.Tensor("float32", data, [rows, width]) });
    const warmOrt = performance.now();
    while (performance.now() - warmOrt < 3000) {
      await session.run(feed(rows32, n));
      for (let i = 0; i < 20; i++) await session.run(feed(rows32.subarray(0, width), 1));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    times = [];
    for (let i = 0; i < 9; i++) {
      const t = performance.now(); await session.run(feed(rows32, n)); times.push(performance.now() - t);
    }
    out.ort_batch_ms = median(times.slice(2));
    for (let i = 0; i < 100; i++) await session.run(feed(rows32.subarray(0, width), 1));
    t = performance.now();
    for (let i = 0; i < calls; i++) await session.run(feed(rows32.subarray((i % 1024) * width, (i % 1024 + 1) * width), 1));
    out.ort_single_us = (performance.now() - t) * 1000 / calls;
  }
  out.userAgent = navigator.userAgent;
  done({ ok: out });
})().catch((e) => done({ error: String((e && e.stack) || e) }));
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def webdriver(url: str, method: str = "GET", body=None, timeout: float = 600):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as r:
        return json.loads(r.read())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--package", type=Path, default=ROOT / "target/web/edgescore")
    parser.add_argument("--ort", type=Path, default=Path("/tmp/ortweb/node_modules/onnxruntime-web/dist"))
    parser.add_argument("--edgescore", type=Path, default=ROOT / "target/release/edgescore")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        (site / "pkg").mkdir(parents=True)
        for f in ("edgescore.js", "edgescore_bg.wasm", "edgescore_models.js", "edgescore_models_bg.wasm"):
            shutil.copy(args.package / f, site / "pkg" / f)
        model = site / "model.json"
        model.write_bytes(gzip.decompress((DATA / "xgboost_300x8_40f.json.gz").read_bytes()))
        with gzip.open(DATA / "rows_10k_40f.csv.gz", "rt") as f:
            x = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float64)
        x[np.random.default_rng(15).random(x.shape) < 0.10] = np.nan
        (site / "rows.f64").write_bytes(x.astype("<f8").tobytes())
        csv = Path(tmp) / "rows.csv"
        with open(csv, "w") as f:
            f.write(",".join(f"f{i}" for i in range(x.shape[1])) + "\n")
            for row in x:
                f.write(",".join("" if np.isnan(v) else repr(float(v)) for v in row) + "\n")
        with_ort = args.ort.is_dir()
        if with_ort:
            import onnxmltools
            import xgboost as xgb
            from onnxmltools.convert.common.data_types import FloatTensorType
            booster = xgb.Booster(model_file=str(model))
            onx = onnxmltools.convert_xgboost(booster, initial_types=[("input", FloatTensorType([None, 40]))],
                                              target_opset=15)
            (site / "model.onnx").write_bytes(onx.SerializeToString())
            shutil.copytree(args.ort, site / "ort")

        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
        handler.extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                                  ".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript"}
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        (site / "index.html").write_text("<!doctype html><title>bench</title>")

        port = free_port()
        driver = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    if webdriver(f"{base}/status")["value"]["ready"]:
                        break
                except OSError:
                    time.sleep(0.1)
            session = webdriver(f"{base}/session", "POST", {"capabilities": {"alwaysMatch": {
                "browserName": "chrome", "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", f"--user-data-dir={tmp}/profile"]}}}})
            sid = session["value"]["sessionId"]
            browser = session["value"]["capabilities"]["browserVersion"]
            webdriver(f"{base}/session/{sid}/timeouts", "POST", {"script": 600_000})
            webdriver(f"{base}/session/{sid}/url", "POST",
                      {"url": f"http://127.0.0.1:{server.server_address[1]}/index.html"})
            answer = webdriver(f"{base}/session/{sid}/execute/async", "POST",
                               {"script": PAGE_SCRIPT, "args": [with_ort, "edgescore_models.js"]})["value"]
            # Each build in a page of its own.
            webdriver(f"{base}/session/{sid}/url", "POST",
                      {"url": f"http://127.0.0.1:{server.server_address[1]}/index.html?full"})
            full = webdriver(f"{base}/session/{sid}/execute/async", "POST",
                             {"script": PAGE_SCRIPT, "args": [False, "edgescore.js"]})["value"]
            webdriver(f"{base}/session/{sid}", "DELETE")
        finally:
            driver.terminate()
            server.shutdown()
        if "ok" not in answer or "ok" not in full:
            raise SystemExit(f"the page failed: {answer} {full}")
        page = answer["ok"]
        page_full = full["ok"]

        def native(batch: int) -> dict:
            out = subprocess.run([str(args.edgescore), "bench", "--model", str(model), "--input", str(csv),
                                  "--rows", "10000", "--threads", "1", "--batch", str(batch), "--json"],
                                 capture_output=True, text=True, check=True)
            return json.loads(out.stdout.strip().splitlines()[-1])
        n = native(10_000)
        portable = subprocess.run([str(args.edgescore), "bench", "--model", str(model), "--input", str(csv),
                                   "--rows", "10000", "--threads", "1", "--simd", "portable", "--json"],
                                  capture_output=True, text=True, check=True)
        p = json.loads(portable.stdout.strip().splitlines()[-1])

    print(f"Chromium {browser}")
    for name in ("edgescore_models_bg.wasm", "edgescore_bg.wasm"):
        wasm = args.package / name
        print(f"{name}: {wasm.stat().st_size:,} bytes ({len(gzip.compress(wasm.read_bytes(), 9)):,} gzipped)")
    print("| scorer | 10k batch | vs native | single row | vs native |")
    print("| --- | ---: | ---: | ---: | ---: |")
    native_ms = 10_000 / n["rows_per_s"] * 1000
    native_us = n["single_row_p50_us"]
    rows = [("edgescore native, 1 thread (AVX-512 walk)", native_ms, native_us),
            ("edgescore native, 1 thread, portable walk", 10_000 / p["rows_per_s"] * 1000, p["single_row_p50_us"]),
            ("edgescore/models in Chromium (wasm)", page["edgescore_batch_ms"], page["edgescore_single_us"]),
            ("edgescore (with Pipeline) in Chromium (wasm)", page_full["edgescore_batch_ms"],
             page_full["edgescore_single_us"])]
    if "ort_batch_ms" in page:
        rows.append(("onnxruntime-web in Chromium (wasm, 1 thread)", page["ort_batch_ms"], page["ort_single_us"]))
    for name, ms, us in rows:
        print(f"| {name} | {ms:.2f} ms | {ms / native_ms:.2f}x | {us:.2f} us | {us / native_us:.2f}x |")
    print(json.dumps({"page": page, "page_full": page_full, "native": n, "portable": p}))


if __name__ == "__main__":
    main()
