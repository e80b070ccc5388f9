#!/usr/bin/env python3
"""Writes the committed seed corpora, fuzz/corpus/<target>/, from the
golden cases (models/test_cases), the examples, tests/data and the hostile
request bodies of tests/hostile_http and tests/hostile_events (small
versions: a seed is a shape to mutate, not a load test).

    python3 fuzz/make_corpus.py

Compact encodings and artifacts are written by the fuzz crate's example
`compact_seeds` (the product's own encoder), run by this script. Seeds are
named by content, so a rerun changes nothing that did not change.
"""

import csv
import hashlib
import json
import struct
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
CASES = ROOT / "models" / "test_cases"
# Larger golden models are left out: they slow every execution.
MAX_SEED_BYTES = 130_000

FRAUD_FEATURES = json.loads((ROOT / "examples/fraud/model/xgboost.json").read_text())[
    "learner"
]["feature_names"]
VALID_TRANSACTION = {
    "timestamp": "2026-03-01T03:12:00Z",
    "card_id": "c00042",
    "amount": 1450.0,
    "merchant_id": "m40511",
    "merchant_category": "electronics",
    "channel": "online",
    "country": "NG",
    "home_country": "US",
    "device_id": "x91",
}


def seed(target, data, name=None):
    if isinstance(data, str):
        data = data.encode()
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    name = name or hashlib.sha256(data).hexdigest()[:16]
    (folder / name).write_bytes(data)


def golden(pattern):
    for path in sorted(CASES.glob(pattern)):
        if path.stat().st_size <= MAX_SEED_BYTES:
            yield path


def golden_rows(count):
    """Rows of the fraud model's width from a golden case's inputs."""
    with open(CASES / "xgboost_categorical" / "random.input.csv") as f:
        values = [float(v) if v else 0.0 for row in csv.reader(f) for v in row[1:] if _number(v)]
    width = len(FRAUD_FEATURES)
    return [values[i * width : (i + 1) * width] for i in range(count)]


def _number(text):
    try:
        float(text or "0")
        return True
    except ValueError:
        return False


def models():
    for path in golden("xgboost_*/model.json"):
        seed("xgboost_json", path.read_bytes(), path.parent.name)
    seed("xgboost_json", (ROOT / "examples/quickstart/fraud_xgboost.json").read_bytes(), "quickstart")
    for path in golden("lightgbm_*/model.txt"):
        seed("lightgbm_text", path.read_bytes(), path.parent.name)
    for path in golden("linear_*/model.json"):
        seed("linear_json", path.read_bytes(), path.parent.name)
    seed("linear_json", (ROOT / "examples/fraud/model/logistic.json").read_bytes(), "fraud_logistic")
    for path in golden("onnx_*/model.onnx"):
        seed("onnx", path.read_bytes(), path.parent.name)
    sources = [p for t in ("xgboost_json", "lightgbm_text", "linear_json", "onnx") for p in sorted((CORPUS / t).iterdir())]
    subprocess.run(
        ["cargo", "run", "--quiet", "--manifest-path", str(ROOT / "fuzz/Cargo.toml"),
         "--target-dir", str(ROOT / "target/fuzz-seeds"), "--example", "compact_seeds", "--",
         str(CORPUS / "compact_encoding"), *map(str, sources)],
        check=True,
    )


def specs():
    seed("transform_spec", (ROOT / "examples/fraud/transform.toml").read_bytes(), "fraud")
    seed("transform_spec", """name = "t"
version = "1"
time = "ts"

[inputs]
ts = { type = "timestamp", required = true }
id = { type = "text", required = true }
x = { type = "number", default = 0.5 }
n = { type = "integer" }
b = { type = "boolean", default = false }

[entities.e]
key = ["id", "b"]
value = "x"
distinct = "n"

[[features]]
name = "z"
standardize = "x"
mean = 1.0
std = 2.0

[[features]]
name = "c"
count = "e"
minutes = 10080

[[features]]
name = "d"
distinct_count = "e"
minutes = 1

[[features]]
name = "h"
hash = "id"
buckets = 7
""", "all_kinds")


def events():
    with open(ROOT / "tests/data/parquet/events.csv") as f:
        lines = f.readlines()
    seed("csv_events", "".join(lines[:40]), "events_head")
    header = ",".join(VALID_TRANSACTION)
    row = ",".join(str(v) for v in VALID_TRANSACTION.values())
    seed("csv_events", f"{header}\n{row}\n", "demo")
    seed("csv_events", f"{header}\n{row.replace('2026-03-01T03:12:00Z', '1772334720000')}\n", "integer_time")
    seed("csv_events", f"{header}\n\"{row}\"\n", "quoted")
    for path in sorted((ROOT / "tests/data/parquet").glob("*.parquet")):
        seed("parquet_events", path.read_bytes(), path.stem)


def v2():
    width = len(FRAUD_FEATURES)
    rows = golden_rows(3)
    def request(inputs, **extra):
        return json.dumps({"id": "r1", "inputs": inputs, **extra})
    seed("v2_json", request([{"name": "features", "shape": [3, width], "datatype": "FP32", "data": rows}]), "nested")
    seed("v2_json", request([{"name": "features", "shape": [1, width], "datatype": "FP64", "data": rows[0]}],
                            parameters={"key": "c1"}, outputs=[{"name": "score"}]), "flat_fp64")
    # tests/hostile_http: shapes that overflow or disagree with their data.
    seed("v2_json", request([{"name": "features", "shape": [683212743470724133, width], "datatype": "FP32", "data": [1.0]}]), "overflow")
    seed("v2_json", request([{"name": "features", "shape": [2, width], "datatype": "FP32", "data": [[1e39]]}]), "beyond_fp32")
    seed("v2_json", request([{"name": "f", "shape": [1, width], "datatype": "INT8", "data": [1]}]), "datatype")
    seed("v2_json", request([]), "no_input")
    for n, datatype, fmt in ((2, "FP32", "<f"), (1, "FP64", "<d")):
        data = b"".join(struct.pack(fmt, v) for r in rows[:n] for v in r)
        header = json.dumps({"inputs": [{"name": "features", "shape": [n, width], "datatype": datatype,
                                         "parameters": {"binary_data_size": len(data)}}],
                             "parameters": {"binary_data_output": True}}).encode()
        value = str(len(header)).encode()
        seed("v2_binary", bytes([len(value)]) + value + header + data, f"binary_{datatype}")
        seed("v2_json", header, f"header_{datatype}")
    header = json.dumps({"inputs": [{"name": "features", "shape": [1000000000, width], "datatype": "FP64",
                                     "parameters": {"binary_data_size": 96}}]}).encode()
    value = str(len(header)).encode()
    seed("v2_binary", bytes([len(value)]) + value + header + bytes(96), "huge_shape")


def v1():
    row = dict(zip(FRAUD_FEATURES, golden_rows(1)[0]))
    seed("v1_score_body", json.dumps({"rows": [row, {"amount": 12.5, "hour": None, "domestic": True}], "key": "k"}), "named")
    seed("v1_score_body", json.dumps({"rows": [list(row.values())], "contributions": True}), "positional")
    # tests/hostile_http.
    seed("v1_score_body", '{"rows":[{}],"key":"a","key":"b"}', "repeated_key")
    seed("v1_score_body", '{"rows":[' + ",".join(["{}"] * 70) + "]}", "many_rows")
    seed("v1_score_body", '{"rows":[{"amount":950.0,"hour":3,"typo":1}]}', "unknown_feature")
    seed("v1_score_body", '{"key":"a"}', "no_rows")
    valid = json.dumps(VALID_TRANSACTION)
    def body(*transactions, **extra):
        return json.dumps({"transactions": list(transactions), **extra})
    seed("v1_pipeline_body", body(VALID_TRANSACTION, key="c00042", features=True, explain=True), "demo")
    later = dict(VALID_TRANSACTION, timestamp=1772334780000, amount=3.5, device_id=None)
    seed("v1_pipeline_body", body(VALID_TRANSACTION, later, VALID_TRANSACTION), "three")
    # tests/hostile_events: each a small version of a refused request.
    seed("v1_pipeline_body", '{"transactions": []}', "empty")
    seed("v1_pipeline_body", '{"transactions": [' + "[" * 40 + "]" * 40 + "]}", "deep")
    seed("v1_pipeline_body", '{"transactions": [' + valid.replace('"amount": 1450.0', '"amount": 1450.0, "amount": 9') + "]}", "twice")
    for field, value in (("merchant_categroy", "gift_cards"), ("amount", "NaN"), ("amount", [1, 2]),
                         ("card_id", "   "), ("timestamp", "2026-02-30T00:00:00Z"), ("timestamp", "9999-12-31T23:59:59Z"),
                         ("timestamp", 1772334720000000), ("amount", 1e308), ("country", "U" * 1100)):
        seed("v1_pipeline_body", body(VALID_TRANSACTION, dict(VALID_TRANSACTION, **{field: value})))
    seed("v1_pipeline_body", body(VALID_TRANSACTION).replace("1450.0", "1e400"), "out_of_range")


def main():
    # Seeds named regression-* are the reproducers of findings: kept.
    for path in CORPUS.glob("*/*"):
        if not path.name.startswith("regression-"):
            path.unlink()
    models()
    specs()
    events()
    v2()
    v1()
    for folder in sorted(CORPUS.iterdir()):
        files = list(folder.iterdir())
        print(f"{folder.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
