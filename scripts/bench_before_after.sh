#!/usr/bin/env bash
# The component benchmark of an earlier commit and of the working tree, run
# in alternating rounds on this machine (see BENCHMARKS.md, "The float64
# boundary"). Usage: scripts/bench_before_after.sh <commit> [rounds]
set -euo pipefail
commit=${1:?usage: $0 <commit> [rounds]}
rounds=${2:-8}
here=$(cd "$(dirname "$0")/.." && pwd)
# OLD_DIR keeps the earlier commit's worktree and build between runs (the
# build takes ~30 min here): it holds tree/ (a worktree of <commit>) and target/.
if [ -n "${OLD_DIR:-}" ]; then
    old=$OLD_DIR
    [ -d "$old/tree" ] || git -C "$here" worktree add --detach "$old/tree" "$commit" >/dev/null
else
    old=$(mktemp -d)
    trap 'git -C "$here" worktree remove --force "$old/tree" >/dev/null 2>&1 || true; rm -rf "$old"' EXIT
    git -C "$here" worktree add --detach "$old/tree" "$commit" >/dev/null
fi
filter='component_vs_native/(native|component)/(1|10000)$'
bench_binary() { # <tree> <target dir>: builds, prints the bench binary's path
    # The bench moved from the `edgescore` package to `edgescore-runtime`.
    local package=edgescore
    [ -d "$1/host/runtime" ] && package=edgescore-runtime
    (cd "$1" && CARGO_TARGET_DIR=$2 cargo bench -p $package --bench component --no-run --message-format=json 2>/dev/null) |
        sed -n 's/.*"executable":"\([^"]*component-[^"]*\)".*/\1/p' | tail -1
}
# Separate target directories: cargo names path crates by their place in
# the workspace, so two checkouts sharing one would reuse each other's.
new_bin=$(bench_binary "$here" "$here/target")
old_bin=$(bench_binary "$old/tree" "$old/target")
for round in $(seq 1 "$rounds"); do
    for which in before after; do
        if [ $which = before ]; then bin=$old_bin; dir=$old/tree; else bin=$new_bin; dir=$here; fi
        echo "=== round $round: $which"
        (cd "$dir" && taskset -c 1 "$bin" --bench "$filter" --noplot \
            --measurement-time 2 --sample-size 10 --warm-up-time 1 2>&1 |
            grep -E "^component_vs_native|time:" | grep -v "%")
    done
done
