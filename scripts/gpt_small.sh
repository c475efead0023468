#!/usr/bin/env bash
# A small GPT-2 from the shell (issue 27, part 3): a byte-level BPE tokenizer trained
# on this project's README.md and ARCHITECTURE.md, a model of GPT-2's form (SPEC
# section 12: 2 blocks, 4 heads, D = 64, 64 positions, lm_head tied to the token
# embedding) trained from scratch on the same text (last 10% held out), a generated
# sample, and the model exported as a Hugging Face folder. When Python with
# transformers is at hand, the folder is loaded by GPT2LMHeadModel.from_pretrained
# and its greedy text compared with synapse's (PYTHON names the interpreter).
#
#   scripts/gpt_small.sh               # EPOCHS=30 SEED=1 VOCAB=1000
#   EPOCHS=5 scripts/gpt_small.sh      # quicker
#
# Files (tokenizer, log, model, folder, sample) stay in OUT (default: a new
# temporary folder, printed).
set -euo pipefail
cd "$(dirname "$0")/.."

epochs=${EPOCHS:-30}
seed=${SEED:-1}
vocab=${VOCAB:-1000}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
text=$out/text.txt
cat README.md ARCHITECTURE.md >"$text"

echo "building (release)..." >&2
cargo build --release -q -p synapse-cli
synapse=$(realpath "${CARGO_TARGET_DIR:-target}")/release/synapse

"$synapse" tokenizer --text README.md ARCHITECTURE.md --vocab-size "$vocab" --out "$out/tokenizer.json"

# GPT-2's form (what `summary --model DIR` prints for such a folder).
d=64
block="residual(layernorm($d), attention($d,4,causal=true), dropout(0.1)), \
residual(layernorm($d), linear($d,$((4 * d))), gelu(tanh), linear($((4 * d)),$d), dropout(0.1))"
arch="embedding($vocab,$d), positional(64,$d), dropout(0.1), $block, $block, \
layernorm($d), linear($d,$vocab,bias=false,tied=0)"

start=$(date +%s.%N)
"$synapse" train --text "$text" --tokenizer "$out/tokenizer.json" --context 64 --stride 16 \
  --val-split 0.1 --arch "$arch" --loss cross-entropy --optimizer adamw --lr 0.003 \
  --batch-size 32 --epochs "$epochs" --early-stop 3 --seed "$seed" --quiet \
  --log "$out/gpt.csv" --out "$out/gpt.safetensors"
end=$(date +%s.%N)

"$synapse" summary --model "$out/gpt.safetensors" | grep "total parameters"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "val_loss") c = i; if ($i == "loss") l = i }; next }
         best == "" || $c < best { best = $c; e = $1; tl = $l }
         END { printf "best val loss %.4f nats/token (train %.4f) at epoch %d of %d\n", best, tl, e, NR - 1 }' "$out/gpt.csv"
printf "training: %.1f s\n" "$(echo "$end - $start" | bc)"

echo "sample (temperature 0.8, top-k 20, seed 1):"
"$synapse" generate --model "$out/gpt.safetensors" --prompt "synapse train" --length 60 \
  --temperature 0.8 --top-k 20 --seed 1 | tee "$out/sample.txt"
echo

rm -rf "$out/gpt-hf"
"$synapse" export --format hf --model "$out/gpt.safetensors" --out "$out/gpt-hf"

python=${PYTHON:-python3}
if "$python" -c 'import transformers, torch' 2>/dev/null; then
  "$python" - "$out/gpt-hf" "$synapse" <<'PY'
import json, subprocess, sys, torch, transformers
folder, synapse = sys.argv[1], sys.argv[2]
model = transformers.GPT2LMHeadModel.from_pretrained(folder).eval()
tok = transformers.PreTrainedTokenizerFast(tokenizer_file=f"{folder}/tokenizer.json")
ids = tok("synapse train --text", return_tensors="pt").input_ids
out = model.generate(ids, do_sample=False, max_new_tokens=20, pad_token_id=0)
theirs = tok.decode(out[0])
ours = subprocess.run([synapse, "generate", "--model", folder, "--prompt", "synapse train --text",
                       "--length", "20", "--temperature", "0"], capture_output=True, text=True).stdout
print("transformers from_pretrained, greedy 20 tokens:", "same text as synapse" if ours.rstrip("\n") == theirs else f"DIFFERENT: {theirs!r} vs {ours!r}")
PY
fi
echo "files in $out"
