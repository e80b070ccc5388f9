#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/, cargo-fuzz and libFuzzer on the stable
# toolchain: --sanitizer none, debug assertions and overflow checks on) and
# runs each for a given wall time, from its committed seeds (fuzz/corpus/<t>)
# and a working corpus that grows from run to run (target/fuzz-corpus/<t>).
#
#   scripts/fuzz.sh [--seconds N | --cpu-seconds N] [--jobs J] [--smoke] [target...]
#
#   --seconds N      wall seconds per target (default 60)
#   --cpu-seconds N  run each target until it has used N CPU seconds (in runs
#                    of at most 30 wall minutes, each a ledger line): a busy or
#                    `nice`d machine still gives each target its share
#   --jobs J         libFuzzer workers per target (-fork=J; default 1)
#   --smoke          a few seconds per target: what CI runs so the targets keep building
#   target...        default: every target of fuzz/Cargo.toml
#
# A panic, an overflow, a hang past 10 s or more than 2 GiB of memory is a
# finding: its reproducer lands in target/fuzz-runs/artifacts/<t>/ and the
# script exits non-zero after naming it. Each target's run appends a line to
# target/fuzz-runs/ledger.tsv: date, target, commit, wall seconds, CPU
# seconds (user + system of libFuzzer and its workers), executions, findings.
# Reproduce one with: target/fuzz/x86_64-unknown-linux-gnu/release/<t> <file>
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=60
cpu_seconds=0
jobs=1
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --cpu-seconds) cpu_seconds=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --smoke) seconds=5; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^edgescore-fuzz$')
fi

# cargo-fuzz, pinned, installed once into a folder named by its version.
cargo_fuzz_version=0.13.2
tools=$root/target/tools/cargo-fuzz-$cargo_fuzz_version
if [ ! -x "$tools/bin/cargo-fuzz" ]; then
    CARGO_TARGET_DIR=$root/target/tools/cargo-fuzz-build cargo install cargo-fuzz \
        --version "$cargo_fuzz_version" --locked --root "$tools"
    rm -rf "$root/target/tools/cargo-fuzz-build"
fi
export PATH=$tools/bin:$PATH

target_dir=$root/target/fuzz
triple=$(rustc -vV | sed -n 's/^host: //p')
cargo fuzz build --fuzz-dir fuzz --sanitizer none --debug-assertions --target-dir "$target_dir"

runs=$root/target/fuzz-runs
ledger=$runs/ledger.tsv
mkdir -p "$runs"
[ -s "$ledger" ] || printf 'date\ttarget\tcommit\twall_s\tcpu_s\texecutions\tfindings\n' > "$ledger"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit=$commit+changes

findings=()
# Scratch files of this invocation: another run of the script may be going.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# One run of target $1 for $2 wall seconds; sets `used` (CPU seconds).
run_target() {
    local t=$1 wall_limit=$2
    local binary=$target_dir/$triple/release/$t
    [ -x "$binary" ] || { echo "no fuzz target $t (fuzz/Cargo.toml names them)" >&2; exit 2; }
    local corpus=$root/target/fuzz-corpus/$t artifacts=$runs/artifacts/$t log=$runs/$t.$$.log
    mkdir -p "$corpus" "$artifacts" "$root/fuzz/corpus/$t"
    find "$artifacts" -type f | sort > "$scratch/$t.before"
    echo "== fuzz $t: ${wall_limit}s, $jobs worker(s)"
    local started wall cpu executions new
    started=$(date +%s)
    # Fork mode, even for one worker: a finding is written and counted, and
    # the run goes on for its time. Bash's `time` gives the CPU of the
    # process and every worker it waited for.
    TIMEFORMAT='%3U %3S'
    { time "$binary" -fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$wall_limit" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$corpus" "$root/fuzz/corpus/$t" > "$log" 2>&1 ; } \
        2> "$scratch/$t.cpu" || true
    wall=$(( $(date +%s) - started ))
    cpu=$(awk '{ printf "%.1f", $1 + $2 }' "$scratch/$t.cpu")
    used=${cpu%.*}
    executions=$(grep -aoE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    find "$artifacts" -type f | sort > "$scratch/$t.after"
    mapfile -t fresh < <(comm -13 "$scratch/$t.before" "$scratch/$t.after")
    new=${#fresh[@]}
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$t" "$commit" \
        "$wall" "$cpu" "${executions:-0}" "$new" >> "$ledger"
    echo "   ${wall}s wall, ${cpu}s CPU, ${executions:-0} executions, $new finding(s)"
    if [ "$new" -gt 0 ]; then
        for file in "${fresh[@]}"; do findings+=("$t: $file"); done
        grep -a -m1 -A3 'panicked at' "$log" || tail -40 "$log"
    elif [ "${executions:-0}" -eq 0 ]; then
        tail -40 "$log"
        echo "fuzz target $t ran no input" >&2
        exit 1
    fi
    # The last run's log of each target: target/fuzz-runs/<t>.log.
    mv "$log" "$runs/$t.log"
}

for t in "${targets[@]}"; do
    if [ "$cpu_seconds" -eq 0 ]; then
        run_target "$t" "$seconds"
        continue
    fi
    # At most 24 runs: a machine too busy to give the target its CPU still
    # moves on to the next one.
    total=0
    chunks=0
    while [ "$total" -lt "$cpu_seconds" ] && [ "$chunks" -lt 24 ]; do
        left=$(( cpu_seconds - total ))
        run_target "$t" $(( left < 60 ? 60 : (left > 1800 ? 1800 : left) ))
        total=$(( total + used ))
        chunks=$(( chunks + 1 ))
    done
    echo "   $t: ${total}s CPU in all"
done

if [ ${#findings[@]} -gt 0 ]; then
    echo "== findings (reproduce: $target_dir/$triple/release/<target> <file>)"
    printf '  %s\n' "${findings[@]}"
    exit 1
fi
echo "== fuzz: ${#targets[@]} target(s), no finding"
