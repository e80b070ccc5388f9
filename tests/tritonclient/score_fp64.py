#!/usr/bin/env python3
"""Scores float64 rows through `edgescore serve` with Triton's own Python client.

The rows go as an FP64 tensor in Triton's binary data extension (NaN travels
as its bits); the FP64 `score` output is written back, one little-endian
float64 per row, for the Rust test to compare with the reference library.

usage: score_fp64.py <url> <model> <rows.f64> <width> <scores.f64>
"""

import sys

import numpy as np
import tritonclient.http as httpclient


def main() -> None:
    url, model, rows_path, width, scores_path = sys.argv[1:6]
    rows = np.fromfile(rows_path, dtype="<f8").reshape(-1, int(width))
    client = httpclient.InferenceServerClient(url=url.removeprefix("http://"))
    tensor = httpclient.InferInput("features", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows, binary_data=True)
    output = httpclient.InferRequestedOutput("score", binary_data=True)
    got = client.infer(model, [tensor], outputs=[output]).as_numpy("score")
    if got is None or got.dtype != np.float64 or got.shape != (rows.shape[0],):
        sys.exit(f"{model}: expected {rows.shape[0]} FP64 scores, got {got!r}")
    got.astype("<f8").tofile(scores_path)


if __name__ == "__main__":
    main()
