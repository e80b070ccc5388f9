#!/usr/bin/env python3
"""Writes the Parquet fixtures of tests/pipeline/parquet.rs from events.csv,
with the writers users have: pandas' defaults, and pyarrow with the types and
compressions other tools choose. Every file holds the same events as
events.csv, so `edgescore transform` and `edgescore eval` must give the same
features and metrics from each.

events.csv comes from the fraud example's generator:
  cargo run --example fraud_generate -- --cards 60 --days 3 --start-day 60 \
      --fraud-rate 0.05 --output tests/data/parquet/events.csv

Deterministic: running it again rewrites identical files.
Usage: python3 tests/data/parquet/generate.py
"""

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent


def main():
    df = pd.read_csv(HERE / "events.csv", dtype={"is_fraud": "int64"}, keep_default_na=False,
                     na_values={"pattern": [""], "device_id": [""]})
    # Nanoseconds, as pandas before 3.0 (and Spark, polars) keep time.
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True).astype("datetime64[ns, UTC]")

    # pandas' defaults: UTC timestamps, int64 labels, Snappy.
    df.to_parquet(HERE / "events_pandas.parquet", engine="pyarrow", index=False)

    strings = ["transaction_id", "merchant_id", "merchant_category", "channel", "country",
               "home_country", "device_id", "pattern"]

    def table(timestamp, amount, label, card):
        columns = {name: pa.array(df[name], pa.string(), from_pandas=True) for name in strings}
        columns["timestamp"] = timestamp
        columns["amount"] = amount
        columns["is_fraud"] = label
        columns["card_id"] = card
        return pa.table({name: columns[name] for name in df.columns})

    millis = df["timestamp"].astype("int64") // 1_000_000
    cards = pa.array(df["card_id"].tolist(), pa.string())

    # Millisecond timestamps, decimal amounts, boolean labels, a dictionary
    # (categorical) card column, Zstandard.
    typed = table(pa.array(millis, pa.timestamp("ms", tz="UTC")),
                  pa.array([Decimal(f"{a:.2f}") for a in df["amount"]], pa.decimal128(12, 2)),
                  pa.array(df["is_fraud"] == 1, pa.bool_()),
                  cards.dictionary_encode())
    pq.write_table(typed, HERE / "events_typed.parquet", compression="zstd")

    # Microsecond timestamps without a time zone, int8 labels, gzip, small row groups.
    micros = table(pa.array(millis * 1000, pa.timestamp("us")),
                   pa.array(df["amount"], pa.float64()),
                   pa.array(df["is_fraud"], pa.int8()),
                   cards)
    pq.write_table(micros, HERE / "events_micros.parquet", compression="gzip", row_group_size=100)

    # Plain integer milliseconds for the time, LZ4.
    plain = table(pa.array(millis, pa.int64()),
                  pa.array(df["amount"], pa.float64()),
                  pa.array(df["is_fraud"], pa.int64()),
                  cards)
    pq.write_table(plain, HERE / "events_int_ms.parquet", compression="lz4")

    # A nested column edgescore refuses with a message.
    nested = pa.table({"card_id": ["c1"], "amounts": pa.array([[1.0, 2.0]], pa.list_(pa.float64()))})
    pq.write_table(nested, HERE / "nested.parquet")
    print(f"wrote {len(df)} events in 4 Parquet files and nested.parquet to {HERE}")


if __name__ == "__main__":
    main()
