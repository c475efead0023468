#!/usr/bin/env bash
# Data-parallel scaling on one machine (issue 14): the perf bench's MLP
# (784-256(relu)-10, cross-entropy, SGD, batch 128, f32, ROWS rows of the
# bench's MNIST-shaped data) trained by `synapse train`, alone and under mpirun.
#
#   scripts/bench_mpi.sh            # ROWS=60000 ROUNDS=3 by default
#
# Training time = whole process with 1 + EPOCHS epochs minus with 1 epoch, so
# start-up, loading and the first epoch's warm-up drop out. Medians of ROUNDS.
# Rows:  plain 1 thread | plain 2 threads | --distributed W=1 (2 threads) |
#        --distributed W=2 (1 thread each, one core each).
# Scaling efficiency of W=2 = its rows/s / (2 x plain 1 thread's rows/s).
# Needs OpenMPI (apt-get install openmpi-bin libopenmpi-dev libclang-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${ROWS:-60000}
epochs=${EPOCHS:-3}
rounds=${ROUNDS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

echo "building (release, --features mpi)..." >&2
cargo build --release -q -p synapse-cli --features mpi
bench=$(cargo bench --bench synapse_bench --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*synapse_bench-[^)]*\)).*/\1/p' | tail -1)
synapse=${CARGO_TARGET_DIR:-target}/release/synapse
"$bench" make-npz "$work/d.npz" "$rows"

# seconds EPOCHS CMD...: wall seconds of one `CMD train ... --epochs EPOCHS` process.
seconds() {
  local e=$1 start=$EPOCHREALTIME
  shift
  "$@" train --data "$work/d.npz" --arch 'linear(784,256), relu, linear(256,10)' \
    --loss cross-entropy --optimizer sgd --lr 0.01 --batch-size 128 --epochs "$e" \
    --quiet --out "$work/m.safetensors" "${extra[@]}" >/dev/null || return 1
  awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f\n", b - a }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# train NAME THREADS CMD...: one round of NAME: training seconds of EPOCHS epochs.
train() {
  local name=$1 threads=$2 one many
  shift 2
  one=$(RAYON_NUM_THREADS=$threads seconds 1 "$@")
  many=$(RAYON_NUM_THREADS=$threads seconds $((1 + epochs)) "$@")
  awk -v a="$one" -v b="$many" 'BEGIN { printf "%.4f\n", b - a }' >>"$work/$name"
}

mpi=(mpirun -q -x RAYON_NUM_THREADS)
for r in $(seq "$rounds"); do
  echo "round $r/$rounds" >&2
  extra=()
  train plain1 1 "$synapse"
  train plain2 2 "$synapse"
  extra=(--distributed)
  train w1 2 "${mpi[@]}" --bind-to none -np 1 "$synapse"
  train w2 1 "${mpi[@]}" --bind-to core -np 2 "$synapse"
done

steps=$(( (rows + 127) / 128 * epochs ))
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo); $rows rows x $epochs epochs ($steps steps), medians of $rounds"
echo "| run | threads per rank | training s | rows/s | ms per step | efficiency |"
echo "| --- | --- | --- | --- | --- | --- |"
base=$(median <"$work/plain1")
for name in plain1 plain2 w1 w2; do
  s=$(median <"$work/$name")
  case $name in
    plain1) label="plain"; t=1; w=1 ;;
    plain2) label="plain"; t=2; w=1 ;;
    w1) label="--distributed, W=1"; t=2; w=1 ;;
    w2) label="--distributed, W=2"; t=1; w=2 ;;
  esac
  awk -v l="$label" -v t="$t" -v s="$s" -v n="$rows" -v e="$epochs" -v st="$steps" -v b="$base" -v w="$w" \
    'BEGIN { printf "| %s | %d | %.3f | %.0f | %.2f | %.2f |\n", l, t, s, n * e / s, 1000 * s / st, b / (w * s) }'
done
