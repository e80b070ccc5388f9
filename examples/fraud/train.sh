#!/usr/bin/env bash
# The fraud example end to end: generate transactions, compute features with
# the pipeline's own transform component, train, build the pipeline, and
# profile the training data through each pipeline (the reference drift is
# judged against). Needs Python 3 with examples/fraud/requirements.txt (a
# venv is made here). Writes examples/fraud/model/ and the profile.json of
# examples/fraud and examples/fraud/logistic (all committed) and, in $WORK,
# the data.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${WORK:-target/fraud-example}
mkdir -p "$WORK"

cargo build --release -p edgescore --bin edgescore --example fraud_generate
BIN=target/release/edgescore
GEN=target/release/examples/fraud_generate

# 60 days to train on, the following 14 days held out; the same cards.
$GEN --seed 1 --days 60 --output "$WORK/train.csv"
$GEN --seed 1 --start-day 60 --days 14 --output "$WORK/holdout.csv"

$BIN build --transform examples/fraud/transform.toml --output "$WORK/transform.wasm"
$BIN transform --transform "$WORK/transform.wasm" --input "$WORK/train.csv" --output "$WORK/train_features.csv"
$BIN transform --transform "$WORK/transform.wasm" --input "$WORK/holdout.csv" --output "$WORK/holdout_features.csv"

if [ ! -x "$WORK/venv/bin/python" ]; then
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install --quiet -r examples/fraud/requirements.txt
fi
"$WORK/venv/bin/python" examples/fraud/train.py \
    --train "$WORK/train_features.csv" --holdout "$WORK/holdout_features.csv" \
    --out examples/fraud/model

# The reference profiles, made with each pipeline's own transform and model
# (bound to the model file: made again whenever the model changes).
for pipeline in examples/fraud examples/fraud/logistic; do
    $BIN profile --pipeline "$pipeline" --input "$WORK/train.csv" --output "$pipeline/profile.json"
done

echo "now: $BIN eval --pipeline examples/fraud/pipeline --input $WORK/holdout.csv --label is_fraud"
