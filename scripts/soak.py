#!/usr/bin/env python3
"""Soak test of `edgescore serve`: the fraud pipeline under steady load for
ten minutes while versions are hot-swapped every few seconds and canaries
come and go, watching for what grows.

What it does, in order:
  1. Lays out a registry in a temporary folder with the fraud pipeline of
     examples/fraud as `<registry>/fraud/1/`, as a deployer ships it: the
     transform and the model built by `edgescore build` (transform.wasm,
     model.wasm), pipeline.toml naming them, and the example's reference
     profile bound to the built model (profile.json; --from-sources ships
     the sources instead, built at every load). Writes a server config (the
     registry, an alert log and a compiled-component cache in the same
     folder, and the audit trail) and starts
     `target/release/edgescore serve --config ...` with an admin token in
     EDGESCORE_ADMIN_TOKEN.
  2. Measures the peak: a warm-up, then a closed-loop oha run
     (--peak-seconds, --peak-connections) of POST /v1/pipelines/fraud/score,
     one transaction per request.
  3. Soaks at --load-fraction (default: half) of that rate, open loop
     (oha -q <rate> --latency-correction), for --minutes, as back-to-back
     oha runs of --sample-every seconds. Each run writes every request to a
     SQLite file (oha --db-url), so each window's p50/p99 are exact and the
     p99 of a whole minute is computed from its requests, not averaged.
     After each window the script samples the server: RSS (VmRSS in
     /proc/<pid>/status), open file descriptors (/proc/<pid>/fd), threads,
     warm idle instances of the serving version (the gauge
     edgescore_instance_pool_idle of GET /metrics), the size of /metrics,
     the version folders on disk, the machine's load average, and the CPU
     used in the window by the server, by oha and by everything else on
     the machine (from /proc: a shared machine's other work shows here).
  4. Meanwhile a deployer thread, every --swap-every seconds, publishes a
     new version as a deployer would: the version folder is copied into a
     staging folder beside the registry and renamed into
     `<registry>/fraud/<n>/` (one atomic rename); the server's watcher loads
     it and, with no primary pinned, serves it (Triton's `latest` policy).
     The thread waits until GET /admin/models/fraud/routing reports it
     serving. Every --canary-every seconds it makes one canary change, in
     turn: start a canary (pin the serving version as primary with
     POST /admin/models/fraud/routing, publish the next version and route
     --canary-percent of the cards to it; during the canary each new
     version replaces the canary), promote it (POST .../promote, then
     unpin), start another, roll it back (POST .../rollback, remove the
     rolled-back versions, then unpin). Old version folders are retired
     (renamed out of the registry, then deleted) so only the last --keep
     versions, plus any the routing names, stay.

Transactions: a population of --cards cards with habits (home country,
usual merchants and amounts, own devices, some online), a few travellers
who sometimes pay abroad and a few compromised cards that fraud hits (0.5 %
of transactions), so the set of feature-store entities is bounded and is
seen whole in about the first minute (the store keeps an entity until it
is evicted for space: new keys all through the soak would grow it).
Time runs on a synthetic clock, one day per 10 s of soak, ending before
the real clock (the server refuses transactions dated ahead of it): the
store's 7-day retention then keeps each card's windows at a realistic size
(tens of events), reached in the first ~70 s and flat after, so what grows
after minute 2 is the server, not the data. Each oha run draws its bodies at random from a file of lines
made for its slice of the synthetic clock. Every request carries
`"key": <card>`, so the canary split is by card.

Verdict (exit status 1 if any fails):
  - RSS growth over the last 8 minutes: (RSS at the end - RSS at minute 2)
    / RSS at minute 2, under 5 %;
  - p99 flat: p99 of the last minute <= 1.2 x p99 of the second minute;
  - no failed request: every response 2xx, no connection error;
  - every swap and canary change made (no admin call refused, nothing
    timed out). A version the server rejects (its reason is in
    POST /v2/repository/index) is removed, counted and reported, but is
    not a criterion.
With --minutes under 3 the minute-2 and second-minute references become the
first window after the first minute (a dry run, not a verdict).

Outputs (in --out, default target/soak/): soak.json (settings, peak, every
sample, per-minute figures, the deployer's log, the verdict), soak.md (the
table of samples and the verdict) and server.log (the server's output).

Python's standard library only. Usage (after
`cargo build --release -p edgescore --bin edgescore` and
`cargo install oha --locked --root target/tools/oha`):
  python3 scripts/soak.py [--minutes 10] [--swap-every 3] [--canary-every 20]
"""

import argparse
import datetime
import hashlib
import json
import math
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "fraud"
VERSION_FILES = ["pipeline.toml", "transform.toml", "model/xgboost.json", "profile.json"]
PIPELINE = "fraud"
TOKEN = "soak-admin-token"
DAY_MS = 86_400_000
# Synthetic time: one day of transactions per 10 s of wall time.
SYNTHETIC_MS_PER_SECOND = DAY_MS / 10

CATEGORIES = ["grocery", "fuel", "restaurant", "retail", "electronics", "travel", "gift_cards",
              "digital_goods"]
CATEGORY_WEIGHTS = [5.0, 3.0, 4.0, 3.0, 0.5, 0.3, 0.3, 1.5]
CATEGORY_SCALE = [1.0, 0.9, 0.7, 1.6, 4.0, 6.0, 1.5, 0.4]
HOME_COUNTRIES = ["US", "GB", "DE", "FR", "CA"]
HOME_WEIGHTS = [0.70, 0.10, 0.08, 0.07, 0.05]
ABROAD = ["MX", "ES", "IT", "BR", "NG", "RU", "CN", "TH"]


# ---------------------------------------------------------------- traffic

class Population:
    """Cards with habits (after examples/fraud/generate.rs), and the JSON
    bodies of their transactions for a slice of synthetic time.

    The feature store keeps an entity (a card, a card in a country, a card
    on a device) until it is evicted for space, so every key the traffic
    can make must turn up early in the soak, or the store would grow for
    its whole length and hide what the server does. Hence: each card has
    its own one or two devices; only a few travellers (--travellers) ever
    pay abroad, each in its one travel country; fraud (0.5 % of
    transactions) hits a few compromised cards (--compromised), each from
    its one fraudster's device. At 4,000 req/s every such key has been
    seen within about the first minute."""

    def __init__(self, cards: int, seed: int, travellers: int = 200, compromised: int = 100):
        rng = random.Random(seed)
        self.cards = []
        for c in range(cards):
            merchants = []
            for _ in range(4 + rng.randrange(8)):
                category = rng.choices(range(8), CATEGORY_WEIGHTS)[0]
                merchants.append((category, rng.randrange(400)))
            self.cards.append({
                "id": f"c{c:05d}",
                "home": rng.choices(HOME_COUNTRIES, HOME_WEIGHTS)[0],
                "scale": math.exp(3.2 + 0.5 * rng.gauss(0, 1)),
                "merchants": merchants,
                "devices": [f"d{c:05d}{d}" for d in range(1 + rng.randrange(2))],
                "online_share": 0.1 + 0.5 * rng.random(),
                "abroad": ABROAD[rng.randrange(len(ABROAD))] if c < travellers else None,
            })
        self.compromised = [
            {**card, "fraud_device": f"f{card['id'][1:]}"}
            for card in self.cards[travellers:travellers + compromised]]
        weights = [0.8 + rng.expovariate(1 / 1.5) for _ in self.cards]
        total = 0.0
        self.cum_weights = []
        for w in weights:
            total += w
            self.cum_weights.append(total)
        self.rng = rng

    def transaction(self, card: dict, ts_ms: int, fraud: bool) -> dict:
        rng = self.rng
        if fraud:
            # A compromised card: big electronics or gift cards, online from
            # the fraudster's device, often from the traveller's country.
            category = rng.choice([4, 6, 7])
            amount = round(card["scale"] * rng.uniform(8, 40), 2)
            country = "NG" if rng.random() < 0.6 else card["home"]
            channel, device = "online", card["fraud_device"]
            merchant = f"m{category}{rng.randrange(400):04d}"
        else:
            online = rng.random() < card["online_share"]
            if rng.random() < 0.85:
                category, n = rng.choice(card["merchants"])
            else:
                category, n = rng.randrange(6), rng.randrange(400)
            median = card["scale"] * CATEGORY_SCALE[category]
            amount = max(0.5, round(math.exp(math.log(median) + 0.6 * rng.gauss(0, 1)), 2))
            abroad = card["abroad"] is not None and not online and rng.random() < 0.3
            country = card["abroad"] if abroad else card["home"]
            channel = "online" if online else "pos"
            device = rng.choice(card["devices"]) if online else None
            merchant = f"m{category}{n:04d}"
        stamp = datetime.datetime.fromtimestamp(ts_ms / 1000, datetime.timezone.utc)
        t = {
            "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z",
            "card_id": card["id"],
            "amount": amount,
            "merchant_id": merchant,
            "merchant_category": CATEGORIES[category],
            "channel": channel,
            "country": country,
            "home_country": card["home"],
        }
        if device is not None:
            t["device_id"] = device
        return t

    def write_bodies(self, path: Path, start_ms: int, span_ms: int, count: int) -> None:
        """`count` request bodies, one per line (oha -Z picks lines at
        random), of transactions dated in [start_ms, start_ms + span_ms)."""
        rng = self.rng
        cards = rng.choices(self.cards, cum_weights=self.cum_weights, k=count)
        with open(path, "w") as f:
            for card in cards:
                fraud = rng.random() < 0.005
                if fraud:
                    card = rng.choice(self.compromised)
                ts = start_ms + int(rng.random() * span_ms)
                body = {"transactions": [self.transaction(card, ts, fraud)], "key": card["id"]}
                f.write(json.dumps(body, separators=(",", ":")))
                f.write("\n")


class SyntheticClock:
    """Slice k of the soak (k < 0: before it) covers synthetic days
    [base + k * span, base + (k + 1) * span); the last slice ends an hour
    before the wall clock at the start."""

    def __init__(self, slice_seconds: float, slices: int):
        self.span_ms = int(slice_seconds * SYNTHETIC_MS_PER_SECOND)
        now_ms = int(time.time() * 1000)
        self.base_ms = now_ms - 3_600_000 - slices * self.span_ms

    def slice(self, k: int) -> tuple[int, int]:
        return self.base_ms + k * self.span_ms, self.span_ms


# ---------------------------------------------------------------- oha

def run_oha(args, url: str, bodies: Path, seconds: float, connections: int,
            rate: float | None, db: Path | None) -> dict:
    cmd = [args.oha, "--no-tui", "--output-format", "json", "-z", f"{seconds}s",
           "-c", str(connections), "-m", "POST", "-H", "content-type: application/json",
           "-Z", str(bodies), "-w"]
    if rate:
        cmd += ["-q", f"{rate:.1f}", "--latency-correction"]
    if db is not None:
        cmd += ["--db-url", str(db)]
    cmd.append(url)
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"oha failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout)
    codes = {str(k): int(v) for k, v in result.get("statusCodeDistribution", {}).items()}
    errors = {str(k): int(v) for k, v in result.get("errorDistribution", {}).items()}
    return {"rps": result["summary"]["requestsPerSec"], "codes": codes, "errors": errors,
            "p50_ms": (result["latencyPercentiles"].get("p50") or 0) * 1000,
            "p99_ms": (result["latencyPercentiles"].get("p99") or 0) * 1000}


def read_latencies(db: Path) -> tuple[list[float], dict[int, int]]:
    """Every request's latency (seconds, corrected for coordinated omission)
    and the count per status from an oha --db-url file."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT duration, status FROM oha").fetchall()
    finally:
        conn.close()
    statuses: dict[int, int] = {}
    for _, status in rows:
        statuses[status] = statuses.get(status, 0) + 1
    return [d for d, _ in rows], statuses


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


# ---------------------------------------------------------------- server

def make_version(args, folder: Path) -> None:
    """The version folder a deployer publishes: the fraud pipeline with its
    components built by `edgescore build` (pipeline.toml naming
    transform.wasm and model.wasm) and the example's reference profile,
    bound to the built model (its model_file_sha256 is the hash of the file
    pipeline.toml names; the transform and model, and so the reference,
    are the example's). With --from-sources: the example as it is (the
    server builds both components at every load, as the demo does)."""
    folder.mkdir(parents=True)
    if args.from_sources:
        for file in VERSION_FILES:
            (folder / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(EXAMPLE / file, folder / file)
        return
    subprocess.run([args.edgescore, "build", "--model", str(EXAMPLE / "model" / "xgboost.json"),
                    "--name", PIPELINE, "--version", "1", "--output", str(folder / "model.wasm")],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([args.edgescore, "build", "--transform", str(EXAMPLE / "transform.toml"),
                    "--output", str(folder / "transform.wasm")], check=True, stdout=subprocess.DEVNULL)
    spec = (EXAMPLE / "pipeline.toml").read_text()
    spec = spec.replace('transform = "transform.toml"', 'transform = "transform.wasm"')
    spec = spec.replace('model = "model/xgboost.json"', 'model = "model.wasm"')
    if 'model = "model.wasm"' not in spec or 'transform = "transform.wasm"' not in spec:
        sys.exit("examples/fraud/pipeline.toml changed: cannot point it at the built components")
    (folder / "pipeline.toml").write_text(spec)
    profile = json.loads((EXAMPLE / "profile.json").read_text())
    profile["model_file_sha256"] = hashlib.sha256((folder / "model.wasm").read_bytes()).hexdigest()
    (folder / "profile.json").write_text(json.dumps(profile, indent=1))



class Server:
    def __init__(self, args, tmp: Path):
        self.base = f"http://127.0.0.1:{args.port}"
        self.registry = tmp / "registry"
        self.template = tmp / "template"
        make_version(args, self.template)
        (self.registry / PIPELINE).mkdir(parents=True)
        shutil.copytree(self.template, self.registry / PIPELINE / "1")
        config = tmp / "serve.toml"
        config.write_text(
            f'listen = "127.0.0.1:{args.port}"\n'
            f'registry = "{self.registry}"\n'
            f'alert_log = "{tmp / "alerts.jsonl"}"\n'
            f'cache_dir = "{tmp / "cache"}"\n'
            f'audit_log = "{tmp / "audit.jsonl"}"\n')
        self.log_path = tmp / "server.log"
        self.log = open(self.log_path, "wb")
        env = dict(os.environ, EDGESCORE_ADMIN_TOKEN=TOKEN)
        env.setdefault("RUST_LOG", "info")
        self.proc = subprocess.Popen([args.edgescore, "serve", "--config", str(config)],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 300
        while True:
            if self.proc.poll() is not None:
                sys.exit(f"the server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.base}/v2/health/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except Exception:
                pass
            if time.time() > deadline:
                sys.exit("the server did not become ready in 300 s")
            time.sleep(0.2)

    def request(self, method: str, path: str, body: dict | None = None, admin: bool = False,
                timeout: float = 30) -> tuple[int, str]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"} if data is not None else {}
        if admin:
            headers["authorization"] = f"Bearer {TOKEN}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def routing(self) -> dict:
        status, text = self.request("GET", f"/admin/models/{PIPELINE}/routing", admin=True)
        if status != 200:
            raise RuntimeError(f"GET routing: {status} {text}")
        return json.loads(text)

    def version_states(self) -> dict[int, tuple[str, str]]:
        """Each version of the pipeline: its state (READY, LOADING,
        UNAVAILABLE) and why (a rejected version's reason)."""
        status, text = self.request("POST", "/v2/repository/index")
        if status != 200:
            raise RuntimeError(f"repository index: {status} {text}")
        return {int(v["version"]): (v["state"], v.get("reason", ""))
                for v in json.loads(text) if v["name"] == PIPELINE}

    def sample(self) -> dict:
        pid = self.proc.pid
        status = Path(f"/proc/{pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss_kib = int(fields["VmRSS"].split()[0])
        hwm_kib = int(fields["VmHWM"].split()[0])
        threads = int(fields["Threads"])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with urllib.request.urlopen(f"{self.base}/metrics", timeout=10) as r:
            metrics = r.read().decode()
        return {"rss_kib": rss_kib, "hwm_kib": hwm_kib, "threads": threads, "fds": fds,
                "metrics_text": metrics, "metrics_bytes": len(metrics.encode())}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def fmt_store(sample: dict) -> str:
    """The embedded feature store's entities and MiB, or a dash without them."""
    if sample.get("store_bytes") is None:
        return "—"
    return f"{sample['store_entities']} / {sample['store_bytes'] / 2**20:.1f}"


def parse_metrics(text: str) -> dict:
    """The idle-instance gauge per version, the swaps counter, the error
    counters and the embedded feature store's size of a Prometheus text
    exposition."""
    idle: dict[int, float] = {}
    store = {"entities": None, "bytes": None}
    swaps = 0.0
    errors: dict[str, float] = {}
    series = 0
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series += 1
        name_labels, _, value = line.rpartition(" ")
        name, _, labels = name_labels.partition("{")
        label_map = {}
        for part in labels.rstrip("}").split(","):
            if "=" in part:
                k, v = part.split("=", 1)
                label_map[k.strip()] = v.strip().strip('"')
        if name == "edgescore_instance_pool_idle" and label_map.get("model") == PIPELINE:
            idle[int(label_map.get("version", "0"))] = float(value)
        elif name.startswith("edgescore_swaps") and label_map.get("model") == PIPELINE:
            swaps = float(value)
        elif name.startswith("edgescore_errors"):
            errors[label_map.get("kind", "?")] = float(value)
        elif name == "edgescore_feature_store_entities":
            store["entities"] = int(float(value))
        elif name == "edgescore_feature_store_bytes":
            store["bytes"] = int(float(value))
    return {"idle": idle, "swaps": swaps, "errors": errors, "series": series, "store": store}


# ---------------------------------------------------------------- deployer

class Deployer(threading.Thread):
    """Publishes versions and changes the canary while the load runs."""

    def __init__(self, args, server: Server, tmp: Path):
        super().__init__(daemon=True)
        self.args = args
        self.server = server
        self.staging = tmp / "staging"
        self.trash = tmp / "trash"
        self.staging.mkdir()
        self.trash.mkdir()
        self.models = server.registry / PIPELINE
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.next_version = 2
        self.published = 0
        self.swaps = 0            # serving version changed to the new one
        self.canary_swaps = 0     # the canary moved to the new one
        self.canary_changes = 0   # start, promote, rollback
        self.failures: list[str] = []
        self.rejections: list[str] = []
        self.swap_seconds: list[float] = []
        self.log: list[dict] = []
        self.started = time.time()
        self.pinned: set[int] = set()

    # -- helpers
    def note(self, event: str, **fields) -> None:
        with self.lock:
            self.log.append({"t": round(time.time() - self.started, 2), "event": event, **fields})

    def fail(self, why: str) -> None:
        with self.lock:
            self.failures.append(f"{time.time() - self.started:.1f}s: {why}")

    def on_disk(self) -> list[int]:
        return sorted(int(p.name) for p in self.models.iterdir() if p.name.isdigit())

    def publish(self) -> int:
        version = self.next_version
        self.next_version += 1
        stage = self.staging / str(version)
        shutil.copytree(self.server.template, stage)  # copy2: the files' old times
        os.rename(stage, self.models / str(version))
        self.published += 1
        return version

    def retire(self, version: int) -> None:
        folder = self.models / str(version)
        gone = self.trash / str(version)
        os.rename(folder, gone)
        shutil.rmtree(gone)

    def retire_old(self) -> None:
        versions = self.on_disk()
        keep = set(versions[-self.args.keep:]) | self.pinned
        for v in versions:
            if v not in keep:
                self.retire(v)

    def admin(self, method: str, path: str, body: dict | None = None) -> dict | None:
        status, text = self.server.request(method, path, body, admin=True)
        if status != 200:
            self.fail(f"{method} {path} {body}: {status} {text[:300]}")
            return None
        return json.loads(text)

    def wait_for(self, what: str, check, timeout: float = 30.0) -> bool:
        start = time.time()
        while time.time() - start < timeout and not self.stop_event.is_set():
            try:
                if check():
                    return True
            except Exception:  # the server answered oddly: retry until the timeout
                pass
            time.sleep(0.05)
        if not self.stop_event.is_set():
            self.fail(f"timed out waiting for {what}")
        return False

    def rejected(self, version: int) -> bool:
        """Whether the server rejected `version`; if so, records why and
        removes its folder, as a deployer would."""
        state, reason = self.server.version_states().get(version, ("", ""))
        if state != "UNAVAILABLE":
            return False
        with self.lock:
            self.rejections.append(f"{time.time() - self.started:.1f}s: version {version}: {reason}")
        self.note("rejected", version=version, reason=reason)
        self.retire(version)
        return True

    def wait_loaded(self, version: int, served) -> bool:
        """Waits until `served()` (the version took its place) or the
        server rejected it; true when it serves."""
        outcome = {}

        def settled() -> bool:
            if served():
                outcome["served"] = True
                return True
            return self.rejected(version)
        return self.wait_for(f"version {version} to serve", settled) and "served" in outcome

    def set_routing(self, spec: dict) -> bool:
        return self.admin("POST", f"/admin/models/{PIPELINE}/routing", spec) is not None

    # -- the steps
    def swap_latest(self) -> None:
        start = time.time()
        version = self.publish()
        if self.wait_loaded(version, lambda: self.server.routing().get("serving") == version):
            self.swaps += 1
            self.swap_seconds.append(time.time() - start)
            self.note("swap", version=version, seconds=round(time.time() - start, 3))

    def canary_start(self) -> None:
        primary = self.server.routing().get("serving")
        self.pinned = {primary}
        if not self.set_routing({"primary": primary}):
            return
        version = self.publish()
        if not self.wait_loaded(version, lambda: self.server.version_states().get(
                version, ("",))[0] == "READY"):
            self.set_routing({})  # no canary this time: back to the latest policy
            self.pinned = set()
            return
        if self.set_routing({"primary": primary,
                             "canary": {"version": version, "percent": self.args.canary_percent}}):
            if self.wait_for(f"canary {version}",
                             lambda: (self.server.routing().get("canary") or {}).get("version") == version):
                self.pinned = {primary, version}
                self.canary_changes += 1
                self.note("canary start", primary=primary, canary=version,
                          percent=self.args.canary_percent)
                self.mode = "canary"

    def canary_move(self) -> None:
        primary = min(self.pinned)
        start = time.time()
        version = self.publish()
        if not self.wait_loaded(version, lambda: self.server.version_states().get(
                version, ("",))[0] == "READY"):
            return
        if self.set_routing({"primary": primary,
                             "canary": {"version": version, "percent": self.args.canary_percent}}):
            if self.wait_for(f"canary {version}",
                             lambda: (self.server.routing().get("canary") or {}).get("version") == version):
                self.pinned = {primary, version}
                self.canary_swaps += 1
                self.swap_seconds.append(time.time() - start)
                self.note("canary moved", canary=version, seconds=round(time.time() - start, 3))

    def canary_end(self, promote: bool) -> None:
        primary, canary = min(self.pinned), max(self.pinned)
        if promote:
            if self.admin("POST", f"/admin/models/{PIPELINE}/promote") is None:
                return
            self.wait_for(f"promoted {canary} to serve",
                          lambda: self.server.routing().get("serving") == canary)
        else:
            if self.admin("POST", f"/admin/models/{PIPELINE}/rollback") is None:
                return
            self.wait_for(f"rolled back to {primary}",
                          lambda: self.server.routing().get("canary") is None
                          and self.server.routing().get("serving") == primary)
            # A deployer removes what it rolled back before unpinning.
            removed = [v for v in self.on_disk() if v > primary]
            for v in removed:
                self.retire(v)
            self.wait_for(f"versions {removed} to leave the registry",
                          lambda: not set(removed) & set(self.server.version_states()))
        if self.set_routing({}):
            expected = canary if promote else primary
            self.wait_for("the latest policy again",
                          lambda: self.server.routing().get("serving") == expected)
        self.pinned = set()
        self.canary_changes += 1
        self.note("canary promoted" if promote else "canary rolled back",
                  primary=primary, canary=canary)
        self.mode = "latest"

    def run(self) -> None:
        args = self.args
        self.mode = "latest"
        ends = 0
        next_tick = time.time() + args.swap_every
        next_canary = time.time() + args.canary_every
        while not self.stop_event.is_set():
            pause = next_tick - time.time()
            if pause > 0 and self.stop_event.wait(pause):
                break
            next_tick = max(next_tick + args.swap_every, time.time())
            try:
                if time.time() >= next_canary:
                    next_canary = time.time() + args.canary_every
                    if self.mode == "latest":
                        self.canary_start()
                    else:
                        self.canary_end(promote=ends % 2 == 0)
                        ends += 1
                elif self.mode == "latest":
                    self.swap_latest()
                else:
                    self.canary_move()
                self.retire_old()
            except Exception as e:  # keep deploying; the failure is reported
                self.fail(f"{type(e).__name__}: {e}")


# ---------------------------------------------------------------- CPU use

CLK_TCK = os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used since the last reading: by the server, by oha (the
    children this script waited for), by this script, and by the whole
    machine (everything not idle), so a window's p99 can be read against
    what else ran on the same cores."""

    def __init__(self, pid: int):
        self.pid = pid
        self.last = self.read()
        self.last_server = self.last["server"]

    def read(self) -> dict:
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        server = (int(fields[11]) + int(fields[12])) / CLK_TCK
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        me = resource.getrusage(resource.RUSAGE_SELF)
        cpu = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = cpu[3] + cpu[4]
        return {"wall": time.time(), "server": server, "oha": children.ru_utime + children.ru_stime,
                "script": me.ru_utime + me.ru_stime, "busy": (sum(cpu[:8]) - idle) / CLK_TCK}

    def percent(self) -> dict:
        """Per consumer, the share of one core since the last call."""
        now = self.read()
        wall = now["wall"] - self.last["wall"]
        used = {k: (now[k] - self.last[k]) / wall * 100 for k in ("server", "oha", "script", "busy")}
        self.last = now
        used["others"] = max(0.0, used["busy"] - used["server"] - used["oha"] - used["script"])
        out = {f"cpu_{k}_percent": round(v, 1) for k, v in used.items()}
        out["cpu_server_seconds"] = round(now["server"] - self.last_server, 3)
        self.last_server = now["server"]
        return out


# ---------------------------------------------------------------- the soak

def fmt_mib(kib: int) -> str:
    return f"{kib / 1024:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10, help="soak length (default 10)")
    parser.add_argument("--swap-every", type=float, default=3,
                        help="seconds between published versions (default 3); 0: no versions "
                             "published and no canary (a control run of the load alone)")
    parser.add_argument("--canary-every", type=float, default=20,
                        help="seconds between canary changes (default 20)")
    parser.add_argument("--canary-percent", type=int, default=10, help="canary share (default 10)")
    parser.add_argument("--keep", type=int, default=3,
                        help="version folders kept besides those the routing names (default 3)")
    parser.add_argument("--sample-every", type=float, default=10,
                        help="seconds per load window and sample (default 10)")
    parser.add_argument("--load-fraction", type=float, default=0.5,
                        help="soak rate as a share of the measured peak (default 0.5)")
    parser.add_argument("--rate", type=float, default=None,
                        help="soak at this rate (req/s) instead of measuring the peak")
    parser.add_argument("--peak-seconds", type=float, default=20, help="peak run (default 20)")
    parser.add_argument("--peak-connections", type=int, default=32,
                        help="oha connections of the peak run (default 32)")
    parser.add_argument("--connections", type=int, default=32,
                        help="oha connections during the soak (default 32)")
    parser.add_argument("--cards", type=int, default=10_000,
                        help="card population (default 10000: at 5,000 req/s about 5 transactions "
                             "per card per synthetic day)")
    parser.add_argument("--seed", type=int, default=1, help="of the card population (default 1)")
    parser.add_argument("--port", type=int, default=18390, help="the server's, on 127.0.0.1")
    parser.add_argument("--oha", default=str(ROOT / "target" / "tools" / "oha" / "bin" / "oha"),
                        help="oha 1.x with --db-url (default target/tools/oha/bin/oha)")
    parser.add_argument("--edgescore", default=str(ROOT / "target" / "release" / "edgescore"),
                        help="the binary (default target/release/edgescore)")
    parser.add_argument("--out", default=str(ROOT / "target" / "soak"),
                        help="where soak.json, soak.md and server.log go (default target/soak)")
    parser.add_argument("--from-sources", action="store_true",
                        help="publish the example's sources (transform.toml, xgboost.json) instead "
                             "of built components: every load builds and compiles both")
    args = parser.parse_args()

    for binary in (args.oha, args.edgescore):
        if not os.access(binary, os.X_OK):
            sys.exit(f"{binary} not found (see the usage in --help)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    windows = max(1, round(args.minutes * 60 / args.sample_every))
    per_minute = max(1, round(60 / args.sample_every))
    load_start = os.getloadavg()
    started_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    print(f"load average at start: {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}",
          flush=True)

    population = Population(args.cards, args.seed)
    clock = SyntheticClock(args.sample_every, windows + 4)
    url = f"http://127.0.0.1:{args.port}/v1/pipelines/{PIPELINE}/score"

    with tempfile.TemporaryDirectory(prefix="edgescore-soak-") as tmp_name:
        tmp = Path(tmp_name)
        server = Server(args, tmp)
        deployer = None
        samples: list[dict] = []
        minute_latencies: dict[int, list[float]] = {}
        try:
            # The peak: warm-up, then a closed loop.
            bodies = tmp / "bodies-peak.jsonl"
            start_ms, span_ms = clock.slice(-4)
            population.write_bodies(bodies, start_ms, 4 * span_ms, 40_000)
            run_oha(args, url, bodies, 5, args.peak_connections, None, None)
            peak = run_oha(args, url, bodies, args.peak_seconds, args.peak_connections, None, None)
            rate = args.rate or peak["rps"] * args.load_fraction
            print(f"peak {peak['rps']:.0f} req/s (p99 {peak['p99_ms']:.2f} ms, codes {peak['codes']}, "
                  f"errors {peak['errors']}); soaking at {rate:.0f} req/s for {windows} windows "
                  f"of {args.sample_every:g} s", flush=True)
            base = server.sample()
            print(f"before the soak: RSS {fmt_mib(base['rss_kib'])} MiB, {base['fds']} fds",
                  flush=True)

            deployer = Deployer(args, server, tmp)
            cpu = CpuMeter(server.proc.pid)
            soak_start = time.time()
            deployer.started = soak_start
            if args.swap_every > 0:
                deployer.start()
            lines_per_window = int(min(max(rate * args.sample_every, 5_000), 40_000))
            next_bodies = tmp / "bodies-0.jsonl"
            population.write_bodies(next_bodies, *clock.slice(0), lines_per_window)
            for k in range(windows):
                bodies = next_bodies
                db = tmp / f"window-{k}.db"
                # The next window's bodies are written while this one runs.
                result: dict = {}

                def load_window(bodies=bodies, db=db):
                    try:
                        result.update(run_oha(args, url, bodies, args.sample_every,
                                              args.connections, rate, db))
                    except Exception as e:  # reported below, in the main thread
                        result["failure"] = f"{type(e).__name__}: {e}"
                load = threading.Thread(target=load_window)
                t0 = time.time()
                load.start()
                if k + 1 < windows:
                    next_bodies = tmp / f"bodies-{k + 1}.jsonl"
                    population.write_bodies(next_bodies, *clock.slice(k + 1), lines_per_window)
                load.join()
                if "failure" in result or not result:
                    raise RuntimeError(f"oha: {result.get('failure', 'no result')}")
                latencies, statuses = read_latencies(db)
                db.unlink()
                bodies.unlink()
                latencies.sort()
                minute_latencies.setdefault(k // per_minute, []).extend(latencies)
                if server.proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {server.proc.returncode}")
                s = server.sample()
                metrics = parse_metrics(s.pop("metrics_text"))
                routing = server.routing()
                serving = routing.get("serving")
                non_2xx = sum(n for code, n in statuses.items() if not 200 <= code < 300)
                errors = sum(result["errors"].values())
                sample = {
                    "window": k,
                    "t_s": round(time.time() - soak_start, 1),
                    "load_s": round(time.time() - t0, 2),
                    "requests": len(latencies),
                    "rps": round(result["rps"], 1),
                    "non_2xx": non_2xx,
                    "errors": errors,
                    "error_kinds": result["errors"],
                    "p50_ms": round(percentile(latencies, 0.50) * 1000, 3),
                    "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
                    "max_ms": round((latencies[-1] if latencies else float("nan")) * 1000, 3),
                    "rss_kib": s["rss_kib"],
                    "hwm_kib": s["hwm_kib"],
                    "fds": s["fds"],
                    "threads": s["threads"],
                    "serving": serving,
                    "canary": (routing.get("canary") or {}).get("version"),
                    "idle_instances": metrics["idle"].get(serving),
                    "idle_series": len(metrics["idle"]),
                    "metrics_series": metrics["series"],
                    "metrics_bytes": s["metrics_bytes"],
                    "store_entities": metrics["store"]["entities"],
                    "store_bytes": metrics["store"]["bytes"],
                    "server_swaps": metrics["swaps"],
                    "server_errors": metrics["errors"],
                    "versions_on_disk": len(deployer.on_disk()),
                    "published": deployer.published,
                    "swaps": deployer.swaps,
                    "canary_swaps": deployer.canary_swaps,
                    "canary_changes": deployer.canary_changes,
                    "loadavg_1m": round(os.getloadavg()[0], 2),
                    **cpu.percent(),
                }
                # The server's own cost per request: flat unless the server
                # itself slows down, whatever else runs on the machine.
                sample["server_cpu_us_per_request"] = round(
                    sample["cpu_server_seconds"] / max(1, len(latencies)) * 1e6, 1)
                samples.append(sample)
                print(f"[{sample['t_s']:6.1f}s] {sample['requests']:6d} req p50 {sample['p50_ms']:6.2f} "
                      f"p99 {sample['p99_ms']:7.2f} ms  fail {non_2xx + errors}  RSS "
                      f"{fmt_mib(sample['rss_kib'])} MiB  store {fmt_store(sample)}  fds {sample['fds']}  idle "
                      f"{sample['idle_instances']}  serving {serving}  swaps {deployer.swaps}"
                      f"+{deployer.canary_swaps}  canary changes {deployer.canary_changes}  "
                      f"load {sample['loadavg_1m']}  CPU server {sample['cpu_server_percent']:.0f} % "
                      f"oha {sample['cpu_oha_percent']:.0f} % others "
                      f"{sample['cpu_others_percent']:.0f} %  server "
                      f"{sample['server_cpu_us_per_request']:.0f} us/req", flush=True)
        finally:
            if deployer is not None and deployer.is_alive():
                deployer.stop_event.set()
                deployer.join(60)
            server.stop()
            shutil.copy(server.log_path, out / "server.log")
    load_end = os.getloadavg()
    print(f"load average at end: {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")

    # The verdict.
    minutes = sorted(minute_latencies)
    per_min = []
    for m in minutes:
        lat = sorted(minute_latencies[m])
        window = samples[m * per_minute:(m + 1) * per_minute]
        rss = sorted(s["rss_kib"] for s in window)
        per_min.append({"minute": m + 1, "requests": len(lat),
                        "p50_ms": round(percentile(lat, 0.5) * 1000, 3),
                        "p99_ms": round(percentile(lat, 0.99) * 1000, 3),
                        # RSS dips and rises with each version loaded: the
                        # median of the minute's samples shows the trend.
                        "rss_median_mib": round(rss[len(rss) // 2] / 1024, 1),
                        "rss_max_mib": round(rss[-1] / 1024, 1),
                        "published": window[-1]["published"],
                        "metrics_series": window[-1]["metrics_series"],
                        "store_entities": window[-1].get("store_entities"),
                        "store_bytes": window[-1].get("store_bytes")})
    # The references: the sample at minute 2 and the second minute; a run
    # of under 3 minutes (a dry run) uses minute 1 and the first minute.
    dry_run = len(samples) < 3 * per_minute
    ref_index = min(len(samples) - 1, (1 if dry_run else 2) * per_minute - 1)
    ref = samples[ref_index]
    last = samples[-1]
    rss_growth = (last["rss_kib"] - ref["rss_kib"]) / ref["rss_kib"] * 100
    second = per_min[0 if dry_run else min(1, len(per_min) - 1)]
    final = per_min[-1]
    p99_ratio = final["p99_ms"] / second["p99_ms"] if second["p99_ms"] else float("inf")
    failed = sum(s["non_2xx"] + s["errors"] for s in samples)
    verdict = {
        "rss_reference_window": ref["window"], "rss_reference_t_s": ref["t_s"],
        "rss_reference_mib": round(ref["rss_kib"] / 1024, 1),
        "rss_end_mib": round(last["rss_kib"] / 1024, 1),
        "rss_growth_percent": round(rss_growth, 2),
        "p99_second_minute_ms": second["p99_ms"], "p99_last_minute_ms": final["p99_ms"],
        "p99_ratio": round(p99_ratio, 3),
        "requests": sum(s["requests"] for s in samples),
        "failed_requests": failed,
        "published": deployer.published, "swaps": deployer.swaps,
        "canary_swaps": deployer.canary_swaps, "canary_changes": deployer.canary_changes,
        "swap_seconds_median": round(sorted(deployer.swap_seconds)[len(deployer.swap_seconds) // 2], 3)
        if deployer.swap_seconds else None,
        "swap_seconds_max": round(max(deployer.swap_seconds), 3) if deployer.swap_seconds else None,
        "deployer_failures": deployer.failures,
        "rejected_versions": deployer.rejections,
        "fds_reference": ref["fds"], "fds_end": last["fds"],
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in load_end],
        "dry_run": dry_run,
    }
    checks = {
        "rss_growth_under_5_percent": rss_growth < 5,
        "p99_last_minute_within_1.2x_second": p99_ratio <= 1.2,
        "no_failed_request": failed == 0,
        "every_swap_and_canary_change_made": not deployer.failures,
    }
    verdict["checks"] = checks
    verdict["pass"] = all(checks.values())

    report = {"started_at": started_at, "settings": vars(args), "peak": peak,
              "soak_rate": rate, "before_soak": {"rss_kib": base["rss_kib"], "fds": base["fds"]},
              "samples": samples, "minutes": per_min, "verdict": verdict,
              "deployer_log": deployer.log}
    (out / "soak.json").write_text(json.dumps(report, indent=1))
    write_markdown(out / "soak.md", report)

    print(f"RSS {verdict['rss_reference_mib']} MiB at {ref['t_s']} s -> {verdict['rss_end_mib']} MiB "
          f"at the end: {rss_growth:+.2f} % (criterion < 5 %)")
    print(f"p99 {'first' if dry_run else 'second'} minute {second['p99_ms']:.2f} ms, last minute "
          f"{final['p99_ms']:.2f} ms: "
          f"{p99_ratio:.2f}x (criterion <= 1.2x)")
    print(f"failed requests {failed} of {verdict['requests']}; {deployer.published} versions "
          f"published, {deployer.swaps} swaps + {deployer.canary_swaps} canary moves, "
          f"{deployer.canary_changes} canary changes; deployer failures: {len(deployer.failures)}")
    for f in deployer.failures[:20]:
        print(f"  {f}")
    print(f"versions the server rejected (reported, not a criterion): {len(deployer.rejections)}")
    for r in deployer.rejections[:20]:
        print(f"  {r}")
    print(("PASS" if verdict["pass"] else "FAIL") + (" (dry run)" if dry_run else "")
          + f"  -> {out / 'soak.json'}, {out / 'soak.md'}")
    return 0 if verdict["pass"] else 1


def write_markdown(path: Path, report: dict) -> None:
    v = report["verdict"]
    lines = [
        f"Soak started {report['started_at']}; peak {report['peak']['rps']:.0f} req/s, "
        f"soak at {report['soak_rate']:.0f} req/s.",
        "",
        "| t (s) | requests | failed | p50 (ms) | p99 (ms) | max (ms) | RSS (MiB) | fds | threads "
        "| idle instances | serving | canary | swaps | canary moves | canary changes "
        "| /metrics series | load 1m | CPU server % | CPU others % | server CPU µs/request |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in report["samples"]:
        lines.append(
            f"| {s['t_s']:.0f} | {s['requests']} | {s['non_2xx'] + s['errors']} | {s['p50_ms']:.2f} "
            f"| {s['p99_ms']:.2f} | {s['max_ms']:.1f} | {s['rss_kib'] / 1024:.1f} | {s['fds']} "
            f"| {s['threads']} | {s['idle_instances'] if s['idle_instances'] is not None else '—'} "
            f"| {s['serving']} | {s['canary'] or '—'} | {s['swaps']} | {s['canary_swaps']} "
            f"| {s['canary_changes']} | {s['metrics_series']} | {s['loadavg_1m']} "
            f"| {s['cpu_server_percent']:.0f} | {s['cpu_others_percent']:.0f} "
            f"| {s['server_cpu_us_per_request']:.0f} |")
    lines += ["", "| minute | requests | p50 (ms) | p99 (ms) | RSS median (MiB) | RSS max (MiB) "
              "| versions published | /metrics series | store entities / MiB |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for m in report["minutes"]:
        lines.append(f"| {m['minute']} | {m['requests']} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} "
                     f"| {m['rss_median_mib']} | {m['rss_max_mib']} | {m['published']} "
                     f"| {m['metrics_series']} | {fmt_store(m)} |")
    lines += [
        "",
        f"- RSS growth over the last 8 minutes: {v['rss_reference_mib']} MiB (t = "
        f"{v['rss_reference_t_s']} s) -> {v['rss_end_mib']} MiB: **{v['rss_growth_percent']:+.2f} %** "
        f"(< 5 %: {'yes' if v['checks']['rss_growth_under_5_percent'] else 'no'})",
        f"- p99 last minute / {'first' if v['dry_run'] else 'second'} minute: "
        f"{v['p99_last_minute_ms']:.2f} / "
        f"{v['p99_second_minute_ms']:.2f} ms = **{v['p99_ratio']:.2f}x** (<= 1.2x: "
        f"{'yes' if v['checks']['p99_last_minute_within_1.2x_second'] else 'no'})",
        f"- failed requests: **{v['failed_requests']}** of {v['requests']}",
        f"- versions published {v['published']}: {v['swaps']} swaps of the serving version, "
        f"{v['canary_swaps']} of the canary; {v['canary_changes']} canary changes; deployer "
        f"failures {len(v['deployer_failures'])}; versions the server rejected "
        f"{len(v['rejected_versions'])}" + "".join(f"\n  - {r}" for r in v["rejected_versions"][:10]),
        f"- load average (1/5/15 min) at start {v['load_average_start']}, at end "
        f"{v['load_average_end']}",
        f"- verdict: **{'pass' if v['pass'] else 'fail'}**" + (" (dry run)" if v["dry_run"] else ""),
    ]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
