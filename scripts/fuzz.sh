#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) each, one after another,
# and prints the executions and coverage libFuzzer reports for each.
#
#   scripts/fuzz.sh [SECONDS] [TARGET ...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). libFuzzer needs unstable
# rustc flags; RUSTC_BOOTSTRAP=1 allows them on the stable toolchain. Built
# without a sanitizer (-s none): our code is safe Rust and the targets hunt
# panics, hangs (-timeout=10) and runaway memory (-rss_limit_mb=2048).
# Crashes land in fuzz/artifacts/TARGET/; new inputs grow fuzz/corpus/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(spec_parser csv_loader npz_loader model_loader text_reader model_metadata array_checks)
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none
mkdir -p logs
status=0
for t in "${targets[@]}"; do
  log="logs/$t.log"
  echo "== $t: ${seconds}s"
  if ! cargo fuzz run -s none "$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    status=1
    echo "   FAILED: see fuzz/$log and fuzz/artifacts/$t/"
  fi
  grep -E "^#[0-9]+.*(DONE|pulse)" "$log" | tail -1 || true
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" || true
done
exit $status
