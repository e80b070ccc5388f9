"""Makes the drift golden cases with numpy (not our code): for each case,
reference and current values, the reference-quantile edges numpy computes
(`np.quantile`, the default linear method, at i / bins), the counts per
slot (`np.searchsorted`), PSI with empty slots at 1e-4 and the
Jensen-Shannon distance (natural log), written to `cases.json`.

Slots: numeric: below the minimum, one per bin (edges[i] <= x <
edges[i + 1], the last closed), above the maximum, missing (NaN);
categorical: one per reference category, other, missing.

Run: python -m venv v && v/bin/pip install -r requirements.txt &&
v/bin/python generate.py
"""

import json
import math
from pathlib import Path

import numpy as np

EPSILON = 1e-4


def numeric_edges(reference, bins):
    finite = np.sort(reference[np.isfinite(reference)])
    qs = np.quantile(finite, np.arange(1, bins) / bins)
    edges = np.concatenate([[finite[0]], qs, [finite[-1]]])
    return np.unique(edges)


def numeric_counts(values, edges):
    counts = np.zeros(len(edges) - 1 + 3 if len(edges) > 1 else 4, dtype=np.int64)
    slots = len(counts)
    inner = edges[1:-1]
    for x in values:
        if math.isnan(x):
            counts[slots - 1] += 1
        elif x < edges[0]:
            counts[0] += 1
        elif x > edges[-1]:
            counts[slots - 2] += 1
        else:
            counts[1 + np.searchsorted(inner, x, side="right")] += 1
    return counts


def categorical_counts(values, categories):
    counts = np.zeros(len(categories) + 2, dtype=np.int64)
    index = {c: i for i, c in enumerate(categories)}
    for x in values:
        if math.isnan(x):
            counts[-1] += 1
        elif x in index:
            counts[index[x]] += 1
        else:
            counts[-2] += 1
    return counts


def psi(reference, current):
    r = reference / reference.sum()
    c = current / current.sum()
    r = np.where(reference == 0, EPSILON, r)
    c = np.where(current == 0, EPSILON, c)
    return float(np.sum((c - r) * np.log(c / r)))


def jensen_shannon(reference, current):
    p = reference / reference.sum()
    q = current / current.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return _js(p, q, m)


def _js(p, q, m):
    left = np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1) / m), 0.0))
    right = np.sum(np.where(q > 0, q * np.log(np.where(q > 0, q, 1) / m), 0.0))
    return float(np.sqrt(max((left + right) / 2, 0.0)))


def values_json(values):
    return [None if math.isnan(x) else float(x) for x in values]


def case(name, kind, reference, current, bins=10):
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    out = {"name": name, "kind": kind, "bins": bins}
    if kind == "numeric":
        edges = numeric_edges(reference, bins)
        r = numeric_counts(reference, edges)
        c = numeric_counts(current, edges)
        out["edges"] = [float(e) for e in edges]
    else:
        categories = sorted(set(float(x) for x in reference if not math.isnan(x)))
        r = categorical_counts(reference, categories)
        c = categorical_counts(current, categories)
        out["categories"] = categories
    out.update(
        reference=values_json(reference),
        current=values_json(current),
        reference_counts=[int(x) for x in r],
        current_counts=[int(x) for x in c],
        psi=psi(r, c),
        psi_self=psi(r, r),
        jensen_shannon=jensen_shannon(r, c),
    )
    return out


def main():
    rng = np.random.default_rng(20261130)
    amounts = rng.lognormal(3.5, 1.1, 2000)
    cases = [
        case("lognormal amounts, the same law", "numeric", amounts, rng.lognormal(3.5, 1.1, 1500)),
        case("lognormal amounts, shifted x3", "numeric", amounts, rng.lognormal(3.5, 1.1, 1500) * 3),
        case("normal, 20 bins, slight shift", "numeric", rng.normal(0, 1, 2500), rng.normal(0.15, 1, 1500), bins=20),
        case(
            "counts with many zeros and missing values",
            "numeric",
            np.where(rng.random(3000) < 0.1, np.nan, rng.poisson(0.4, 3000)),
            np.where(rng.random(2000) < 0.3, np.nan, rng.poisson(1.5, 2000)),
        ),
        case("a constant reference", "numeric", np.full(500, 7.0), rng.normal(7, 1, 500)),
        case("one-hot flag", "categorical", (rng.random(4000) < 0.3) * 1.0, (rng.random(3000) < 0.6) * 1.0),
        case(
            "weekday codes with an unseen code and missing",
            "categorical",
            rng.integers(0, 6, 4000) * 1.0,
            np.where(rng.random(3000) < 0.05, np.nan, rng.integers(0, 7, 3000) * 1.0),
        ),
        case("disjoint categories", "categorical", np.zeros(100), np.ones(100)),
    ]
    out = Path(__file__).with_name("cases.json")
    out.write_text(json.dumps({"numpy": np.__version__, "cases": cases}) + "\n")
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()
