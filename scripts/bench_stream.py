#!/usr/bin/env python3
"""Streaming fraud scoring over Kafka: the Python baseline a team would write
(scripts/stream_baseline.py: confluent-kafka, pandas features, xgboost)
against `edgescore stream`, side by side on the same broker and machine.

For each scorer chosen with --scorer:

throughput  N transactions (--events, default 100,000; JSON, key = card_id)
            are preloaded into a fresh topic (--partitions, default 4); the
            scorer is started pinned to one core (taskset -c --scorer-cpu)
            and the driver polls the group's committed offsets until they
            reach the end of every partition. The rate is counted from the
            first committed offset the driver sees, so start-up (loading
            the model, joining the group) is left out: events/s = (N - the
            offsets committed at that first sight) / (the time from then to
            the last commit). The rate with start-up included, the time to
            the first commit and the scorer's CPU-seconds are reported too.
            The scorer is pinned to one core, so events/s is per core;
            events per CPU-second says how busy that core was.

latency     a fresh topic gets transactions at a steady rate (--rate, or
            half the scorer's measured peak) for --latency-seconds (20); the
            driver records each message's send time (perf_counter_ns at
            produce(), matched to its partition and offset by the delivery
            report; with --sent-header the wall-clock send time also goes in
            a `sent_ns` header: off by default, as tansu 0.6.0 stalls on
            messages with headers), reads the alerts topic and takes, for
            every alert, its receive time minus its transaction's send time:
            p50, p99, max. The scorer is warmed up first with one canary
            transaction of a card of its own, committed before timing starts.

floor       the same paced producer and alert reader with no scorer between
            them (the driver reads its own topic): the broker's one-hop
            latency, which a scorer's figure includes twice (in and out).

Both scorers' alerts are JSON objects carrying the source's "partition",
"offset" and "transaction_id"; the throughput run's alerts of the two are
compared (the same transactions flagged with the same decisions, when the
features and the model agree).

ceiling     stream_baseline.py --passthrough (consume and commit per batch,
            no features, no scoring) through the throughput run: the rate
            this broker and client path allow at all on one core.

The broker is tansu (target/tools/tansu-0.6.0/bin/tansu, sqlite storage in
a temporary folder) unless --brokers names a running one. The transactions
come from the repo's deterministic generator (the fraud_generate example,
built if absent) unless --csv is given.

    python scripts/bench_stream.py --scorer baseline
    python scripts/bench_stream.py --scorer both --json stream.json
    python scripts/bench_stream.py --scorer edgescore --edgescore target/release/edgescore --rate 20000

Needs scripts/requirements-bench-stream.txt (a venv:
python3 -m venv /tmp/streamvenv && /tmp/streamvenv/bin/pip install -r
scripts/requirements-bench-stream.txt) and Linux (taskset, /proc).
"""

import argparse
import csv
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

REPO = Path(__file__).resolve().parent.parent
TANSU = REPO / "target" / "tools" / "tansu-0.6.0" / "bin" / "tansu"
# The fields a transaction message carries: the pipeline's inputs; not
# is_fraud or pattern (the scorer refuses unknown fields).
MESSAGE_FIELDS = ("transaction_id", "timestamp", "card_id", "amount", "merchant_id",
                  "merchant_category", "channel", "country", "home_country", "device_id")
# What fraud_generate yields per card per day, roughly (32,000 for 2,000 cards over 7 days).
EVENTS_PER_CARD_DAY = 2.2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def log(message):
    """Progress on standard error, so standard output keeps the table."""
    print(f"[bench_stream] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data


def generator_binary():
    """The fraud_generate example binary, release preferred, built in
    release with cargo if neither profile has it."""
    for profile in ("release", "debug"):
        path = REPO / "target" / profile / "examples" / "fraud_generate"
        if path.exists():
            return path
    log("building the fraud_generate example (cargo build --release)")
    subprocess.run(["cargo", "build", "--release", "-p", "edgescore", "--example", "fraud_generate"],
                   cwd=REPO, check=True)
    return REPO / "target" / "release" / "examples" / "fraud_generate"


class Transactions:
    """Kafka messages (key, value, transaction_id) made from generated or given transactions,
    in time order; generated again with more cards when more are asked for."""

    def __init__(self, workdir, csv_path=None, days=7, seed=3):
        self.workdir = Path(workdir)
        self.csv_path = Path(csv_path) if csv_path else None
        self.days, self.seed = days, seed
        self.messages = []
        if self.csv_path:
            self.messages = self.read(self.csv_path)

    @staticmethod
    def read(path):
        """Messages from a transactions CSV: one JSON object per row with the
        pipeline's fields only (device_id only when non-empty), key card_id."""
        messages = []
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                event = {}
                for name in MESSAGE_FIELDS:
                    value = row.get(name, "")
                    if name == "device_id" and not value:
                        continue
                    event[name] = float(value) if name == "amount" else value
                messages.append((row["card_id"].encode(), json.dumps(event, separators=(",", ":")).encode(),
                                 row["transaction_id"]))
        return messages

    def take(self, count):
        """The first `count` messages (fewer, with a warning, from a --csv
        that has fewer)."""
        if len(self.messages) < count and not self.csv_path:
            cards = max(100, math.ceil(count * 1.2 / (self.days * EVENTS_PER_CARD_DAY)))
            while True:
                out = self.workdir / f"tx-{cards}.csv"
                subprocess.run([str(generator_binary()), "--days", str(self.days), "--cards", str(cards),
                                "--seed", str(self.seed), "--output", str(out)], check=True,
                               stdout=subprocess.DEVNULL)
                self.messages = self.read(out)
                log(f"generated {len(self.messages)} transactions ({cards} cards, {self.days} days, seed {self.seed})")
                if len(self.messages) >= count:
                    break
                cards *= 2
        if len(self.messages) < count:
            log(f"warning: only {len(self.messages)} transactions in {self.csv_path}, asked for {count}")
        return self.messages[:count]


# ---------------------------------------------------------------- broker


def free_port():
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker(tansu, workdir, cpus):
    """Starts tansu on a free port with sqlite storage in `workdir`, pinned to
    `cpus`; returns (process, "127.0.0.1:PORT") once it accepts connections."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    logfile = open(Path(workdir) / "tansu.log", "w")
    process = subprocess.Popen(
        taskset(cpus) + [str(tansu), "broker", "--listener-url", url, "--advertised-listener-url", url,
                         "--storage-engine", "sqlite://tansu.db"],
        cwd=workdir, stdout=logfile, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tansu exited with {process.returncode}; see {workdir}/tansu.log")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            log(f"tansu listening on 127.0.0.1:{port} (storage {workdir}/tansu.db)")
            return process, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("tansu did not start listening within 30 s")


def client_config(brokers, **extra):
    """librdkafka settings every client of the driver shares."""
    return {"bootstrap.servers": brokers, "broker.address.family": "v4", **extra}


def create_topics(admin, names, partitions):
    """Creates fresh topics (tansu does not create them on use)."""
    futures = admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names])
    for name, future in futures.items():
        future.result(30)


def end_offsets(consumer, topic, partitions):
    """The high watermark of each partition of `topic`."""
    return [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)]


def committed_offsets(consumer, topic, partitions):
    """The offsets the consumer's group has committed on each partition
    (0 where none)."""
    got = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    return [max(tp.offset, 0) for tp in sorted(got, key=lambda tp: tp.partition)]


def preload(brokers, topic, messages):
    """Produces every message to `topic` and waits until all are acknowledged."""
    producer = Producer(client_config(brokers, **{"linger.ms": 20, "queue.buffering.max.messages": 1_000_000}))
    failures = []

    def delivered(err, _msg):
        if err is not None:
            failures.append(err)

    for i, (key, value, _) in enumerate(messages):
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(120)
    if failures:
        raise RuntimeError(f"{len(failures)} messages not delivered: {failures[0]}")


# ---------------------------------------------------------------- scorers


def taskset(cpus):
    """The taskset prefix that pins a command to `cpus` (empty when pinning
    is off or taskset is missing)."""
    if not cpus or not shutil.which("taskset"):
        return []
    return ["taskset", "-c", ",".join(str(c) for c in sorted(cpus))]


def scorer_command(kind, args, brokers, topic, group, alerts_topic):
    """The command line that runs scorer `kind` on `topic`."""
    if kind in ("baseline", "passthrough"):
        extra = ["--fetch-wait-max-ms", str(args.fetch_wait_max_ms)]
        extra += ["--passthrough"] if kind == "passthrough" else []
        return [args.python, str(REPO / "scripts" / "stream_baseline.py"), "--brokers", brokers, "--topic", topic,
                "--group", group, "--alerts-topic", alerts_topic, "--pipeline", str(args.pipeline)] + extra + args.baseline_arg
    return [str(args.edgescore), "stream", "--brokers", brokers, "--topic", topic, "--group", group,
            "--pipeline", str(args.pipeline), "--alerts-topic", alerts_topic] + args.edgescore_arg


class Scorer:
    """A scorer process pinned to one core, its output in a log file."""

    def __init__(self, kind, command, cpu, logpath):
        self.kind, self.logpath = kind, logpath
        self.logfile = open(logpath, "w")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(taskset({cpu}) + command, cwd=REPO, env=env,
                                        stdout=self.logfile, stderr=subprocess.STDOUT)
        self.started = time.perf_counter()

    def cpu_seconds(self):
        """User plus system CPU time the scorer has used so far (taskset execs
        it, so the pid is the scorer's own)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except (OSError, IndexError):
            return math.nan

    def check(self):
        """Raises with the log's tail when the scorer has exited."""
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.kind} exited with {self.process.returncode}:\n{self.tail()}")

    def tail(self, lines=20):
        """The last lines of the scorer's log."""
        self.logfile.flush()
        return "\n".join(Path(self.logpath).read_text(errors="replace").splitlines()[-lines:])

    def stop(self):
        """SIGTERM, then SIGKILL after 15 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.logfile.close()


def warm_up(brokers, topic, group, partitions, scorer, first_message, timeout=60.0):
    """Sends one canary transaction (a card of its own, dated like the first
    real one) and waits until the scorer's group has committed it: the
    scorer has joined, been assigned every partition (it is the group's only
    member) and consumed. tansu 0.6.0 cannot describe groups (a storage
    error), so readiness is seen through a commit. Returns the seconds
    waited."""
    event = json.loads(first_message[1])
    event.update(transaction_id="warm-up", card_id="c-warm-up", merchant_id="m-warm-up")
    event.pop("device_id", None)
    producer = Producer(client_config(brokers, **{"linger.ms": 0}))
    producer.produce(topic, key=b"c-warm-up", value=json.dumps(event).encode())
    producer.flush(30)
    watcher = Consumer(client_config(brokers, **{"group.id": group, "enable.auto.commit": False}))
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < timeout:
            scorer.check()
            if sum(committed_offsets(watcher, topic, partitions)) >= 1:
                return time.perf_counter() - start
            time.sleep(0.05)
    finally:
        watcher.close()
    raise RuntimeError(f"{scorer.kind} did not commit the warm-up event within {timeout:.0f} s:\n{scorer.tail()}")


# ---------------------------------------------------------------- measurements


def read_alerts(brokers, topic, partitions):
    """Every alert on `topic` (JSON objects), read to the end."""
    consumer = Consumer(client_config(brokers, **{"group.id": f"bench-read-{uuid.uuid4().hex[:8]}",
                                                  "enable.auto.commit": False}))
    ends = end_offsets(consumer, topic, partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    alerts, deadline = [], time.monotonic() + 60
    while len(alerts) < sum(ends) and time.monotonic() < deadline:
        for m in consumer.consume(1000, 0.5):
            if not m.error():
                alerts.append(json.loads(m.value()))
    consumer.close()
    return alerts


def throughput(kind, args, brokers, admin, messages, workdir):
    """Preloads `messages` into a fresh topic, runs scorer `kind` on one core
    until its committed offsets reach the end, and returns the figures."""
    run = f"{kind}-tp-{uuid.uuid4().hex[:8]}"
    topic, alerts_topic, group = f"tx-{run}", f"alerts-{run}", f"group-{run}"
    create_topics(admin, [topic, alerts_topic], args.partitions)
    t = time.perf_counter()
    preload(brokers, topic, messages)
    watcher = Consumer(client_config(brokers, **{"group.id": group, "enable.auto.commit": False}))
    ends = end_offsets(watcher, topic, args.partitions)
    log(f"{kind}: preloaded {sum(ends)} messages into {topic} in {time.perf_counter() - t:.1f} s; starting the scorer")
    assert sum(ends) == len(messages), f"topic has {sum(ends)} messages, {len(messages)} produced"

    scorer = Scorer(kind, scorer_command(kind, args, brokers, topic, group, alerts_topic), args.scorer_cpu,
                    Path(workdir) / f"{run}.log")
    first = None  # (time, offsets committed, cpu seconds) at the first commit seen
    try:
        deadline = scorer.started + args.timeout
        while True:
            scorer.check()
            done = committed_offsets(watcher, topic, args.partitions)
            now = time.perf_counter()
            if first is None and sum(done) > 0:
                first = (now, sum(done), scorer.cpu_seconds())
            if all(d >= e for d, e in zip(done, ends)):
                last, cpu_end = now, scorer.cpu_seconds()
                break
            if now > deadline:
                raise RuntimeError(f"{kind}: committed {sum(done)} of {sum(ends)} in {args.timeout} s:\n{scorer.tail()}")
            time.sleep(args.poll_interval)
    finally:
        scorer.stop()
        watcher.close()
    measured = sum(ends) - first[1]
    seconds = last - first[0]
    alerts = read_alerts(brokers, alerts_topic, args.partitions)
    figures = {
        "events": sum(ends),
        "events_per_s": measured / seconds if seconds > 0 else math.nan,
        "events_per_s_with_startup": sum(ends) / (last - scorer.started),
        "seconds": seconds,
        "seconds_to_first_commit": first[0] - scorer.started,
        "events_committed_at_first_sight": first[1],
        "cpu_seconds": cpu_end - first[2],
        "events_per_cpu_second": measured / (cpu_end - first[2]) if cpu_end > first[2] else math.nan,
        "alerts": len(alerts),
    }
    log(f"{kind}: {figures['events_per_s']:,.0f} events/s after the first commit "
        f"({figures['events_per_s_with_startup']:,.0f} with start-up), {len(alerts)} alerts")
    return figures, alerts


class AlertReader(threading.Thread):
    """Reads a topic from its beginning and records when each message
    arrives (perf_counter_ns at consume()'s return), with the message's
    JSON (an alert) or, for the floor, its own partition and offset."""

    def __init__(self, brokers, topic, partitions, raw=False, fetch_wait_max_ms=10):
        super().__init__(daemon=True)
        self.consumer = Consumer(client_config(brokers, **{
            "group.id": f"bench-alerts-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
            "fetch.wait.max.ms": fetch_wait_max_ms}))
        self.consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        self.raw = raw
        self.received = []  # (receive ns, alert dict)
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            batch = self.consumer.consume(1000, 0.05)
            now = time.perf_counter_ns()
            for m in batch:
                if m.error():
                    continue
                if self.raw:
                    self.received.append((now, {"partition": m.partition(), "offset": m.offset()}))
                else:
                    self.received.append((now, json.loads(m.value())))
        self.consumer.close()

    def stop(self):
        """Stops reading and waits for the thread (closes the consumer if
        the thread never started)."""
        self.stopping.set()
        if self.is_alive():
            self.join(10)
        elif self.ident is None:
            self.consumer.close()


def paced_produce(brokers, topic, messages, rate, header=False, linger_ms=5):
    """Produces `messages` at `rate` per second, steadily (in 1 ms ticks);
    returns ({(partition, offset): send ns}, {transaction_id: send ns}, the
    achieved rate). The send time is taken right before produce(); with
    `header`, its wall-clock twin goes in a `sent_ns` header."""
    producer = Producer(client_config(brokers, **{"linger.ms": linger_ms, "queue.buffering.max.messages": 1_000_000}))
    by_position, by_id = {}, {}
    failures = []

    def delivered(err, msg, sent):
        if err is not None:
            failures.append(err)
        else:
            by_position[(msg.partition(), msg.offset())] = sent

    start = time.perf_counter()
    sent = 0
    while sent < len(messages):
        due = min(len(messages), int((time.perf_counter() - start) * rate) + 1)
        while sent < due:
            key, value, transaction_id = messages[sent]
            t = time.perf_counter_ns()
            by_id[transaction_id] = t
            headers = [("sent_ns", str(time.time_ns()).encode())] if header else None
            producer.produce(topic, key=key, value=value, headers=headers,
                             on_delivery=lambda err, msg, t=t: delivered(err, msg, t))
            sent += 1
        producer.poll(0)
        time.sleep(0.001)
    elapsed = time.perf_counter() - start
    producer.flush(60)
    if failures:
        raise RuntimeError(f"{len(failures)} messages not delivered: {failures[0]}")
    return by_position, by_id, len(messages) / elapsed if elapsed > 0 else math.nan


def percentiles(latencies_ms):
    """p50, p99 and max of latencies (nearest rank), and their count."""
    values = sorted(latencies_ms)
    if not values:
        return {"count": 0, "p50_ms": math.nan, "p99_ms": math.nan, "max_ms": math.nan}

    def rank(q):
        return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]

    return {"count": len(values), "p50_ms": rank(0.50), "p99_ms": rank(0.99), "max_ms": values[-1]}


def match_latencies(received, by_position, by_id):
    """Each alert's receive time minus its transaction's send time, in ms,
    found by (partition, offset), else by transaction_id; and how many
    alerts matched neither."""
    latencies, unmatched = [], 0
    for received_ns, alert in received:
        sent = by_position.get((alert.get("partition"), alert.get("offset")))
        if sent is None:
            sent = by_id.get(alert.get("transaction_id"))
        if sent is None:
            unmatched += 1
        else:
            latencies.append((received_ns - sent) / 1e6)
    return latencies, unmatched


def latency(kind, args, brokers, admin, messages, rate, workdir):
    """Runs scorer `kind` on a fresh topic fed at `rate` for the latency
    window, and returns the event-to-alert latency figures."""
    run = f"{kind}-lat-{uuid.uuid4().hex[:8]}"
    topic, alerts_topic, group = f"tx-{run}", f"alerts-{run}", f"group-{run}"
    create_topics(admin, [topic, alerts_topic], args.partitions)
    scorer = Scorer(kind, scorer_command(kind, args, brokers, topic, group, alerts_topic), args.scorer_cpu,
                    Path(workdir) / f"{run}.log")
    reader = AlertReader(brokers, alerts_topic, args.partitions, fetch_wait_max_ms=args.fetch_wait_max_ms)
    try:
        waited = warm_up(brokers, topic, group, args.partitions, scorer, messages[0])
        log(f"{kind}: group ready after {waited:.1f} s; producing {len(messages)} events at {rate:,.0f}/s")
        reader.start()
        by_position, by_id, achieved = paced_produce(brokers, topic, messages, rate, args.sent_header, args.linger_ms)
        watcher = Consumer(client_config(brokers, **{"group.id": group, "enable.auto.commit": False}))
        ends = end_offsets(watcher, topic, args.partitions)
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            scorer.check()
            if all(d >= e for d, e in zip(committed_offsets(watcher, topic, args.partitions), ends)):
                break
            time.sleep(args.poll_interval)
        else:
            log(f"warning: {kind} had not committed every event 60 s after the last was sent")
        watcher.close()
        time.sleep(1.0)  # the last alerts' way to the reader
    finally:
        scorer.stop()
        reader.stop()
    latencies, unmatched = match_latencies(reader.received, by_position, by_id)
    figures = {"rate_target": rate, "rate_achieved": achieved, "events": len(messages),
               "unmatched_alerts": unmatched, **percentiles(latencies)}
    log(f"{kind}: {figures['count']} alerts, p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms")
    return figures


def floor(args, brokers, admin, messages, rate):
    """The broker's one-hop latency: the paced producer and the reader on
    one topic with nothing between them."""
    topic = f"floor-{uuid.uuid4().hex[:8]}"
    create_topics(admin, [topic], args.partitions)
    reader = AlertReader(brokers, topic, args.partitions, raw=True, fetch_wait_max_ms=args.fetch_wait_max_ms)
    reader.start()
    try:
        by_position, _, achieved = paced_produce(brokers, topic, messages, rate, args.sent_header, args.linger_ms)
        time.sleep(1.0)
    finally:
        reader.stop()
    latencies, _ = match_latencies(reader.received, by_position, {})
    figures = {"rate_target": rate, "rate_achieved": achieved, **percentiles(latencies)}
    log(f"floor: {figures['count']} messages, p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms")
    return figures


def compare_alerts(first, second):
    """How two scorers' alerts (lists of dicts) agree: by transaction_id,
    the decisions and the largest score difference."""
    a = {x["transaction_id"]: x for x in first}
    b = {x["transaction_id"]: x for x in second}
    both = a.keys() & b.keys()
    score_diffs = [abs(float(a[t]["score"]) - float(b[t]["score"])) for t in both if "score" in a[t] and "score" in b[t]]
    return {
        "alerted_by_both": len(both),
        "only_baseline": len(a.keys() - b.keys()),
        "only_edgescore": len(b.keys() - a.keys()),
        "decisions_differ": sum(1 for t in both if a[t].get("decision") != b[t].get("decision")),
        "max_score_diff": max(score_diffs, default=math.nan),
    }


# ---------------------------------------------------------------- report


def fmt(value, digits=0):
    """A number for the table (thousands separated), or a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def ratio(results, key, section):
    """edgescore over baseline for one figure, when both were measured."""
    try:
        b, e = results["baseline"][section][key], results["edgescore"][section][key]
        return f"{e / b:.2f}x" if b else "—"
    except (KeyError, TypeError):
        return "—"


def table(results, floor_figures, fetch_wait):
    """The Markdown table of both scorers and their ratio, with the
    harness's ceiling and the broker's floor under it."""
    kinds = [k for k in ("baseline", "edgescore") if k in results]
    rows = [
        ("throughput, events/s on 1 core (after first commit)", "throughput", "events_per_s", 0),
        ("throughput, events/s incl. start-up", "throughput", "events_per_s_with_startup", 0),
        ("events per CPU-second", "throughput", "events_per_cpu_second", 0),
        ("time to first commit, s", "throughput", "seconds_to_first_commit", 2),
        ("alerts (throughput run)", "throughput", "alerts", 0),
        ("latency run: target rate, events/s", "latency", "rate_target", 0),
        ("latency run: achieved rate, events/s", "latency", "rate_achieved", 0),
        ("latency run: alerts measured", "latency", "count", 0),
        ("event-to-alert latency p50, ms", "latency", "p50_ms", 1),
        ("event-to-alert latency p99, ms", "latency", "p99_ms", 1),
        ("event-to-alert latency max, ms", "latency", "max_ms", 1),
    ]
    header = "| | " + " | ".join(kinds) + (" | edgescore / baseline |" if len(kinds) == 2 else " |")
    lines = [header, "|---" * (len(kinds) + 1 + (len(kinds) == 2)) + "|"]
    for label, section, key, digits in rows:
        cells = [fmt(results[k].get(section, {}).get(key), digits) for k in kinds]
        if len(kinds) == 2:
            cells.append(ratio(results, key, section))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    ceiling = results.get("passthrough", {}).get("throughput")
    if ceiling:
        lines.append("")
        lines.append(f"Harness ceiling (stream_baseline.py --passthrough on the same core: consume, commit, no "
                     f"features or scoring): {fmt(ceiling['events_per_s'])} events/s after the first commit.")
    if floor_figures:
        lines.append("")
        lines.append(f"Broker floor (one hop, no scorer, {fmt(floor_figures['rate_achieved'])} events/s): "
                     f"p50 {fmt(floor_figures['p50_ms'], 1)} ms, p99 {fmt(floor_figures['p99_ms'], 1)} ms, "
                     f"max {fmt(floor_figures['max_ms'], 1)} ms over {floor_figures['count']} messages; "
                     "a scorer's latency crosses the broker twice.")
    lines.append("")
    lines.append(f"Consumers' fetch.wait.max.ms: {fetch_wait} (the baseline's and the driver's alert reader).")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scorer", choices=["baseline", "edgescore", "both"], default="both",
                        help="which scorer(s) to measure (default both)")
    parser.add_argument("--events", type=int, default=100_000, help="transactions preloaded for throughput (default 100,000)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of every topic (default 4)")
    parser.add_argument("--rate", type=float, help="latency run's events/s (default: half the scorer's measured peak)")
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="length of the latency run (default 20)")
    parser.add_argument("--skip-throughput", action="store_true", help="latency only (needs --rate)")
    parser.add_argument("--skip-latency", action="store_true", help="throughput only")
    parser.add_argument("--sent-header", action="store_true",
                        help="also put the wall-clock send time in a `sent_ns` header (tansu 0.6.0 stalls on headers)")
    parser.add_argument("--fetch-wait-max-ms", type=int, default=10,
                        help="the baseline consumer's fetch.wait.max.ms (default 10: tansu holds a fetch for the whole "
                             "wait even when data is there, so librdkafka's 500 adds ~0.5 s to every event; the "
                             "driver's alert reader uses 10 too). Give edgescore the same with --edgescore-arg")
    parser.add_argument("--linger-ms", type=int, default=20,
                        help="the paced producer's linger.ms (default 20: tansu falls behind on many tiny batches)")
    parser.add_argument("--no-ceiling", action="store_true",
                        help="skip the harness ceiling (stream_baseline.py --passthrough: consume and commit, no scoring)")
    parser.add_argument("--no-floor", action="store_true", help="skip the broker's one-hop floor measurement")
    parser.add_argument("--brokers", help="a running broker, HOST:PORT (default: start tansu in a temporary folder)")
    parser.add_argument("--tansu", type=Path, default=TANSU, help=f"the tansu binary (default {TANSU.relative_to(REPO)})")
    parser.add_argument("--csv", type=Path, help="transactions CSV (default: generate with fraud_generate --days 7 --seed 3)")
    parser.add_argument("--edgescore", type=Path, default=REPO / "target" / "release" / "edgescore",
                        help="the edgescore binary (default target/release/edgescore)")
    parser.add_argument("--edgescore-arg", action="append", default=[],
                        help="extra argument for `edgescore stream` (repeatable)")
    parser.add_argument("--baseline-arg", action="append", default=[],
                        help="extra argument for stream_baseline.py, e.g. --baseline-arg=--batch-size=1000 (repeatable)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the baseline (default: this one)")
    parser.add_argument("--pipeline", type=Path, default=REPO / "examples" / "fraud", help="pipeline folder (default examples/fraud)")
    parser.add_argument("--scorer-cpu", type=int, default=1, help="the core the scorer is pinned to (default 1)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the scorer, broker or driver")
    parser.add_argument("--poll-interval", type=float, default=0.05, help="seconds between committed-offset polls (default 0.05)")
    parser.add_argument("--timeout", type=float, default=600, help="longest a throughput run may take, s (default 600)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (broker data, scorer logs)")
    args = parser.parse_args()
    if args.skip_throughput and not args.rate and not args.skip_latency:
        parser.error("--skip-throughput needs --rate")
    kinds = ["baseline", "edgescore"] if args.scorer == "both" else [args.scorer]
    if "edgescore" in kinds and not args.edgescore.exists():
        parser.error(f"{args.edgescore} does not exist: build it (cargo build --release -p edgescore) or pass --edgescore")

    cpus = sorted(os.sched_getaffinity(0))
    if args.no_pin:
        args.scorer_cpu, others = None, set()
    else:
        if args.scorer_cpu not in cpus:
            parser.error(f"--scorer-cpu {args.scorer_cpu} is not among the usable cores {cpus}")
        others = set(cpus) - {args.scorer_cpu}
        if not others:
            log("warning: one core only: the scorer shares it with the broker and the driver")
            others = set(cpus)
        os.sched_setaffinity(0, others)
    log(f"scorer on core {args.scorer_cpu}; broker and driver on {sorted(others) or 'any'} of {cpus}")

    workdir = tempfile.mkdtemp(prefix="bench_stream-")
    broker = None
    results, floor_figures = {}, None
    try:
        if args.brokers:
            brokers = args.brokers
        else:
            broker, brokers = start_broker(args.tansu, workdir, others)
        admin = AdminClient(client_config(brokers))
        data = Transactions(workdir, args.csv)
        alerts = {}
        # Every throughput run first, on the same transactions (a latency
        # run may ask for more, which generates a different population).
        throughput_messages = data.take(args.events)
        for kind in kinds:
            results[kind] = {}
            if not args.skip_throughput:
                results[kind]["throughput"], alerts[kind] = throughput(
                    kind, args, brokers, admin, throughput_messages, workdir)
        for kind in kinds:
            if not args.skip_latency:
                rate = args.rate or results[kind]["throughput"]["events_per_s"] / 2
                count = max(1, int(rate * args.latency_seconds))
                results[kind]["latency"] = latency(kind, args, brokers, admin, data.take(count), rate, workdir)
        if not args.skip_latency and not args.no_floor:
            rate = args.rate or min(r["latency"]["rate_target"] for r in results.values())
            floor_figures = floor(args, brokers, admin, data.take(max(1, int(rate * min(10.0, args.latency_seconds)))), rate)
        if not args.skip_throughput and not args.no_ceiling:
            results["passthrough"] = {}
            results["passthrough"]["throughput"], _ = throughput(
                "passthrough", args, brokers, admin, throughput_messages, workdir)
        agreement = compare_alerts(alerts["baseline"], alerts["edgescore"]) if len(alerts) == 2 else None
    finally:
        if broker is not None:
            broker.terminate()
            try:
                broker.wait(10)
            except subprocess.TimeoutExpired:
                broker.kill()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print(table(results, floor_figures, args.fetch_wait_max_ms))
    if agreement:
        print(f"\nAlerts of the throughput run: {agreement['alerted_by_both']} by both, "
              f"{agreement['only_baseline']} by the baseline only, {agreement['only_edgescore']} by edgescore only, "
              f"{agreement['decisions_differ']} with different decisions; largest score difference "
              f"{agreement['max_score_diff']:.3g}")
    if args.json:
        out = {"config": {"events": args.events, "fetch_wait_max_ms": args.fetch_wait_max_ms,
                          "linger_ms": args.linger_ms, "partitions": args.partitions, "scorer_cpu": args.scorer_cpu,
                          "cores": len(cpus), "latency_seconds": args.latency_seconds,
                          "broker": args.brokers or "tansu 0.6.0 (sqlite)"},
               "results": results, "floor": floor_figures, "alert_agreement": agreement}
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
