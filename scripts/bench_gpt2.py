#!/usr/bin/env python3
"""GPT-2 small (124M parameters, random weights made by transformers) on this
CPU, f32, synapse beside transformers/PyTorch in one run (issue 27's speed and
memory rows; SPEC section 12).

    python scripts/bench_gpt2.py [--synapse target/release/synapse] [--threads 1,2]
                                 [--dir /tmp/gpt2-bench] [--reps 3]

Needs torch, transformers and tokenizers (pip install torch transformers
tokenizers); builds nothing: give it a release `synapse` binary
(`cargo build --release -p synapse-cli`). What it measures, per thread count
(synapse: RAYON_NUM_THREADS; PyTorch: torch.set_num_threads):

- read bandwidth: a matrix-vector product over a 150 MB f32 matrix
  (torch.mv), GB/s; 500 MB of weights per token then bound decoding at
  bandwidth / weight bytes tokens/s;
- decode: 64 greedy tokens after a 32-token prompt, KV cache on both sides;
  tokens/s = 63 / (time(64 tokens) - time(1 token)), the prompt and the first
  token taken out; the fraction of the bandwidth bound; whether the 64 tokens
  are the same;
- time to first token: a whole process, start to the first token printed
  (`synapse generate --length 1`; `python -c` importing transformers,
  `from_pretrained`, `generate(max_new_tokens=1)`);
- `--weights bf16`: its decode speed against half the f32 bytes' bound, and
  its largest score difference from f32 over the prompt
  (`cargo bench --bench synapse_bench -- bf16-logits DIR IDS`);
- peak RSS while generating 64 tokens (`/usr/bin/time -v`), beside the
  weights' bytes plus the KV cache's;
- fine-tune: one epoch of `--text` windows (context 128, stride 128, batch 4,
  AdamW lr 1e-4, no shuffle, dropout as the config says) over the first 2,580
  tokens of README.md (20 windows, 5 steps), `synapse train --init DIR`
  against the same loop in PyTorch, timed twice: in this process, warm
  (PyTorch's allocator already holds the memory of the runs before), and in
  a fresh process of its own, as synapse's always is (its first step maps
  the memory anew; on a VM that maps pages slowly while other processes
  hold gigabytes, as this one does, that costs a fresh process seconds).

The median of --reps runs is printed for each timing.
"""

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"Model name:\s*(.+)", out)
        return m.group(1).strip() if m else platform.processor()
    except OSError:
        return platform.processor()


def make_folder(folder):
    """GPT-2 small, random (seed 0), and a byte-level BPE of 2,000 tokens
    trained on README.md and ARCHITECTURE.md (ids past it decode to nothing)."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if (folder / "model.safetensors").exists():
        return
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    model.save_pretrained(folder)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=2000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train([str(ROOT / "README.md"), str(ROOT / "ARCHITECTURE.md")], trainer)
    tok.save(str(folder / "tokenizer.json"))


def prompt_text(folder, n=32):
    """A README passage of exactly n tokens that encodes back to itself."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    ids = tok.encode(text[2000:4000]).ids[:n]
    prompt = tok.decode(ids)
    assert tok.encode(prompt).ids == ids, "the prompt does not encode back to itself"
    return prompt, ids


def median_time(f, reps):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bandwidth(threads, reps):
    import torch

    torch.set_num_threads(threads)
    w = torch.ones(150_000_000 // 4 // 768, 768)
    x = torch.ones(768)
    torch.mv(w, x)
    t = median_time(lambda: [torch.mv(w, x) for _ in range(10)], reps) / 10
    return w.numel() * 4 / t / 1e9


def torch_decode(model, ids, threads, reps):
    import torch

    torch.set_num_threads(threads)
    x = torch.tensor([ids])

    def gen(n):
        with torch.no_grad():
            return model.generate(x, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                                  use_cache=True, pad_token_id=0)

    gen(2)
    t1 = median_time(lambda: gen(1), reps)
    t64 = median_time(lambda: gen(64), reps)
    tokens = gen(64)[0, len(ids):].tolist()
    return 63 / (t64 - t1), tokens


def synapse_run(synapse, args, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    t = time.perf_counter()
    out = subprocess.run([synapse, *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        sys.exit(f"synapse {' '.join(args)}: {out.stderr}")
    return wall, out.stdout


def synapse_decode(synapse, folder, prompt, threads, reps, more=()):
    def gen(n):
        return synapse_run(synapse, ["generate", "--model", str(folder), "--prompt", prompt,
                                     "--length", str(n), "--temperature", "0", *more], threads)

    t1 = statistics.median(gen(1)[0] for _ in range(reps))
    t64 = statistics.median(gen(64)[0] for _ in range(reps))
    return 63 / (t64 - t1), t1, gen(64)[1]


def peak_rss_mb(cmd, env=None):
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    return int(m.group(1)) / 1024 if m else float("nan")


TORCH_TTFT = """
import sys, time, torch, transformers
torch.set_num_threads(int(sys.argv[2]))
m = transformers.GPT2LMHeadModel.from_pretrained(sys.argv[1]).eval()
ids = torch.tensor([[int(i) for i in sys.argv[3].split(",")]])
with torch.no_grad():
    m.generate(ids, max_new_tokens=int(sys.argv[4]), min_new_tokens=int(sys.argv[4]),
               do_sample=False, pad_token_id=0)
"""


def torch_process(folder, ids, threads, n):
    cmd = [sys.executable, "-c", TORCH_TTFT, str(folder), str(threads),
           ",".join(map(str, ids)), str(n)]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t, cmd


FINETUNE = dict(context=128, batch=4, lr=1e-4, tokens=2580)


def finetune_text(folder, directory):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    ids = tok.encode(text).ids[: FINETUNE["tokens"]]
    path = directory / "finetune.txt"
    path.write_text(tok.decode(ids), encoding="utf-8")
    return path, tok.encode(path.read_text(encoding="utf-8")).ids


def torch_finetune(folder, ids, threads):
    import torch
    import torch.nn.functional as F
    import transformers

    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = transformers.GPT2LMHeadModel.from_pretrained(folder).train()
    opt = torch.optim.AdamW(model.parameters(), lr=FINETUNE["lr"], weight_decay=0.01)
    t, b = FINETUNE["context"], FINETUNE["batch"]
    windows = [ids[k: k + t + 1] for k in range(0, len(ids) - t, t)]
    start = time.perf_counter()
    for s in range(0, len(windows), b):
        batch = torch.tensor(windows[s: s + b])
        logits = model(batch[:, :-1]).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start, len(windows)


def torch_finetune_fresh(folder, ids_path, threads):
    """`torch_finetune` in a fresh `python` process: its loop's seconds."""
    code = (
        "import importlib.util, sys; from pathlib import Path; "
        f"spec = importlib.util.spec_from_file_location('b', {str(Path(__file__).resolve())!r}); "
        "b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b); "
        f"ids = [int(v) for v in Path({str(ids_path)!r}).read_text().split()]; "
        f"print(b.torch_finetune(Path({str(folder)!r}), ids, {threads})[0])"
    )
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"PyTorch fine-tune in a fresh process: {out.stderr}")
    return float(out.stdout.strip().splitlines()[-1])


def synapse_finetune(synapse, folder, text, directory, threads):
    log = directory / f"ft{threads}.csv"
    synapse_run(synapse, ["train", "--init", str(folder), "--text", str(text), "--context",
                          str(FINETUNE["context"]), "--batch-size", str(FINETUNE["batch"]),
                          "--epochs", "1", "--no-shuffle", "--optimizer", "adamw", "--lr",
                          str(FINETUNE["lr"]), "--loss", "cross-entropy", "--quiet", "--log",
                          str(log), "--out", str(directory / "ft.safetensors")], threads)
    rows = log.read_text().splitlines()
    header = rows[0].split(",")
    return float(rows[1].split(",")[header.index("seconds")])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--synapse", default=str(ROOT / "target/release/synapse"))
    p.add_argument("--threads", default="1,2")
    p.add_argument("--dir", default="/tmp/synapse-gpt2-bench")
    p.add_argument("--reps", type=int, default=3)
    a = p.parse_args()
    import torch
    import transformers

    directory = Path(a.dir)
    folder = directory / "gpt2-small"
    directory.mkdir(parents=True, exist_ok=True)
    make_folder(folder)
    prompt, ids = prompt_text(folder)
    weights = (folder / "model.safetensors").stat().st_size
    cache = 12 * 2 * (32 + 64) * 768 * 4
    print(f"CPU: {cpu_model()}; torch {torch.__version__}, transformers {transformers.__version__}")
    print(f"GPT-2 small, f32: {weights / 1e6:.1f} MB of weights; prompt of {len(ids)} tokens, "
          f"64 greedy tokens; KV cache {cache / 1e6:.1f} MB")
    model = transformers.GPT2LMHeadModel.from_pretrained(folder).eval()
    text, ft_ids = finetune_text(folder, directory)
    print()
    print("| threads | read GB/s | bound tok/s | synapse tok/s | fraction of bound | "
          "transformers tok/s | synapse / transformers | same tokens |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    rows, speeds = [], []
    for threads in [int(t) for t in a.threads.split(",")]:
        bw = bandwidth(threads, a.reps)
        bound = bw * 1e9 / weights
        ours, ttft, out = synapse_decode(a.synapse, folder, prompt, threads, a.reps)
        theirs, tokens = torch_decode(model, ids, threads, a.reps)
        from tokenizers import Tokenizer
        want = prompt + Tokenizer.from_file(str(folder / "tokenizer.json")).decode(tokens)
        same = "yes" if out.rstrip("\n") == want else "no"
        print(f"| {threads} | {bw:.1f} | {bound:.1f} | {ours:.1f} | {ours / bound:.2f} | "
              f"{theirs:.1f} | {ours / theirs:.2f} | {same} |", flush=True)
        rows.append((threads, ttft))
        speeds.append((threads, bw, ours, out))
    print()
    print("`generate --weights bf16` (the matrices in bfloat16, f32 sums): the bound is "
          "bandwidth / half the f32 bytes")
    print("| threads | synapse bf16 tok/s | bound tok/s | fraction of bound | "
          "bf16 / f32 synapse | same tokens as f32 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for threads, bw, f32_speed, f32_out in speeds:
        low, _, out = synapse_decode(a.synapse, folder, prompt, threads, a.reps,
                                     ["--weights", "bf16"])
        bound = bw * 1e9 / (weights / 2)
        print(f"| {threads} | {low:.1f} | {bound:.1f} | {low / bound:.2f} | "
              f"{low / f32_speed:.2f} | {'yes' if out == f32_out else 'no'} |", flush=True)
    diff = subprocess.run(["cargo", "bench", "-q", "--bench", "synapse_bench", "--",
                           "bf16-logits", str(folder), ",".join(str(i) for i in ids)],
                          capture_output=True, text=True, cwd=ROOT)
    found = dict(line.split()[:2] for line in diff.stdout.splitlines() if len(line.split()) >= 2)
    print(f"Largest score difference from f32 over the prompt's {len(ids)} positions: "
          f"{found.get('bf16_max_logit_diff', '-')} (largest |score| "
          f"{found.get('max_abs_logit', '-')}; `cargo bench --bench synapse_bench -- bf16-logits`)")
    print()
    print("| threads | synapse first token, s | transformers first token, s | "
          "synapse peak RSS MB | (weights + cache) MB | ratio | transformers peak RSS MB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for threads, ttft in rows:
        tt, cmd = torch_process(folder, ids, threads, 1)
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
        ours = peak_rss_mb([a.synapse, "generate", "--model", str(folder), "--prompt", prompt,
                            "--length", "64", "--temperature", "0"], env)
        theirs = peak_rss_mb(cmd[:-1] + ["64"])
        floor = (weights + cache) / 2**20
        print(f"| {threads} | {ttft:.2f} | {tt:.2f} | {ours:.0f} | {floor:.0f} | "
              f"{ours / floor:.2f} | {theirs:.0f} |", flush=True)
    print()
    print(f"Fine-tune, one epoch: {len(ft_ids)} tokens, windows of {FINETUNE['context']}, "
          f"batch {FINETUNE['batch']}, AdamW")
    print("| threads | synapse s | PyTorch s, in this process | PyTorch / synapse | "
          "PyTorch s, fresh process | PyTorch / synapse |")
    print("| --- | --- | --- | --- | --- | --- |")
    ids_path = directory / "finetune.ids"
    ids_path.write_text(" ".join(map(str, ft_ids)))
    for threads in [int(t) for t in a.threads.split(",")]:
        ours = synapse_finetune(a.synapse, folder, text, directory, threads)
        theirs, _ = torch_finetune(folder, ft_ids, threads)
        fresh = torch_finetune_fresh(folder, ids_path, threads)
        print(f"| {threads} | {ours:.2f} | {theirs:.2f} | {theirs / ours:.2f} | "
              f"{fresh:.2f} | {fresh / ours:.2f} |", flush=True)


if __name__ == "__main__":
    main()
