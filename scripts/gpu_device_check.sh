#!/usr/bin/env bash
# The GPU backend on a real GPU (issue 15): exactness, then speed. Run on a
# machine with an NVIDIA GPU and its Vulkan driver, from the repository root,
# with a stripped release `edgescore` and the GPU golden test binary
# gzipped in .devbin/ (see BENCHMARKS.md for how they were made) and the
# Vulkan loader's .deb in .gl/ where the machine lacks it. Writes its logs
# to $OUT (default ./gpu-check).
set -uo pipefail
OUT=${OUT:-./gpu-check}
mkdir -p "$OUT"
for f in .gl/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -e "$icd" ] || icd=$(find / -xdev -name 'nvidia_icd*.json' 2>/dev/null | head -1)
[ -n "$icd" ] && export VK_DRIVER_FILES=$icd
egl=$(find / -xdev -name '10_nvidia.json' -path '*egl_vendor*' 2>/dev/null | head -1)
[ -n "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
echo "Vulkan driver file: ${icd:-none found}"
# The golden test binary finds the cases from the path it was built at.
mkdir -p /work && [ -e /work/main ] || ln -s "$PWD" /work/main
gunzip -c .devbin/edgescore.gz > /tmp/edgescore && chmod +x /tmp/edgescore
gunzip -c .devbin/gpu_golden.gz > /tmp/gpu_golden && chmod +x /tmp/gpu_golden
nvidia-smi -L | tee "$OUT/gpu.txt"

echo "== exactness: every golden case, and the edge values, GPU against native bits"
for threads in 1 2 8; do
    EDGESCORE_REQUIRE_GPU=1 timeout 100 /tmp/gpu_golden --test-threads $threads > "$OUT/golden.log" 2>&1
    echo "golden tests on $threads threads: exit $?, $(grep '^test result' "$OUT/golden.log")"
done

echo "== speed: the 300-tree depth-8 XGBoost model and the 300-tree LightGBM model, 40 features"
zcat models/benches/data/xgboost_300x8_40f.json.gz > /tmp/x300.json
zcat models/benches/data/lightgbm_300x8_40f.txt.gz > /tmp/l300.txt
zcat models/benches/data/rows_10k_40f.csv.gz > /tmp/rows.csv
# The LightGBM benchmark model names its features Column_0..39.
{ seq -s, -f 'Column_%g' 0 39; tail -n +2 /tmp/rows.csv; } > /tmp/rows_lgb.csv
# bench MODEL INPUT BACKEND ROWS
bench() {
    timeout 240 /tmp/edgescore bench --model "$1" --input "$2" --backend "$3" --rows "$4" \
        --threads 16 --single-row-calls 1000 --json 2>&1 | grep -v XDG_RUNTIME | tail -1 | tee -a "$OUT/bench.jsonl"
}
# SKIP_NATIVE=1 leaves out the CPU figures (to spend the device's time on the GPU).
[ -z "${SKIP_NATIVE:-}" ] && bench /tmp/x300.json /tmp/rows.csv native 10000000
for rows in 1000000 10000000 100000000; do
    bench /tmp/x300.json /tmp/rows.csv gpu $rows
done
bench /tmp/l300.txt /tmp/rows_lgb.csv gpu 10000000
[ -z "${SKIP_NATIVE:-}" ] && bench /tmp/l300.txt /tmp/rows_lgb.csv native 10000000
echo "== done"
