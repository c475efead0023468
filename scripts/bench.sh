#!/usr/bin/env bash
# The table of issue 13 ("Speed II"): `synapse` from the command line against PyTorch
# (and the article against numpy), each side a whole process as a user runs it.
#
#   scripts/bench.sh                 # 3 rounds, medians
#   ROUNDS=1 scripts/bench.sh        # a quick run
#   ONLY=mlp scripts/bench.sh        # one part: mlp | article | cnn | seq | gemm | text
#   BASE=../old/target/release/synapse scripts/bench.sh
#                                    # before/after: every synapse run is followed by the
#                                    # same run of the BASE binary (PyTorch and numpy are
#                                    # left out, and gemm unless ONLY=gemm), the first of
#                                    # each pair alternating by round, and one table gives
#                                    # base s / synapse s
#
# Builds `synapse` in release (cargo build --release -p synapse-cli; set CARGO_TARGET_DIR
# to build elsewhere), writes random data with fixed seeds once into .npz files in a temp
# dir, then runs ROUNDS rounds. Within a round ours and the reference ALTERNATE, run by
# run, so both see the same noise; the table shows the median over the rounds.
#
# Ratio convention: PyTorch (or numpy) seconds / synapse seconds, so >= 1.00 means synapse
# is at least as fast -- except the article row, which issue 13 states the other way round
# (synapse / numpy, goal <= 0.5).
#
# 1 MLP  cross-entropy, f32, 1 epoch on random data, at 1 and 2 threads
#        (RAYON_NUM_THREADS=t for synapse, torch.set_num_threads(t) for PyTorch):
#          tabular 20-64-64-3      batch  16  Adam lr 0.001  20,000 rows
#          784-256-10              batch 128  SGD  lr 0.01   30,000 rows
#          784-1024-1024-10        batch 256  SGD  lr 0.01   10,000 rows
#          2048-4096-4096-10       batch 512  SGD  lr 0.01    2,048 rows
#        loop:  synapse = the `seconds` column of `--log` (epoch 1); PyTorch = time
#               around its training loop alone.
#        whole process: synapse = wall time of `synapse train ... --epochs 1 --quiet --out F`
#               measured here; PyTorch = timed inside scripts/bench_ref.py from just after
#               `import torch` (the imports excluded, torch._dynamo's lazy one included):
#               load the npz, build the model, train, and save it as `--out` does
#               (safetensors, fsync'd). The ratio uses that figure; the column after it
#               is PyTorch without the save.
#        peak RSS of both processes (/usr/bin/time), and the floor (issue 21): x and y as
#               stored + parameters x 4 bytes x (weights + gradients + optimizer state:
#               plain SGD 0, Adam 2) + one step's activations (the input batch, every
#               element's output, the logits' gradient) + the process itself (the peak
#               RSS of an empty run: `synapse train` on one row of one number into
#               `linear(1,2)`). RSS/floor is synapse's; the floor's parts
#               are printed under the tables (scripts/bench_ref.py floor_parts).
#        Plus `synapse predict` of one row from the 784-256-10 model, whole process
#        (goal < 0.020 s).
# 2 article  the article's neuron trained from the shell with README's flags but
#        150,000 epochs, against the article's numpy program (150,000 iterations, seed 1)
#        as a whole `python3` process. Ratio synapse / numpy, goal <= 0.5. The predictions
#        for 1,0,0 are printed beside (they should agree).
# 3 CNN  MNIST-shaped, f32, 2,048 random rows x [2048,1,28,28], 10 classes:
#        conv 1->16 3x3 pad 1, relu, maxpool 2, conv 16->32 3x3 pad 1, relu, maxpool 2,
#        flatten, linear 1568->10; batch 64, SGD lr 0.01, 1 epoch, 1 and 2 threads;
#        the MLP table's columns.
# 4 seq  issue 21's sequence rows, f32, 1 epoch of 1,024 windows of 64 tokens (vocabulary
#        65, random), batch 32, no shuffle, per-position cross-entropy, lr 0.001, 1 and 2
#        threads, the MLP table's columns (scripts/bench_ref.py SEQ_MODELS has the archs):
#          gpt   embedding(65,128), positional(64,128), 4 pre-norm blocks (layernorm +
#                causal attention(128,4); layernorm + linear 128-512, gelu, 512-128),
#                layernorm, linear(128,65); AdamW
#          lstm  embedding(65,64), lstm(64,256), linear(256,65); Adam
#          gru   the same with gru(64,256); Adam
#        Floor's activations: scripts/bench_ref.py seq_floor_parts says which tensors.
# 6 text `synapse train --text` on a 10 MB text (bench_ref.py make_text: seeded random
#        lines, 65 distinct characters), the lstm row's model, context 64, stride 4,096
#        (2,442 windows: the whole text is read and held, a sample of it trained),
#        batch 32, no shuffle, 1 thread: peak RSS against the goal text + 64 MB, and
#        characters trained per second (windows x 64 / loop seconds) against PyTorch
#        on the same windows (bench_ref.py text_torch_train).
# 5 gemm the machine's f32 product peak: the best of synapse's dense kernel, candle's
#        matmul and PyTorch's mm on 4096 x 4096 (benches/synapse_bench.rs gemm-peak,
#        bench_ref.py gemm_torch), and the 2048-4096-4096-10 MLP row's loop (run here
#        too) in GFLOP/s as a fraction of it (goal >= 0.8). Its flops per epoch:
#        2 x rows x (forward products + weight-gradient products + input-gradient
#        products but the first layer's).
#
# Without numpy or torch importable by python3 their columns print '-'. Any failing
# command prints its stderr and stops the script.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "bench.sh: $*" >&2; exit 1; }
rounds=${ROUNDS:-3}
only=${ONLY:-all}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a whole number 1 or more, got '$rounds'"
case $only in all | mlp | article | cnn | seq | gemm | text) ;;
  *) die "ONLY must be mlp, article, cnn, seq, gemm or text, got '$only'" ;; esac
part() { [ "$only" = all ] && ! { [ -n "${BASE:-}" ] && [ "$1" = gemm ]; } || [ "$only" = "$1" ]; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); $rounds round(s), medians"

echo "building (release)..." >&2
cargo build --release -q -p synapse-cli
# The paths the kernels chose on this CPU (its SIMD copy, thresholds).
echo "paths: $(cargo bench -q --bench synapse_bench -- paths)"
synapse=$(realpath "${CARGO_TARGET_DIR:-target}")/release/synapse
[ -x "$synapse" ] || die "no binary at $synapse"

have_numpy=0; have_torch=0
python3 -c 'import numpy' 2>/dev/null && have_numpy=1
python3 -c 'import numpy, torch' 2>/dev/null && have_torch=1
[ $have_numpy = 1 ] || echo "bench.sh: python3 cannot import numpy: its columns print '-'" >&2
[ $have_torch = 1 ] || echo "bench.sh: python3 cannot import torch: its columns print '-'" >&2
base=${BASE:-}
if [ -n "$base" ]; then
  base=$(realpath "$base") && [ -x "$base" ] || die "BASE: no binary at ${BASE}"
  have_numpy=0; have_torch=0
  echo "before/after: base $base against $synapse; PyTorch and numpy left out"
fi
# bins: the binaries each synapse run is made with, as "KEY=PATH": ours, then the base's.
bins=("ours=$synapse")
[ -n "$base" ] && bins+=("base=$base")

# timed CMD...: runs one whole process; sets $wall (seconds) and $rss_mb (peak RSS);
# its stdout is left in $work/out. A failure prints the command, its stderr, and stops.
timed() {
  local start=$EPOCHREALTIME
  if ! /usr/bin/time -f '%M' -o "$work/time" "$@" >"$work/out" 2>"$work/err"; then
    echo "bench.sh: this failed: $*" >&2
    cat "$work/err" >&2
    exit 1
  fi
  wall=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }')
  rss_mb=$(tail -1 "$work/time" | awk '{ printf "%.1f", $1 / 1024 }')
}
# out NAME: the value on the line `NAME value` of the last command's stdout.
out() {
  local v
  v=$(awk -v n="$1" '$1 == n { print $2 }' "$work/out")
  [ -n "$v" ] || { echo "bench.sh: no '$1' in the output:" >&2; cat "$work/out" "$work/err" >&2; exit 1; }
  echo "$v"
}
# log_seconds FILE: the `seconds` column of epoch 1 in a `--log` CSV.
log_seconds() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i }
           NR == 2 && c { print $c }' "$1"
}
# rec KEY VALUE: one measurement; med KEY: their median ('-' when none).
mkdir "$work/r"
rec() { echo "$2" >>"$work/r/$1"; }
med() {
  [ -s "$work/r/$1" ] || { echo -; return; }
  sort -g "$work/r/$1" | awk -v f="${2:-%.3f}" '{ v[NR] = $1 }
    END { printf f "\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# ratio A B: A / B, or '-' when either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }

# ---- the work -----------------------------------------------------------------------
# id | label | rows | x shape | classes | arch | optimizer | lr | batch
mlp_works=(
  "tab|tabular 20-64-64-3, batch 16, Adam, 20,000 rows|20000|20|3|linear(20,64), relu, linear(64,64), relu, linear(64,3)|adam|0.001|16"
  "m256|784-256-10, batch 128, SGD, 30,000 rows|30000|784|10|linear(784,256), relu, linear(256,10)|sgd|0.01|128"
  "m1024|784-1024-1024-10, batch 256, SGD, 10,000 rows|10000|784|10|linear(784,1024), relu, linear(1024,1024), relu, linear(1024,10)|sgd|0.01|256"
  "m4096|2048-4096-4096-10, batch 512, SGD, 2,048 rows|2048|2048|10|linear(2048,4096), relu, linear(4096,4096), relu, linear(4096,10)|sgd|0.01|512"
)
cnn_works=(
  "cnn|CNN 1x28x28, conv16-pool-conv32-pool-linear, batch 64, SGD, 2,048 rows|2048|1,28,28|10|conv2d(1,16,3,padding=1), relu, maxpool2d(2), conv2d(16,32,3,padding=1), relu, maxpool2d(2), flatten, linear(1568,10)|sgd|0.01|64"
)
seq_works=()
for m in gpt lstm gru; do
  IFS='|' read -r arch opt <<<"$(python3 scripts/bench_ref.py seq_arch $m)"
  seq_works+=("$m|$m, 1,024 x 64 tokens, batch 32, $opt|seq|64|65|$arch|$opt|0.001|32")
done
works=()
part mlp && works+=("${mlp_works[@]}")
[ "$only" = gemm ] && works+=("${mlp_works[3]}")
part cnn && works+=("${cnn_works[@]}")
part seq && works+=("${seq_works[@]}")
threads=(1 2)
article_args=(train --data examples/data/article.csv --arch 'linear(3,1,bias=false), sigmoid'
  --init numpy-uniform --seed 1 --loss sse --optimizer sgd --lr 1 --batch-size full
  --epochs 150000 --dtype f64 --quiet --out "$work/article.safetensors")

# The process itself, for the floor: an empty run's peak RSS, a training run that holds
# next to nothing (one row of one number, two weights): the code a run loads, the thread
# stacks, the allocator; the smaller of its figures on 1 and 2 threads.
python3 scripts/bench_ref.py make_npz "$work/empty.npz" 1 1 2 1 || die "could not write $work/empty.npz"
process_mb=
for t in 1 2; do
  timed env RAYON_NUM_THREADS="$t" "$synapse" train --data "$work/empty.npz" --arch 'linear(1,2)' \
    --loss cross-entropy --epochs 1 --quiet --out "$work/empty.safetensors"
  process_mb=$(awk -v a="${process_mb:-$rss_mb}" -v b="$rss_mb" 'BEGIN { print (a < b ? a : b) }')
done
seed=1
for w in "${works[@]}"; do
  IFS='|' read -r id _ rows shape classes arch opt _ batch <<<"$w"
  if [ "$rows" = seq ]; then
    echo "data: $id (1,024 windows)" >&2
    python3 scripts/bench_ref.py make_seq_npz "$work/$id.npz" 0 || die "could not write $work/$id.npz"
    python3 scripts/bench_ref.py seq_floor_parts "$work/$id.npz" "$id" "$batch" >"$work/r/$id.parts"
  else
    echo "data: $id ($rows rows)" >&2
    python3 scripts/bench_ref.py make_npz "$work/$id.npz" "$rows" "$shape" "$classes" "$seed" \
      || die "could not write $work/$id.npz"
    python3 scripts/bench_ref.py floor_parts "$work/$id.npz" "$arch" "$opt" "$shape" "$batch" \
      >"$work/r/$id.parts"
  fi
  awk -v p="$process_mb" '$1 == "total" { printf "%.1f\n", $2 + p }' "$work/r/$id.parts" >"$work/r/$id.floor"
  seed=$((seed + 1))
done
if part text; then
  echo "data: a 10 MB text" >&2
  python3 scripts/bench_ref.py make_text "$work/text.txt" 10 || die "could not write $work/text.txt"
  text_mb=$(awk -v b="$(wc -c <"$work/text.txt")" 'BEGIN { printf "%.1f", b / 1048576 }')
  text_windows=$(( ($(wc -c <"$work/text.txt") - 65) / 4096 + 1 ))
fi
predict_row=$(printf '0.5%.0s,' $(seq 784) | sed 's/,$//')

# one_work ID ARCH OPT LR BATCH T SEQ: synapse then PyTorch, once each (SEQ=seq: a
# sequence row, no shuffle on either side).
one_work() {
  local id=$1 arch=$2 opt=$3 lr=$4 batch=$5 t=$6 seq=$7
  local extra=()
  [ "$seq" = seq ] && extra=(--no-shuffle)
  local b loop
  for b in "${bins[@]}"; do
    rm -f "$work/log.csv"
    timed env RAYON_NUM_THREADS="$t" "${b#*=}" train --data "$work/$id.npz" --arch "$arch" \
      --loss cross-entropy --optimizer "$opt" --lr "$lr" --batch-size "$batch" --epochs 1 \
      "${extra[@]}" --quiet --log "$work/log.csv" --out "$work/$id.safetensors"
    rec "$id.$t.${b%%=*}_proc" "$wall"; rec "$id.$t.${b%%=*}_rss" "$rss_mb"
    loop=$(log_seconds "$work/log.csv")
    [ -n "$loop" ] || die "no seconds column in the --log file: $(cat "$work/log.csv")"
    rec "$id.$t.${b%%=*}_loop" "$loop"
  done
  if [ $have_torch = 1 ]; then
    if [ "$seq" = seq ]; then
      timed python3 scripts/bench_ref.py seq_torch_train "$t" "$work/$id.npz" "$id" "$lr" "$batch"
    else
      timed python3 scripts/bench_ref.py torch_train "$t" "$work/$id.npz" "$arch" "$opt" "$lr" "$batch"
    fi
    rec "$id.$t.torch_loop" "$(out loop_seconds)"; rec "$id.$t.torch_proc" "$(out process_seconds)"
    rec "$id.$t.torch_unsaved" "$(out unsaved_seconds)"
    rec "$id.$t.torch_rss" "$rss_mb"
  fi
}

for r in $(seq "$rounds"); do
  # Before/after: the first of each pair alternates round by round.
  [ -n "$base" ] && [ $((r % 2)) = 0 ] && bins=("base=$base" "ours=$synapse")
  [ -n "$base" ] && [ $((r % 2)) = 1 ] && bins=("ours=$synapse" "base=$base")
  if part gemm; then
    echo "round $r/$rounds: gemm peak" >&2
    for t in "${threads[@]}"; do
      RAYON_NUM_THREADS=$t cargo bench -q --bench synapse_bench -- gemm-peak 4096 >"$work/out" 2>"$work/err" \
        || { cat "$work/err" >&2; die "the gemm-peak bench failed"; }
      rec "peak.$t.kernel" "$(out gemm_peak_kernel_4096)"; rec "peak.$t.candle" "$(out gemm_peak_candle_4096)"
      if [ $have_torch = 1 ]; then
        timed python3 scripts/bench_ref.py gemm_torch "$t" 4096; rec "peak.$t.torch" "$(out gflops)"
      fi
    done
  fi
  if part text; then
    echo "round $r/$rounds: text" >&2
    IFS='|' read -r arch _ <<<"$(python3 scripts/bench_ref.py seq_arch lstm)"
    for b in "${bins[@]}"; do
      rm -f "$work/log.csv"
      timed env RAYON_NUM_THREADS=1 "${b#*=}" train --text "$work/text.txt" --context 64 --stride 4096 \
        --arch "$arch" --loss cross-entropy --optimizer adam --lr 0.001 --batch-size 32 --epochs 1 \
        --no-shuffle --quiet --log "$work/log.csv" --out "$work/text.safetensors"
      rec "text.${b%%=*}_rss" "$rss_mb"; rec "text.1.${b%%=*}_proc" "$wall"
      rec "text.1.${b%%=*}_loop" "$(log_seconds "$work/log.csv")"
      rec "text.${b%%=*}_cps" "$(awk -v w="$text_windows" -v s="$(log_seconds "$work/log.csv")" 'BEGIN { printf "%.0f", w * 64 / s }')"
    done
    if [ $have_torch = 1 ]; then
      timed python3 scripts/bench_ref.py text_torch_train 1 "$work/text.txt" lstm 64 4096 0.001 32
      rec text.torch_cps "$(out chars_per_second)"; rec text.torch_rss "$rss_mb"
    fi
  fi
  if part article; then
    echo "round $r/$rounds: article" >&2
    for b in "${bins[@]}"; do
      timed "${b#*=}" "${article_args[@]}"; rec "article.${b%%=*}" "$wall"
    done
    if [ $have_numpy = 1 ]; then
      timed python3 scripts/bench_ref.py article_numpy_process; rec article.numpy "$wall"
      cp "$work/out" "$work/article_numpy_prediction"
    fi
  fi
  for w in "${works[@]}"; do
    IFS='|' read -r id _ rows _ _ arch opt lr batch <<<"$w"
    for t in "${threads[@]}"; do
      echo "round $r/$rounds: $id, $t thread(s)" >&2
      one_work "$id" "$arch" "$opt" "$lr" "$batch" "$t" "$rows"
    done
    if [ "$id" = m256 ] && part mlp; then
      for _ in 1 2 3 4 5; do
        for b in "${bins[@]}"; do
          timed "${b#*=}" predict --model "$work/m256.safetensors" --input "$predict_row"
          rec "predict.${b%%=*}" "$wall"
        done
      done
    fi
  done
done

# ---- the tables -----------------------------------------------------------------------
# table WORK...: the MLP/CNN columns, one line per work and thread count.
table() {
  echo "| work | threads | loop: synapse s | PyTorch s | ratio | whole process: synapse s | PyTorch s | ratio | PyTorch s, no save | peak RSS synapse MB | PyTorch MB | floor MB | RSS/floor |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  local w id label t floor
  for w in "$@"; do
    IFS='|' read -r id label _ <<<"$w"
    floor=$(cat "$work/r/$id.floor")
    for t in "${threads[@]}"; do
      local k=$id.$t ol op orss tl tp trss
      ol=$(med "$k.ours_loop"); op=$(med "$k.ours_proc"); orss=$(med "$k.ours_rss" %.1f)
      tl=$(med "$k.torch_loop"); tp=$(med "$k.torch_proc"); trss=$(med "$k.torch_rss" %.1f)
      tu=$(med "$k.torch_unsaved")
      echo "| $label | $t | $ol | $tl | $(ratio "$tl" "$ol") | $op | $tp | $(ratio "$tp" "$op") | $tu | $orss | $trss | $floor | $(ratio "$orss" "$floor") |"
    done
  done
}

if part mlp; then
  echo
  echo "### MLP (f32, cross-entropy, 1 epoch; ratio = PyTorch s / synapse s, >= 1.00: synapse at least as fast)"
  echo
  table "${mlp_works[@]}"
  echo
  echo "| work | synapse s | goal |"
  echo "| --- | --- | --- |"
  echo "| \`synapse predict\` one row of the 784-256-10 model, whole process | $(med predict.ours %.4f) | < 0.020 |"
fi

if part article; then
  ours_p=$("$synapse" predict --model "$work/article.safetensors" --input 1,0,0)
  np_p=-
  [ -s "$work/article_numpy_prediction" ] && np_p=$(cat "$work/article_numpy_prediction")
  a_ours=$(med article.ours); a_np=$(med article.numpy)
  echo
  echo "### The article from the shell (f64, 150,000 epochs, whole process; ratio = synapse s / numpy s, goal <= 0.5)"
  echo
  echo "| work | synapse s | numpy s | synapse/numpy | goal | prediction for 1,0,0: synapse | numpy |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  echo "| \`synapse train\` article.csv vs the article's numpy script | $a_ours | $a_np | $(ratio "$a_ours" "$a_np") | <= 0.5 | $ours_p | $np_p |"
fi

# parts WORK...: the floor's parts, one line per work.
parts() {
  echo "| work | data MB | weights MB | gradients MB | optimizer MB | activations MB | process MB | floor MB |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
  local w id label
  for w in "$@"; do
    IFS='|' read -r id label _ <<<"$w"
    awk -v l="$label" -v p="$process_mb" -v f="$(cat "$work/r/$id.floor")" \
      '{ v[$1] = $2 } END { printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", l, v["data"],
         v["weights"], v["gradients"], v["optimizer"], v["activations"], p, f }' "$work/r/$id.parts"
  done
}

if part cnn; then
  echo
  echo "### CNN (MNIST-shaped, f32, 1 epoch; ratio = PyTorch s / synapse s)"
  echo
  table "${cnn_works[@]}"
fi

if part seq; then
  echo
  echo "### Sequence models (f32, 1 epoch of 1,024 windows of 64 tokens, no shuffle; ratio = PyTorch s / synapse s)"
  echo
  table "${seq_works[@]}"
fi

if part gemm; then
  # The 2048-4096-4096-10 row's flops per epoch (2,048 rows): forward, weight gradients,
  # input gradients but the first layer's.
  fwd=$((2048 * 4096 + 4096 * 4096 + 4096 * 10))
  flops=$((2 * 2048 * (3 * fwd - 2048 * 4096)))
  if [ "$only" = gemm ]; then
    echo
    echo "### The 2048-4096-4096-10 MLP row"
    echo
    table "${mlp_works[3]}"
  fi
  echo
  echo "### f32 product peak (4096 x 4096, GFLOP/s, best of 5 per round) and the 2048-4096-4096-10 loop's fraction of it (goal >= 0.8)"
  echo
  echo "| threads | synapse dense kernel | candle matmul | PyTorch mm | peak (best) | 2048-4096-4096-10 loop GFLOP/s | fraction |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  for t in "${threads[@]}"; do
    k=$(med "peak.$t.kernel" %.1f); c=$(med "peak.$t.candle" %.1f); p=$(med "peak.$t.torch" %.1f)
    peak=$(printf '%s\n' "$k" "$c" "$p" | grep -v '^-$' | sort -g | tail -1)
    loop=$(med "m4096.$t.ours_loop")
    achieved=$(awk -v f="$flops" -v s="$loop" 'BEGIN { if (s == "-") print "-"; else printf "%.1f\n", f / s / 1e9 }')
    echo "| $t | $k | $c | $p | $peak | $achieved | $(ratio "$achieved" "$peak") |"
  done
fi

if part text; then
  oc=$(med text.ours_cps %.0f); tc=$(med text.torch_cps %.0f)
  echo
  echo "### \`synapse train --text\` on a 10 MB text (the lstm row's model, context 64, stride 4,096, $text_windows windows, 1 thread)"
  echo
  echo "| text MB | peak RSS synapse MB | goal: < text + 64 MB | PyTorch MB | chars/s synapse | chars/s PyTorch | ratio |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  echo "| $text_mb | $(med text.ours_rss %.1f) | $(awk -v t="$text_mb" 'BEGIN { printf "%.1f", t + 64 }') | $(med text.torch_rss %.1f) | $oc | $tc | $(ratio "$oc" "$tc") |"
fi

if [ -n "$base" ]; then
  # The base's runs, row by row against ours: the loop (the --log seconds) and the whole
  # process; ratio = base s / synapse s (> 1.00: this tree is faster).
  echo
  echo "### Before/after: base = $base (ratio = base s / synapse s, > 1.00: this tree faster)"
  echo
  echo "| work | threads | loop: base s | synapse s | ratio | whole process: base s | synapse s | ratio | peak RSS base MB | synapse MB |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  for w in "${works[@]}"; do
    IFS='|' read -r id label _ <<<"$w"
    for t in "${threads[@]}"; do
      k=$id.$t
      echo "| $label | $t | $(med "$k.base_loop") | $(med "$k.ours_loop") | $(ratio "$(med "$k.base_loop")" "$(med "$k.ours_loop")") | $(med "$k.base_proc") | $(med "$k.ours_proc") | $(ratio "$(med "$k.base_proc")" "$(med "$k.ours_proc")") | $(med "$k.base_rss" %.1f) | $(med "$k.ours_rss" %.1f) |"
    done
  done
  if part text; then
    echo "| \`--text\` 10 MB, lstm | 1 | $(med text.1.base_loop) | $(med text.1.ours_loop) | $(ratio "$(med text.1.base_loop)" "$(med text.1.ours_loop)") | $(med text.1.base_proc) | $(med text.1.ours_proc) | $(ratio "$(med text.1.base_proc)" "$(med text.1.ours_proc)") | $(med text.base_rss %.1f) | $(med text.ours_rss %.1f) |"
  fi
  if part article; then
    echo "| the article, 150,000 epochs | 1 | - | - | - | $(med article.base) | $(med article.ours) | $(ratio "$(med article.base)" "$(med article.ours)") | - | - |"
  fi
  if part mlp; then
    echo "| \`synapse predict\` one row, 784-256-10 | 1 | - | - | - | $(med predict.base %.4f) | $(med predict.ours %.4f) | $(ratio "$(med predict.base)" "$(med predict.ours)") | - | - |"
  fi
fi

if [ ${#works[@]} -gt 0 ]; then
  echo
  echo "### The memory floor's parts (MB; the process = peak RSS of an empty run, \`synapse train\` of \`linear(1,2)\` on one row)"
  echo
  parts "${works[@]}"
fi
