#!/usr/bin/env bash
# The benchmarks of issue 5, side by side with numpy and PyTorch when python3
# can import them (else ours alone). Builds in release, alternates ours and
# theirs for ROUNDS rounds (default 3), prints medians and ratios.
#
#   scripts/bench.sh            # or ROUNDS=5 scripts/bench.sh
#
# A  article: 15,000 full-batch steps of the article's neuron, f64, training loop only
# B  MLP 784-256(relu)-10, cross-entropy, SGD, batch 128, f32, 60,000 rows: rows/s of
#    the training loop with the data loaded, 1 and 2 threads; and the whole process of
#    `synapse train` on the same data as .npz against a PyTorch script loading that file
# C  `synapse predict` of one row from the saved B model, whole process
# D  peak RSS of B's `synapse train` against the size of the .npz it loads
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building (release)..." >&2
bench=$(cargo bench --bench synapse_bench --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*synapse_bench-[^)]*\)).*/\1/p' | tail -1)
cargo build --release -q -p synapse-cli
synapse=${CARGO_TARGET_DIR:-target}/release/synapse
[ -x "$bench" ] || { echo "error: the bench binary was not built" >&2; exit 1; }

have_numpy=0; have_torch=0
python3 -c 'import numpy' 2>/dev/null && have_numpy=1
python3 -c 'import torch' 2>/dev/null && have_torch=1

# value NAME OUTPUT: the number on the line starting with NAME.
value() { awk -v n="$1" '$1 == n { print $2 }' <<<"$2"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
# seconds CMD...: "elapsed-seconds peak-RSS-KB" of one whole process.
seconds() {
  local start=$EPOCHREALTIME
  /usr/bin/time -f '%M' -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; return 1; }
  awk -v a="$start" -v b="$EPOCHREALTIME" -v m="$(cat "$work/time")" 'BEGIN { printf "%.4f %s\n", b - a, m }'
}

"$bench" make-npz "$work/mnist_like.npz" 60000
npz_mb=$(awk '{ printf "%.1f", $5 / 1048576 }' < <(ls -l "$work/mnist_like.npz"))
train_args=(train --data "$work/mnist_like.npz" --arch 'linear(784,256), relu, linear(256,10)' --loss cross-entropy
  --optimizer sgd --lr 0.01 --batch-size 128 --epochs 1 --quiet --out "$work/mlp.safetensors")
row=$(python3 -c 'print(",".join(["0.5"] * 784))' 2>/dev/null || printf '0.5%.0s,' $(seq 784) | sed 's/,$//')

for r in $(seq "$rounds"); do
  echo "round $r/$rounds" >&2
  value article_train_seconds "$(RAYON_NUM_THREADS=1 "$bench" article 3)" >>"$work/a_ours"
  [ $have_numpy = 1 ] && value article_numpy_seconds "$(python3 scripts/bench_ref.py article_numpy)" >>"$work/a_numpy"
  [ $have_torch = 1 ] && value article_torch_seconds "$(python3 scripts/bench_ref.py article_torch)" >>"$work/a_torch"
  for t in 1 2; do
    value mlp_rows_per_second "$(RAYON_NUM_THREADS=$t "$bench" mlp 60000 2)" >>"$work/b_ours_$t"
    [ $have_torch = 1 ] && value mlp_torch_rows_per_second "$(python3 scripts/bench_ref.py mlp_torch $t 60000 2)" >>"$work/b_torch_$t"
  done
  read -r s rss < <(seconds "$synapse" "${train_args[@]}")
  echo "$s" >>"$work/b_proc_ours"; echo "$rss" >>"$work/d_rss"
  if [ $have_torch = 1 ]; then
    read -r s _ < <(seconds python3 scripts/bench_ref.py train_torch 2 "$work/mnist_like.npz")
    echo "$s" >>"$work/b_proc_torch"
  fi
  for _ in 1 2 3 4 5; do
    read -r s _ < <(seconds "$synapse" predict --model "$work/mlp.safetensors" --input "$row")
    echo "$s" >>"$work/c_predict"
  done
done

m() { [ -s "$work/$1" ] && median <"$work/$1" || echo ""; }
a_ours=$(m a_ours); a_np=$(m a_numpy); a_t=$(m a_torch)
b1=$(m b_ours_1); b1t=$(m b_torch_1); b2=$(m b_ours_2); b2t=$(m b_torch_2)
bp=$(m b_proc_ours); bpt=$(m b_proc_torch); c=$(m c_predict); d=$(m d_rss)
d_mb=$(awk -v k="$d" 'BEGIN { printf "%.1f", k / 1024 }')

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); $rounds rounds, medians"
echo
echo "| goal | work | synapse | numpy | PyTorch | ratio |"
echo "| --- | --- | --- | --- | --- | --- |"
echo "| A | article, 15,000 steps f64 (s, 1 thread) | $a_ours | ${a_np:--} | ${a_t:--} | synapse/numpy $(ratio "$a_ours" "$a_np"), PyTorch/synapse $(ratio "$a_t" "$a_ours") |"
echo "| B | MLP training loop, rows/s, 1 thread | $b1 | - | ${b1t:--} | synapse/PyTorch $(ratio "$b1" "$b1t") |"
echo "| B | MLP training loop, rows/s, 2 threads | $b2 | - | ${b2t:--} | synapse/PyTorch $(ratio "$b2" "$b2t") |"
echo "| B | whole process: load .npz + 1 epoch (s) | $bp | - | ${bpt:--} | synapse/PyTorch $(ratio "$bp" "$bpt") |"
echo "| C | \`synapse predict\` one row, whole process (s) | $c | - | - | goal < 0.020 |"
echo "| D | peak RSS of B's \`synapse train\` (MB) | $d_mb | - | - | $(ratio "$d_mb" "$npz_mb")x the ${npz_mb} MB it loads, goal < 2 |"
