"""Trains the fraud example's models on features made by the pipeline's own
transform component (`edgescore transform`), so training and serving compute
features identically.

    python3 examples/fraud/train.py --train train_features.csv \
        --holdout holdout_features.csv --out examples/fraud/model

Writes:
  xgboost.json   XGBoost (binary:logistic, class-weighted), served by the pipeline
  logistic.json  a class-weighted logistic regression on standardized
                 features, in edgescore's linear format: the baseline
  metrics.json   scikit-learn's metrics of both on the held-out set, the
                 reference `edgescore eval` is checked against

examples/fraud/train.sh runs the whole chain (generate, transform, train, build).
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score
from sklearn.preprocessing import StandardScaler

LABEL = "is_fraud"
NOT_FEATURES = {"transaction_id", "is_fraud", "pattern"}
SEED = 7


def load(path):
    frame = pd.read_csv(path)
    names = [c for c in frame.columns if c not in NOT_FEATURES]
    # float32: the type every edgescore path scores in.
    return frame[names].to_numpy(dtype=np.float32), frame[LABEL].to_numpy(), names


def metrics(y, score, review, block):
    out = {"roc_auc": roc_auc_score(y, score), "pr_auc": average_precision_score(y, score)}
    for name, threshold in (("review", review), ("block", block)):
        p, r, f, _ = precision_recall_fscore_support(y, score >= threshold, average="binary", zero_division=0)
        out[name] = {"threshold": threshold, "precision": p, "recall": r, "f1": f}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", required=True)
    parser.add_argument("--holdout", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--review", type=float, default=0.5)
    parser.add_argument("--block", type=float, default=0.9)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    X, y, names = load(args.train)
    Xh, yh, names_h = load(args.holdout)
    assert names == names_h, "train and holdout features differ"
    positives = int(y.sum())
    print(f"train: {len(y)} rows, {positives} fraud ({100 * positives / len(y):.2f}%); holdout: {len(yh)} rows, {int(yh.sum())} fraud")

    # XGBoost with class weights: each fraud counts as much as all legit / all fraud.
    weight = (len(y) - positives) / positives
    params = {
        "objective": "binary:logistic",
        "eval_metric": "aucpr",
        "max_depth": 6,
        "eta": 0.1,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "min_child_weight": 5,
        "scale_pos_weight": weight,
        "tree_method": "hist",
        "seed": SEED,
        "nthread": 2,
    }
    dtrain = xgb.DMatrix(X, y, feature_names=names)
    booster = xgb.train(params, dtrain, num_boost_round=150)
    booster.save_model(str(out / "xgboost.json"))
    xgb_score = booster.predict(xgb.DMatrix(Xh, feature_names=names))

    # The logistic baseline, balanced classes, on standardized features.
    X64 = X.astype(np.float64)
    scaler = StandardScaler().fit(X64)
    logistic = LogisticRegression(class_weight="balanced", max_iter=3000).fit(scaler.transform(X64), y)
    (out / "logistic.json").write_text(json.dumps({
        "format": "edgescore-linear",
        "format_version": 1,
        "kind": "logistic",
        "feature_names": names,
        "coefficients": [float(c) for c in logistic.coef_[0]],
        "intercept": float(logistic.intercept_[0]),
        "standardize": {"mean": [float(m) for m in scaler.mean_], "scale": [float(s) for s in scaler.scale_]},
    }, indent=1) + "\n")
    logistic_score = logistic.predict_proba(scaler.transform(Xh.astype(np.float64)))[:, 1]

    report = {
        "holdout_rows": int(len(yh)),
        "holdout_positives": int(yh.sum()),
        "xgboost": metrics(yh, xgb_score, args.review, args.block),
        "logistic": metrics(yh, logistic_score, args.review, args.block),
    }
    (out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    for model in ("xgboost", "logistic"):
        m = report[model]
        print(f"{model:9s} holdout ROC-AUC {m['roc_auc']:.4f}  PR-AUC {m['pr_auc']:.4f}  "
              f"review P {m['review']['precision']:.3f} R {m['review']['recall']:.3f}  "
              f"block P {m['block']['precision']:.3f} R {m['block']['recall']:.3f}")


if __name__ == "__main__":
    main()
