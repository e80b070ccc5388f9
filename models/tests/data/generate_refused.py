#!/usr/bin/env python3
"""Generate the model files of models/tests/refused.rs with the real reference libraries.

Each file is one that edgescore must refuse, or (the LightGBM model) the
intact file the test cuts and edits itself. Run with the versions pinned in
models/test_cases/requirements.txt:

  /tmp/venv/bin/python models/tests/data/generate_refused.py

After writing the files it asks the reference libraries themselves what they
do with each refused file (in a child process, since LightGBM aborts or
crashes on some), and fails if the answer is not the one the tests rely on.

  lightgbm_5_trees.txt     binary, 5 trees of 4 leaves, as save_model wrote it
  xgboost_bom.json         a gbtree model preceded by a UTF-8 byte order mark
  xgboost_gblinear.json    booster="gblinear"
  xgboost_dart.json        booster="dart"
"""

import pathlib
import subprocess
import sys
import tempfile

import lightgbm as lgb
import numpy as np
import xgboost as xgb

HERE = pathlib.Path(__file__).resolve().parent
BOM = b"\xef\xbb\xbf"


def data():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(300, 3)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] + 0.3 * rng.normal(size=300) > 0).astype(int)
    return x, y


def generate():
    x, y = data()
    lgb.train(
        {"objective": "binary", "num_leaves": 4, "verbose": -1, "seed": 1, "num_threads": 1},
        lgb.Dataset(x, y),
        num_boost_round=5,
    ).save_model(str(HERE / "lightgbm_5_trees.txt"))

    d = xgb.DMatrix(x, label=y)
    common = {"objective": "binary:logistic", "seed": 1, "nthread": 1}
    tree = xgb.train({**common, "max_depth": 2}, d, 3)
    raw = bytes(tree.save_raw("json"))
    (HERE / "xgboost_bom.json").write_bytes(BOM + raw)
    xgb.train({**common, "booster": "gblinear"}, d, 3).save_model(str(HERE / "xgboost_gblinear.json"))
    xgb.train({**common, "booster": "dart", "max_depth": 2, "rate_drop": 0.5}, d, 3).save_model(
        str(HERE / "xgboost_dart.json")
    )


def lightgbm_variants():
    """(name, text, whether LightGBM loads it) for the edits refused.rs makes."""
    text = (HERE / "lightgbm_5_trees.txt").read_text()
    sizes_line = next(l for l in text.splitlines() if l.startswith("tree_sizes="))
    sizes = sizes_line.removeprefix("tree_sizes=").split(" ")

    def with_sizes(new):
        return text.replace(sizes_line, "tree_sizes=" + " ".join(new), 1)

    end = text.index("end of trees") + len("end of trees")
    return [
        ("cut before Tree=3", text[: text.index("Tree=3")], False),
        ("tree 1 one byte late in tree_sizes", with_sizes([str(int(sizes[0]) + 1)] + sizes[1:]), False),
        ("CRLF line endings", text.replace("\n", "\r\n"), False),
        ("cut right after `end of trees`", text[:end], True),
        ("a wrong size for the last tree", with_sizes(sizes[:-1] + ["100"]), True),
        ("no tree_sizes line", text.replace(sizes_line + "\n", "", 1), True),
    ]


def load_in_child(kind, path):
    """Whether the reference library loads the file (LightGBM: and predicts), in a child process."""
    code = {
        "lightgbm": "import lightgbm as lgb, numpy as np, sys\n"
        "lgb.Booster(model_file=sys.argv[1]).predict(np.zeros((1, 3)))",
        # The message XGBoost raises quotes the file's first byte, which Python
        # cannot decode: ask the C API, as the Python package would.
        "xgboost": "import ctypes, sys\nfrom xgboost.core import _LIB, c_str\n"
        "h = ctypes.c_void_p()\n_LIB.XGBoosterCreate(None, ctypes.c_uint64(0), ctypes.byref(h))\n"
        "if _LIB.XGBoosterLoadModel(h, c_str(sys.argv[1])) != 0:\n"
        "    sys.exit(_LIB.XGBGetLastError().decode('utf-8', 'replace').splitlines()[0])",
    }[kind]
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, timeout=120)
    lines = r.stderr.decode("utf-8", "replace").strip().splitlines()
    said = [l for l in lines if "Fatal" in l or "Check failed" in l] or lines
    return r.returncode == 0, said[-1:]


def check():
    with tempfile.TemporaryDirectory() as tmp:
        cases = []
        for i, (name, text, loads) in enumerate(lightgbm_variants()):
            path = pathlib.Path(tmp) / f"lightgbm_{i}.txt"
            path.write_bytes(text.encode())
            cases.append(("lightgbm", path, f"LightGBM, {name}", loads))
        cases.append(("xgboost", HERE / "xgboost_bom.json", "XGBoost, a BOM before the JSON", False))
        for kind, path, name, expected in cases:
            loaded, last = load_in_child(kind, path)
            print(f"{name}: {'loaded' if loaded else 'refused'} {last}")
            if loaded != expected:
                sys.exit(f"{name}: refused.rs expects the reference to {'load' if expected else 'refuse'} it")


if __name__ == "__main__":
    generate()
    check()
