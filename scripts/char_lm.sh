#!/usr/bin/env bash
# A character-level language model from the shell (issue 19, part 6): the project's own
# README.md and ARCHITECTURE.md as the text, the last 10% held out, an LSTM against a
# bigram model trained by the same command on the same windows, then a generated sample.
#
#   scripts/char_lm.sh               # EPOCHS=20 SEED=1
#   EPOCHS=5 scripts/char_lm.sh      # quicker
#
# The bigram model is `embedding(V,V)`: the logits at a position are the row of the
# character there, i.e. a table of log-probabilities of the next character given this
# one, which is what a bigram model is. Both train with `--early-stop 3` (the best
# validation epoch's weights kept: a 70,000-character text is learnt by heart after a
# few epochs) and print their best validation loss in nats per character (the mean
# cross-entropy over the held-out tail's positions). Logs, models and the sample stay
# in OUT (default: a new temporary folder, printed).
set -euo pipefail
cd "$(dirname "$0")/.."

epochs=${EPOCHS:-20}
seed=${SEED:-1}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
text=$out/text.txt
cat README.md ARCHITECTURE.md >"$text"

echo "building (release)..." >&2
cargo build --release -q -p synapse-cli
synapse=$(realpath "${CARGO_TARGET_DIR:-target}")/release/synapse

# The vocabulary's size V: the number of distinct characters of the text.
v=$(python3 -c 'import sys; print(len(set(open(sys.argv[1], encoding="utf-8").read())))' "$text")
chars=$(python3 -c 'import sys; print(len(open(sys.argv[1], encoding="utf-8").read()))' "$text")
echo "text: README.md + ARCHITECTURE.md, $chars characters, $v distinct; last 10% held out"

common=(--text "$text" --context 64 --stride 16 --val-split 0.1 --loss cross-entropy
  --batch-size 32 --epochs "$epochs" --early-stop 3 --seed "$seed" --quiet)

# best_val LOG: the smallest val_loss of the log, and its epoch.
best_val() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "val_loss") c = i; next }
           best == "" || $c < best { best = $c; e = $1 }
           END { printf "%.4f (epoch %d of %d)\n", best, e, NR - 1 }' "$1"
}
# total_seconds LOG: the sum of the seconds column.
total_seconds() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i; next }
           { s += $c } END { printf "%.1f\n", s }' "$1"
}

bigram="embedding($v,$v)"
lstm="embedding($v,64), lstm(64,256), dropout(0.3), linear(256,$v)"
"$synapse" train "${common[@]}" --arch "$bigram" --optimizer adam --lr 0.01 \
  --log "$out/bigram.csv" --out "$out/bigram.safetensors"
"$synapse" train "${common[@]}" --arch "$lstm" --optimizer adam --lr 0.003 --clip-grad-norm 1 \
  --log "$out/lstm.csv" --out "$out/lstm.safetensors"

echo
echo "| model | parameters | best val loss, nats/char | training s |"
echo "| --- | --- | --- | --- |"
for m in bigram lstm; do
  params=$("$synapse" summary --model "$out/$m.safetensors" | awk '/^total parameters/ { print $3 }')
  echo "| \`${!m}\` | $params | $(best_val "$out/$m.csv") | $(total_seconds "$out/$m.csv") |"
done
echo
echo "generated (--prompt 'synapse ' --length 300 --temperature 0.8 --seed 1):"
"$synapse" generate --model "$out/lstm.safetensors" --prompt 'synapse ' --length 300 \
  --temperature 0.8 --seed 1 | tee "$out/sample.txt"
echo
echo "files: $out" >&2
