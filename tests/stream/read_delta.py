"""Reads an `edgescore stream --table-format delta` table with the Python
`deltalake` package (not our code), as an analyst would, and prints what
the stream test checks, as JSON lines on stdout:

- one `{"version": N, "transactions": {app_id: version}}` line first: the
  table's version and the application transaction of each input partition;
- then one line per row: transaction_id, partition, offset, version, score,
  decision and the features (null where missing).

Floats go through `json.dumps`, which writes the shortest repr that reads
back to the same double, so the test compares them to the bit.

Usage: read_delta.py TABLE TOPIC PARTITIONS
"""

import json
import math
import sys

from deltalake import DeltaTable


def main():
    path, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
    table = DeltaTable(path)
    transactions = {}
    for p in range(partitions):
        app_id = f"edgescore-stream:{topic}:{p}"
        transactions[app_id] = table.transaction_version(app_id)
    out = sys.stdout
    out.write(json.dumps({"version": table.version(), "transactions": transactions}) + "\n")
    rows = table.to_pyarrow_table(
        columns=["transaction_id", "partition", "offset", "version", "score", "decision", "features", "date"]
    ).to_pylist()
    for row in rows:
        features = {}
        for key, value in row["features"]:
            features[key] = None if value is None or math.isnan(value) else value
        out.write(
            json.dumps(
                {
                    "transaction_id": row["transaction_id"],
                    "partition": row["partition"],
                    "offset": row["offset"],
                    "version": row["version"],
                    "score": row["score"],
                    "decision": row["decision"],
                    "features": features,
                    "date": str(row["date"]),
                }
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
