#!/usr/bin/env python3
"""The Python streaming fraud scorer a team would write: the baseline that
`edgescore stream` is measured against (scripts/bench_stream.py).

A confluent-kafka consumer reads transactions (one JSON object per message,
key = card_id) in micro-batches; pandas computes the fraud pipeline's
features (examples/fraud/transform.toml) per batch, with each entity's
history (card, card+country, card+device) kept in memory as a dict of
deques; the pipeline's XGBoost model is scored with `xgboost.Booster`;
transactions scoring at least the review threshold (block at the block
threshold, both from pipeline.toml's [decision]) are produced as JSON alerts
to the alerts topic; the alerts are flushed and the batch's offsets
committed before the next batch (at least once).

    python scripts/stream_baseline.py --brokers 127.0.0.1:9092 \\
        --topic transactions --group baseline --alerts-topic alerts

An alert is a JSON object with the source transaction's "partition",
"offset" and "transaction_id" (the fields edgescore's alerts carry too),
plus "card_id", "timestamp", "score" and "decision".

Offline check of the features (no Kafka): compute them for a CSV of raw
transactions, in file order, and write them next to the input's id column,
to compare with `edgescore transform --pipeline examples/fraud`:

    python scripts/stream_baseline.py --features-csv tx.csv --output features.csv

Differences from edgescore's transform that a typical team's code has and
that the benchmark data never exercises: events arriving out of time order
are inserted in place (as edgescore does) but the 10,000-events-per-entity
cap and the 5-minutes-ahead-of-the-clock check are not applied, and an
event with an unknown field is skipped with a warning rather than refused
with a typed error.
"""

import argparse
import json
import math
import signal
import sys
import time
import tomllib
from bisect import insort
from collections import deque
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

REPO = Path(__file__).resolve().parent.parent

# The transaction fields the pipeline reads (examples/fraud/transform.toml's
# [inputs]); anything else in an event is refused, as edgescore does.
FIELDS = {
    "transaction_id", "timestamp", "card_id", "amount", "merchant_id",
    "merchant_category", "channel", "country", "home_country", "device_id",
}
REQUIRED = ("timestamp", "card_id", "amount", "merchant_id", "country", "home_country")
DEFAULTS = {"merchant_category": "other", "channel": "pos"}
CHANNELS = ["pos", "online"]
CATEGORIES = ["grocery", "fuel", "restaurant", "retail", "electronics", "travel",
              "gift_cards", "digital_goods"]

MINUTE_MS = 60_000
WEEK_MS = 7 * 24 * 60 * MINUTE_MS  # the longest window and the store's retention
SECONDS_SINCE_LAST_DEFAULT = 604_800.0


class EntityHistory:
    """Every entity's recent events (timestamp ms, amount, merchant), oldest
    first, one deque per entity key, trimmed to the last 7 days."""

    def __init__(self):
        self.events = {}

    def observe(self, key, ts_ms, amount=0.0, merchant=None):
        """Records one event of entity `key` and returns its deque (the event
        included, events 7 days or more older than it dropped)."""
        history = self.events.get(key)
        if history is None:
            history = self.events[key] = deque()
        event = (ts_ms, amount, merchant)
        if not history or history[-1][0] <= ts_ms:
            history.append(event)
        else:  # late: in place, after events with the same time
            insort(history, event, key=lambda e: e[0])
        oldest_kept = ts_ms - WEEK_MS
        while history and history[0][0] <= oldest_kept:
            history.popleft()
        return history


def window_stats(history, ts_ms):
    """The card windows as of `ts_ms` over one entity's deque: counts over
    10 min, 1 h, 24 h and 7 days; amount sums over 1 h and 7 days (added in
    time order, oldest first, as edgescore does); distinct merchants over
    1 h; and the seconds since the previous event within 7 days (NaN when
    there is none). A window of s seconds counts events in (t - s, t]."""
    start_10m, start_1h, start_24h = ts_ms - 10 * MINUTE_MS, ts_ms - 60 * MINUTE_MS, ts_ms - 1440 * MINUTE_MS
    start_7d = ts_ms - WEEK_MS
    n10m = n1h = n24h = n7d = 0
    in_1h, in_7d = [], []
    merchants = set()
    at_or_before = 0
    for t, amount, merchant in history:
        if t > ts_ms:
            break
        at_or_before += 1
        if t <= start_7d:
            continue
        n7d += 1
        in_7d.append(amount)
        if t > start_24h:
            n24h += 1
            if t > start_1h:
                n1h += 1
                in_1h.append(amount)
                merchants.add(merchant)
                if t > start_10m:
                    n10m += 1
    sum_1h = 0.0
    for amount in in_1h:
        sum_1h += amount
    sum_7d = 0.0
    for amount in in_7d:
        sum_7d += amount
    since_last = math.nan
    if at_or_before >= 2:
        previous = history[at_or_before - 2][0]
        if previous > start_7d:
            since_last = (ts_ms - previous) / 1000.0
    return n10m, n1h, n24h, n7d, sum_1h, sum_7d, len(merchants), since_last


def count_within(history, ts_ms, ms):
    """How many of an entity's events fall in (ts_ms - ms, ts_ms]."""
    start = ts_ms - ms
    return sum(1 for t, _, _ in history if start < t <= ts_ms)


def rfc3339_ms(texts):
    """RFC 3339 timestamps (a pandas Series of text) as integer milliseconds
    since the epoch, UTC, fractions past the millisecond dropped."""
    times = pd.to_datetime(texts, utc=True, format="ISO8601")
    return ((times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)).to_numpy(dtype=np.int64)


class FeatureBuilder:
    """The fraud pipeline's features in pandas, batch by batch, with the
    entities' history kept between batches."""

    def __init__(self, feature_names):
        self.feature_names = list(feature_names)
        self.card = EntityHistory()
        self.card_country = EntityHistory()
        self.card_device = EntityHistory()

    def frame(self, events):
        """A DataFrame of raw events (a list of dicts), the inputs' defaults
        applied; raises ValueError naming a missing required field."""
        df = pd.DataFrame.from_records(events, columns=sorted(FIELDS))
        for name in REQUIRED:
            missing = df[name].isna() | (df[name] == "")
            if missing.any():
                raise ValueError(f"required field '{name}' is missing in event {int(np.argmax(missing.to_numpy()))}")
        for name, default in DEFAULTS.items():
            df[name] = df[name].where(df[name].notna() & (df[name] != ""), default)
        df["device_id"] = df["device_id"].where(df["device_id"] != "", None)
        df["amount"] = df["amount"].astype(np.float64)
        df["ts_ms"] = rfc3339_ms(df["timestamp"])
        return df

    def features(self, df):
        """The feature rows of a batch (a frame from `frame`), in event order,
        columns in the model's order; the batch's events are recorded in the
        entities' history."""
        ts = df["ts_ms"].to_numpy()
        amount = df["amount"].to_numpy()
        windows = np.empty((len(df), 8))
        country_7d = np.empty(len(df))
        device_7d = np.full(len(df), np.nan)
        for i, (t, a, card, country, merchant, device) in enumerate(zip(
                ts.tolist(), amount.tolist(), df["card_id"].tolist(), df["country"].tolist(),
                df["merchant_id"].tolist(), df["device_id"].tolist())):
            history = self.card.observe(card, t, a, merchant)
            windows[i] = window_stats(history, t)
            country_7d[i] = count_within(self.card_country.observe(f"{card}|{country}", t), t, WEEK_MS)
            if device is not None and device == device:  # neither None nor NaN
                device_7d[i] = count_within(self.card_device.observe(f"{card}|{device}", t), t, WEEK_MS)

        out = pd.DataFrame(index=df.index)
        out["amount"] = amount
        out["amount_log"] = np.log1p(amount)
        out["hour"] = (ts // 3_600_000) % 24
        out["weekday"] = (ts // 86_400_000 + 3) % 7  # Monday = 0; 1970-01-01 was a Thursday
        for c in CHANNELS:
            out[f"channel_{c}"] = (df["channel"] == c).astype(np.float64)
        for c in CATEGORIES:
            out[f"category_{c}"] = (df["merchant_category"] == c).astype(np.float64)
        out["domestic"] = (df["country"] == df["home_country"]).astype(np.float64)
        w = pd.DataFrame(windows, index=df.index, columns=[
            "card_txn_10m", "card_txn_1h", "card_txn_24h", "card_txn_7d",
            "card_amount_1h", "card_amount_7d", "card_merchants_1h", "seconds_since_last"])
        for name in ("card_txn_10m", "card_txn_1h", "card_txn_24h", "card_amount_1h", "card_merchants_1h"):
            out[name] = w[name]
        out["seconds_since_last"] = w["seconds_since_last"].fillna(SECONDS_SINCE_LAST_DEFAULT)
        out["log_seconds_since_last"] = np.log1p(out["seconds_since_last"])
        out["card_txn_7d"] = w["card_txn_7d"]
        out["card_avg_amount_7d"] = (w["card_amount_7d"] / w["card_txn_7d"]).where(w["card_txn_7d"] != 0)
        out["amount_vs_usual"] = (out["amount"] / out["card_avg_amount_7d"]).where(
            out["card_avg_amount_7d"] != 0).fillna(1.0)
        out["card_country_txn_7d"] = country_7d
        out["card_device_txn_7d"] = pd.Series(device_7d, index=df.index).fillna(0.0)
        return out[self.feature_names].astype(np.float64)


def load_pipeline(pipeline_dir):
    """The model path and the review and block thresholds from a pipeline
    folder's pipeline.toml."""
    pipeline_dir = Path(pipeline_dir)
    config = tomllib.loads((pipeline_dir / "pipeline.toml").read_text())
    decision = config.get("decision", {})
    return pipeline_dir / config["model"], float(decision.get("review", 0.5)), float(decision.get("block", 0.9))


def load_booster(model_path):
    """The XGBoost model and its feature names (learner.feature_names),
    scoring on one thread."""
    booster = xgb.Booster(model_file=str(model_path))
    booster.set_param({"nthread": 1})
    names = json.loads(Path(model_path).read_text())["learner"]["feature_names"]
    return booster, names


def score(booster, rows):
    """Scores of the feature rows (a DataFrame in the model's column order),
    in float32 as XGBoost reads them."""
    matrix = xgb.DMatrix(rows.to_numpy(dtype=np.float32), feature_names=list(rows.columns), missing=np.nan)
    return booster.predict(matrix)


def features_csv(args):
    """The offline check: features of a CSV of raw transactions, in file
    order, written as CSV with the transaction_id column first."""
    model_path, _, _ = load_pipeline(args.pipeline)
    _, names = load_booster(model_path)
    raw = pd.read_csv(args.features_csv, dtype=str, keep_default_na=False)
    events = raw[[c for c in raw.columns if c in FIELDS]].to_dict("records")
    builder = FeatureBuilder(names)
    df = builder.frame(events)
    rows = builder.features(df)
    rows.insert(0, "transaction_id", raw["transaction_id"].to_numpy())
    rows.to_csv(args.output, index=False, float_format="%.17g")
    print(f"wrote {len(rows)} feature rows to {args.output}", file=sys.stderr)


def run(args):
    """The streaming loop: consume a micro-batch, build features, score,
    produce alerts, flush them, commit the batch's offsets; until SIGTERM or
    SIGINT (or --idle-exit seconds without a message)."""
    from confluent_kafka import Consumer, Producer

    model_path, review, block = load_pipeline(args.pipeline)
    booster, names = load_booster(model_path)
    builder = FeatureBuilder(names)
    common = {"bootstrap.servers": args.brokers, "broker.address.family": "v4"}
    consumer = Consumer({**common, "group.id": args.group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "enable.partition.eof": False,
                         "fetch.wait.max.ms": args.fetch_wait_max_ms})
    producer = Producer({**common, "linger.ms": args.linger_ms})
    consumer.subscribe([args.topic])

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scored = alerts = skipped = 0
    last_message = time.monotonic()
    try:
        while not stopping:
            messages = consumer.consume(args.batch_size, args.poll_timeout)
            if not messages:
                if args.idle_exit and time.monotonic() - last_message > args.idle_exit:
                    break
                continue
            last_message = time.monotonic()
            events, sources = [], []
            for m in messages:
                if m.error():
                    print(f"consumer error: {m.error()}", file=sys.stderr)
                    continue
                try:
                    event = json.loads(m.value())
                    unknown = set(event) - FIELDS
                    if unknown:
                        raise ValueError(f"unknown fields {sorted(unknown)}")
                except ValueError as e:
                    skipped += 1
                    print(f"skipped {m.topic()}[{m.partition()}]@{m.offset()}: {e}", file=sys.stderr)
                    continue
                events.append(event)
                sources.append((m.partition(), m.offset()))
            if events and not args.passthrough:
                df = builder.frame(events)
                scores = score(booster, builder.features(df))
                flagged = np.flatnonzero(scores >= review)
                ids, cards, stamps = df["transaction_id"].to_numpy(), df["card_id"].to_numpy(), df["timestamp"].to_numpy()
                for i in flagged.tolist():
                    s = float(scores[i])
                    alert = {"transaction_id": ids[i], "partition": sources[i][0], "offset": sources[i][1],
                             "card_id": cards[i], "timestamp": stamps[i], "score": s,
                             "decision": "block" if s >= block else "review"}
                    producer.produce(args.alerts_topic, key=cards[i], value=json.dumps(alert))
                scored += len(events)
                alerts += len(flagged)
                producer.poll(0)
            # At least once: the alerts are delivered before the offsets that
            # caused them are committed.
            if producer.flush(30) != 0:
                raise RuntimeError("alerts not delivered within 30 s")
            consumer.commit(asynchronous=False)
    finally:
        producer.flush(10)
        consumer.close()
        print(f"stream_baseline: scored {scored} events, {alerts} alerts, {skipped} skipped", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brokers", help="bootstrap servers, HOST:PORT[,HOST:PORT...] (use 127.0.0.1, not localhost)")
    parser.add_argument("--topic", help="the transactions topic")
    parser.add_argument("--group", help="the consumer group (offsets are committed under it)")
    parser.add_argument("--alerts-topic", help="where review and block alerts are produced")
    parser.add_argument("--pipeline", default=str(REPO / "examples" / "fraud"),
                        help="pipeline folder: pipeline.toml names the model and the thresholds (default: examples/fraud)")
    parser.add_argument("--batch-size", type=int, default=500, help="most messages per micro-batch (default 500)")
    parser.add_argument("--poll-timeout", type=float, default=0.05,
                        help="seconds one consume() waits to fill a batch (default 0.05)")
    parser.add_argument("--linger-ms", type=int, default=5, help="the alert producer's linger.ms (default 5, librdkafka's)")
    parser.add_argument("--fetch-wait-max-ms", type=int, default=500,
                        help="the consumer's fetch.wait.max.ms (default 500, librdkafka's)")
    parser.add_argument("--idle-exit", type=float, default=0.0,
                        help="exit after this many seconds without a message (default 0: run until SIGTERM)")
    parser.add_argument("--passthrough", action="store_true",
                        help="consume, parse the JSON and commit only: no features or scoring (the benchmark's harness ceiling)")
    parser.add_argument("--features-csv", metavar="CSV",
                        help="offline check: compute the features of this CSV of raw transactions (no Kafka)")
    parser.add_argument("--output", metavar="CSV", help="with --features-csv: where to write the features")
    args = parser.parse_args()
    if args.features_csv:
        if not args.output:
            parser.error("--features-csv needs --output")
        features_csv(args)
        return
    missing = [f"--{n.replace('_', '-')}" for n in ("brokers", "topic", "group", "alerts_topic") if not getattr(args, n)]
    if missing:
        parser.error(f"missing {', '.join(missing)}")
    run(args)


if __name__ == "__main__":
    main()
