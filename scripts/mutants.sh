#!/usr/bin/env bash
# A round-robin mutation sample of synapse-nn and synapse-train (issue 26),
# each package mutated and tested with its own tests (unit and integration
# tests, `cargo test --package P --lib --tests`), by cargo-mutants
# (`cargo install cargo-mutants`, 27.1 measured):
#
#   scripts/mutants.sh [K] [N] [PACKAGE...]
#
# runs shard K of N (default 0 of 16) of each package and prints, per
# package, caught / missed / unviable / timeout and the score, caught over
# caught + missed (a timeout is a mutant the tests stopped, listed apart).
# N = 16 gives synapse-train about 122 mutants a shard (1,952 listed at
# 8fc1434); synapse-nn lists 4,072, so N = 32 gives it about 127. The lists,
# so the shards' members, move as the code does.
# Report shards you did not write tests against.
#
# cargo-mutants finds files through `mod` items: the element kinds'
# modules are plain `mod` lines above `registry!` in `elements/mod.rs` for
# that reason (inside the macro it never saw them).
#
# Time: each viable mutant rebuilds the package's library and its one test
# binary and runs them: about 25 s for synapse-train on two cores (a
# timeout costs 300 s), so a shard is 35 to 60 minutes there. Doc tests
# are left out (each compiles and links on its own, minutes per mutant);
# DOCTESTS=1 adds them.
#
# It mutates the source tree in place (`--in-place`, reusing the build
# folder instead of copying the tree and building candle again), so it
# refuses a tree with uncommitted changes and checks the tree is clean after:
# run it in a worktree of its own (`git worktree add ../mutants-run HEAD`).
# CARGO_TARGET_DIR is honoured (a shared build folder). Results go to
# mutants.out/<package>-<K>of<N>/ (ignored by git).
#
# A mutant that cannot change a result (a work split, a path with the same
# output) gets a test of the choice, or an `exclude_re` in
# .cargo/mutants.toml with the reason.
set -euo pipefail

K=${1:-0}
N=${2:-16}
shift $(( $# < 2 ? $# : 2 ))
PACKAGES=("$@")
[ ${#PACKAGES[@]} -eq 0 ] && PACKAGES=(synapse-nn synapse-train)

cd "$(git rev-parse --show-toplevel)"
if ! git diff --quiet HEAD --; then
    echo "error: uncommitted changes; cargo-mutants --in-place mutates this tree" >&2
    exit 1
fi

TEST_ARGS=(--cargo-test-arg=--lib --cargo-test-arg=--tests)
[ "${DOCTESTS:-0}" = 1 ] && TEST_ARGS=()

status=0
for P in "${PACKAGES[@]}"; do
    OUT="mutants.out/$P-${K}of$N"
    mkdir -p "$OUT"
    start=$(date +%s)
    # Exit status 2 means survivors, 3 timeouts: the counts below say.
    nice -n 19 cargo mutants --package "$P" --shard "$K/$N" --sharding round-robin \
        --timeout 300 --build-timeout 900 --baseline skip --in-place \
        "${TEST_ARGS[@]}" --output "$OUT" || true
    if ! git diff --quiet HEAD --; then
        echo "error: the tree is not clean after cargo-mutants: git diff" >&2
        git diff --stat >&2
        exit 1
    fi
    d="$OUT/mutants.out"
    count() { if [ -s "$d/$1.txt" ]; then grep -c . "$d/$1.txt"; else echo 0; fi; }
    caught=$(count caught) missed=$(count missed) unviable=$(count unviable) timeout=$(count timeout)
    viable=$((caught + missed))
    score=$(awk -v c="$caught" -v v="$viable" 'BEGIN { if (v) printf "%.1f%%", 100 * c / v; else printf "n/a" }')
    echo "$P shard $K/$N: caught $caught, missed $missed, unviable $unviable, timeout $timeout;" \
        "score $caught/$viable = $score ($(( $(date +%s) - start )) s)"
    if [ "$missed" -gt 0 ]; then
        sed 's/^/  missed: /' "$d/missed.txt"
        status=2
    fi
done
exit $status
