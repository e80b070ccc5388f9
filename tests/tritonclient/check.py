#!/usr/bin/env python3
"""Drives `edgescore serve` with Triton's own Python client, unchanged.

tritonclient[http]'s InferenceServerClient checks liveness and readiness,
reads server and model metadata, and runs `infer` with binary tensor data
(its default) and with JSON, including a row with NaN (missing values).
The scores are compared bit for bit with the ones given on the command line
(the test computes them natively).

usage: check.py <url> <model> <rows.f32> <width> <expected.f32>
Exits non-zero with a message on the first difference.
"""

import sys

import numpy as np
import tritonclient.http as httpclient


def main() -> None:
    url, model, rows_path, width, expected_path = sys.argv[1:6]
    width = int(width)
    rows = np.fromfile(rows_path, dtype="<f4").reshape(-1, width)
    expected = np.fromfile(expected_path, dtype="<f4")

    client = httpclient.InferenceServerClient(url=url.removeprefix("http://"))
    assert client.is_server_live(), "server not live"
    assert client.is_server_ready(), "server not ready"
    assert client.is_model_ready(model), "model not ready"
    server = client.get_server_metadata()
    assert server["name"] == "edgescore", server
    metadata = client.get_model_metadata(model)
    assert metadata["inputs"][0]["shape"] == [-1, width], metadata
    assert metadata["outputs"][0]["name"] == "score", metadata

    for binary in (True, False):
        batch = rows if binary else rows[~np.isnan(rows).any(axis=1)]
        want = expected if binary else expected[~np.isnan(rows).any(axis=1)]
        tensor = httpclient.InferInput("features", list(batch.shape), "FP32")
        tensor.set_data_from_numpy(batch, binary_data=binary)
        output = httpclient.InferRequestedOutput("score", binary_data=binary)
        result = client.infer(model, [tensor], outputs=[output])
        got = result.as_numpy("score")
        assert got is not None, "no score output"
        if got.dtype != np.float32 or not np.array_equal(got.view("<u4"), want.view("<u4")):
            sys.exit(f"binary={binary}: scores differ: {got[:5]} vs {want[:5]}")
        print(f"tritonclient infer (binary_data={binary}): {len(got)} rows, bit-identical")

    # The client's defaults: no outputs named.
    tensor = httpclient.InferInput("features", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows)
    got = client.infer(model, [tensor]).as_numpy("score")
    if not np.array_equal(got.view("<u4"), expected.view("<u4")):
        sys.exit("default request: scores differ")
    print("tritonclient default infer: bit-identical")


if __name__ == "__main__":
    main()
