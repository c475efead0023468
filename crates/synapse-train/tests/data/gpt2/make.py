# Writes the reference data of this folder (issue 27, SPEC section 12): two tiny
# GPT-2 folders exactly as transformers writes them, with byte-level BPE
# tokenizers trained by the `tokenizers` Python package, and the values the Rust
# tests compare against (logits, greedy tokens, an f64 AdamW fine-tune, and small
# PyTorch references for gelu(tanh), rmsnorm and layernorm).
#
# How to run (from anywhere; it writes beside itself, overwriting):
#     python3 -m venv /tmp/pyref
#     /tmp/pyref/bin/pip install torch numpy transformers tokenizers safetensors
#     /tmp/pyref/bin/python crates/synapse-train/tests/data/gpt2/make.py
#
# Written with: Python 3.11.7, torch 2.15.0 (CPU, one thread), transformers 5.25.0,
# tokenizers 0.23.3, safetensors 0.8.0, numpy 2.4.6. The script prints the versions
# it ran with and records them in values.json. Everything is seeded; two runs with
# these versions write identical files (checked with sha256sum).
#
# Nothing here is read by the Rust tests at run time except the files it writes:
# no test needs Python or the network.

import hashlib
import json
import math
import os
import sys
from pathlib import Path

import numpy
import safetensors
import tokenizers
import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GPT2Config, GPT2LMHeadModel

HERE = Path(__file__).resolve().parent
transformers.utils.logging.disable_progress_bar()
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

VERSIONS = {
    "python": sys.version.split()[0],
    "torch": torch.__version__,
    "transformers": transformers.__version__,
    "tokenizers": tokenizers.__version__,
    "safetensors": safetensors.__version__,
    "numpy": numpy.__version__,
}

# The text the tokenizers (and the trained folder) learn from: this project's
# README.md as of commit 72fc71d, copied here so that the script does not depend
# on the README's later edits.
CORPUS = (HERE / "corpus.txt").read_text(encoding="utf-8")

# The prompt every folder's values are computed for.
PROMPT = "The synapse command trains a small model"

# The fine-tune text (finetune.txt is written from this string; its encoding with
# tiny-random's tokenizer is 106 tokens, so 6 windows of context 16).
FINETUNE_TEXT = (
    "With the defaults it prints the starting weights -0.16595599, 0.44064899, "
    "-0.99977125, the ending weights 10.08740896, -0.20695366, -4.83757835."
)

SPECIAL = "<|endoftext|>"
TRAIN_STEPS = 1500


def show(name, value):
    """Prints one written value (everything the script writes is printed)."""
    print(f"{name} = {json.dumps(value)}")


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def dumps(obj, indent=0):
    """JSON with one line per dict entry and every list of numbers (or of such
    lists) on one line. json.dumps writes Python floats with repr: the shortest
    string that reads back to the same f64, so every value here is exact."""
    pad = " " * (indent + 1)
    if isinstance(obj, dict) and obj:
        items = [f"{pad}{json.dumps(k)}: {dumps(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(obj, list) and any(isinstance(v, dict) for v in obj):
        items = [pad + dumps(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    return json.dumps(obj)


def write_json(path, obj):
    text = dumps(obj) + "\n"
    assert json.loads(text) == obj
    Path(path).write_text(text, encoding="utf-8")


def train_tokenizer(vocab_size):
    """A byte-level BPE as GPT-2's tokenizer.json has it: ByteLevel pre-tokenizer
    (GPT-2's regex, no prefix space), ByteLevel decoder and post-processor, the
    256 byte symbols as initial alphabet, one special token <|endoftext|> (id 0)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[SPECIAL],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS.splitlines(keepends=True), trainer=trainer)
    assert tok.get_vocab_size() == vocab_size, tok.get_vocab_size()
    assert tok.token_to_id(SPECIAL) == 0
    return tok


def gpt2_config(vocab_size, **kw):
    return GPT2Config(
        n_layer=2,
        n_embd=32,
        n_head=4,
        n_positions=64,
        vocab_size=vocab_size,
        bos_token_id=0,
        eos_token_id=0,
        **kw,
    )


def perturb(model, seed):
    """Redraws every bias and LayerNorm weight (transformers' init leaves them at
    0 and 1), so that a wrong mapping of any of them changes the logits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
            elif ".ln_" in name and name.endswith(".weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))


def make_random(dir_, tok):
    """tiny-random: transformers' init (seed 0) with biases and LayerNorm weights
    redrawn, tied lm_head (GPT-2's default), every dropout 0, layer_norm_epsilon 1e-5."""
    config = gpt2_config(
        tok.get_vocab_size(), resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    perturb(model, 1)
    assert model.lm_head.weight is model.transformer.wte.weight
    model.save_pretrained(dir_, safe_serialization=True)
    tok.save(str(dir_ / "tokenizer.json"))


def make_trained(dir_, tok):
    """tiny-trained: untied lm_head, GPT-2's dropouts (0.1), layer_norm_epsilon 1e-6,
    trained briefly in f32 on corpus.txt: TRAIN_STEPS (1500) AdamW steps (lr 3e-3, defaults
    otherwise), batches of 16 windows of 33 tokens drawn at seeded random offsets."""
    config = gpt2_config(
        tok.get_vocab_size(), tie_word_embeddings=False, layer_norm_epsilon=1e-6
    )
    torch.manual_seed(2)
    model = GPT2LMHeadModel(config)
    assert model.lm_head.weight is not model.transformer.wte.weight
    ids = torch.tensor(tok.encode(CORPUS).ids)
    g = torch.Generator().manual_seed(3)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, foreach=False)
    model.train()
    losses = []
    for step in range(TRAIN_STEPS):
        starts = torch.randint(0, len(ids) - 33, (16,), generator=g)
        batch = torch.stack([ids[s : s + 33] for s in starts])
        logits = model(batch[:, :-1]).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    print(f"tiny-trained: training loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    model.save_pretrained(dir_, safe_serialization=True)
    tok.save(str(dir_ / "tokenizer.json"))


def folder_values(dir_):
    """Values computed from the folder as written (reloaded, eager attention)."""
    tok = Tokenizer.from_file(str(dir_ / "tokenizer.json"))
    enc = tok.encode(PROMPT)
    ids = enc.ids
    x = torch.tensor([ids])
    m32 = GPT2LMHeadModel.from_pretrained(dir_, attn_implementation="eager").eval()
    m64 = GPT2LMHeadModel.from_pretrained(dir_, attn_implementation="eager").double().eval()
    with torch.no_grad():
        out64 = m64(x, output_hidden_states=True)
        logits64 = out64.logits[0]
        logits32 = m32(x).logits[0]
    gen = {}
    for name, m in (("f32", m32), ("f64", m64)):
        full = m.generate(
            x,
            attention_mask=torch.ones_like(x),
            do_sample=False,
            max_new_tokens=20,
            pad_token_id=0,
        )[0].tolist()
        assert full[: len(ids)] == ids
        new = full[len(ids) :]
        assert len(new) == 20, f"{dir_.name} {name}: generation stopped at eos after {len(new)}"
        gen[name] = {"new_ids": new, "text": tok.decode(full), "new_text": tok.decode(new)}
    # Greedy by hand, full window each step (no cache): the same tokens.
    # The top-1 minus top-2 logit at each step tells how safe a token is.
    seq, gaps = list(ids), []
    with torch.no_grad():
        for _ in range(20):
            last = m64(torch.tensor([seq])).logits[0, -1]
            top = last.topk(2).values
            gaps.append(float(top[0] - top[1]))
            seq.append(int(last.argmax()))
    assert seq[len(ids) :] == gen["f64"]["new_ids"]
    gen["f64"]["top1_minus_top2_logit"] = gaps
    cfg = json.loads((dir_ / "config.json").read_text())
    return {
        "folder": dir_.name,
        "files_sha256": {p.name: sha256(p) for p in sorted(dir_.iterdir())},
        "vocab_size": cfg["vocab_size"],
        "tie_word_embeddings": cfg.get("tie_word_embeddings", True),
        "layer_norm_epsilon": cfg["layer_norm_epsilon"],
        "prompt": PROMPT,
        "prompt_ids": ids,
        "prompt_tokens": enc.tokens,
        "prompt_decoded": tok.decode(ids),
        "logits_f64": [[float(v) for v in row] for row in logits64],
        "logits_f32_last": [float(v) for v in logits32[-1]],
        "argmax_f64": [int(v) for v in logits64.argmax(-1)],
        "hidden_states_f64": [
            [[float(v) for v in row] for row in h[0]] for h in out64.hidden_states
        ],
        "greedy_f32": gen["f32"],
        "greedy_f64": gen["f64"],
    }


def finetune(dir_):
    """The f64 fine-tune reference (see README.md here for the procedure in words)."""
    T, S, B, STEPS = 16, 16, 2, 3
    LR, BETAS, EPS, WD = 1e-2, (0.9, 0.999), 1e-8, 0.01
    tok = Tokenizer.from_file(str(dir_ / "tokenizer.json"))
    (HERE / "finetune.txt").write_text(FINETUNE_TEXT, encoding="utf-8")
    text = (HERE / "finetune.txt").read_text(encoding="utf-8")
    ids = tok.encode(text).ids
    n = len(ids)
    # SPEC section 10: window k is ids [kS, kS+T), its targets [kS+1, kS+T+1);
    # every k with kS+T+1 <= n.
    windows = []
    k = 0
    while k * S + T + 1 <= n:
        windows.append((ids[k * S : k * S + T], ids[k * S + 1 : k * S + T + 1]))
        k += 1
    assert len(windows) == B * STEPS, (n, len(windows))
    model = GPT2LMHeadModel.from_pretrained(dir_, attn_implementation="eager").double()
    model.train()  # every dropout of this folder is 0
    params = list(model.parameters())  # the tied weight once
    names = {id(p): name for name, p in model.named_parameters()}
    opt = torch.optim.AdamW(
        params, lr=LR, betas=BETAS, eps=EPS, weight_decay=WD, foreach=False, fused=False
    )
    losses, grads1 = [], None
    D = model.config.n_embd
    key_block = {}
    for step in range(STEPS):
        batch = windows[step * B : (step + 1) * B]
        x = torch.tensor([w[0] for w in batch])
        y = torch.tensor([w[1] for w in batch])
        logits = model(x).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        if step == 0:
            grads1 = {names[id(p)]: p.grad.detach().clone().contiguous() for p in params}
        for l in range(model.config.n_layer):
            g = model.transformer.h[l].attn.c_attn.bias.grad
            key_block.setdefault(f"transformer.h.{l}.attn.c_attn.bias", []).append(
                [float(v) for v in g[D : 2 * D]]
            )
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        x0 = torch.tensor([w[0] for w in windows[:B]])
        y0 = torch.tensor([w[1] for w in windows[:B]])
        lg = model(x0).logits
        loss_after = F.cross_entropy(lg.reshape(-1, lg.shape[-1]), y0.reshape(-1)).item()
    final = {names[id(p)]: p.detach().clone().contiguous() for p in params}
    save_file(final, str(HERE / "finetune_final.safetensors"))
    save_file(grads1, str(HERE / "finetune_grads_step1.safetensors"))
    named = [
        "transformer.ln_f.weight",
        "transformer.ln_f.bias",
        "transformer.h.0.attn.c_attn.bias",
        "transformer.h.1.mlp.c_proj.bias",
        "transformer.h.0.ln_1.weight",
    ]
    return {
        "folder": dir_.name,
        "text_file": "finetune.txt",
        "dtype": "float64",
        "context": T,
        "stride": S,
        "batch_size": B,
        "steps": STEPS,
        "shuffle": False,
        "n_tokens": n,
        "ids": ids,
        "windows": [{"input": w[0], "target": w[1]} for w in windows],
        "optimizer": {
            "name": "torch.optim.AdamW (foreach=False, fused=False, amsgrad=False), one group of all parameters",
            "lr": LR,
            "betas": list(BETAS),
            "eps": EPS,
            "weight_decay": WD,
        },
        "loss": "F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1)): mean over batch x positions",
        "losses": losses,
        "loss_first_batch_after": loss_after,
        "c_attn_bias_key_block_grads": key_block,
        "final_named": {k: final[k].flatten().tolist() for k in named},
        "final_wte_rows_0_2": final["transformer.wte.weight"][:3].tolist(),
        "final_checksums": {
            k: {"sum": float(v.sum()), "sum_sq": float((v * v).sum()), "shape": list(v.shape)}
            for k, v in final.items()
        },
        "grads_step1_checksums": {
            k: {"sum": float(v.sum()), "sum_sq": float((v * v).sum())} for k, v in grads1.items()
        },
    }


def elements():
    """Small f64 PyTorch references for gelu(tanh), rmsnorm, layernorm."""
    dt = torch.float64
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 3, 4, generator=g, dtype=dt)
    # Rows scaled so that some have a small variance and eps shows.
    x = x * torch.tensor([1.0, 0.01, 0.001], dtype=dt).view(1, 3, 1)
    up = torch.randn(2, 3, 4, generator=g, dtype=dt)
    w = torch.tensor([0.5, -1.0, 1.5, 2.0], dtype=dt)
    b = torch.tensor([0.1, -0.2, 0.3, 0.0], dtype=dt)
    out = {"input": x.tolist(), "upstream_grad": up.tolist(), "weight": w.tolist(), "bias": b.tolist()}
    out["note"] = (
        "loss = sum(output * upstream_grad); input_grad/weight_grad/bias_grad are its "
        "gradients. rms rows 1 and 2 of each batch are scaled by 0.01 and 0.001."
    )

    def run(mod, has_bias):
        xi = x.clone().requires_grad_(True)
        y = mod(xi)
        (y * up).sum().backward()
        r = {"output": y.detach().tolist(), "input_grad": xi.grad.tolist()}
        if mod.weight is not None:
            r["weight_grad"] = mod.weight.grad.tolist()
        if has_bias:
            r["bias_grad"] = mod.bias.grad.tolist()
        return r

    for eps in (None, 1e-5):
        key = "rmsnorm_eps_default" if eps is None else "rmsnorm_eps_1e-5"
        for wname, wv in (("ones", None), ("weight", w)):
            m = torch.nn.RMSNorm(4, eps=eps, dtype=dt)
            if wv is not None:
                with torch.no_grad():
                    m.weight.copy_(wv)
            out[f"{key}_{wname}"] = run(m, False)
    out["rmsnorm_eps_default_value"] = torch.finfo(dt).eps
    out["rmsnorm_eps_default_value_f32"] = torch.finfo(torch.float32).eps
    for eps in (1e-5, 1e-3):
        m = torch.nn.LayerNorm(4, eps=eps, dtype=dt)
        with torch.no_grad():
            m.weight.copy_(w)
            m.bias.copy_(b)
        out[f"layernorm_eps_{eps:g}"] = run(m, True)
    gx = torch.tensor(
        [-10.0, -5.0, -3.0, -2.0, -1.5, -1.0, -0.5, -0.1, -1e-3, 0.0, 1e-3, 0.1, 0.5, 1.0,
         1.5, 2.0, 3.0, 5.0, 10.0],
        dtype=dt,
    )
    for approx in ("tanh", "none"):
        xi = gx.clone().requires_grad_(True)
        y = torch.nn.GELU(approximate=approx)(xi)
        y.sum().backward()
        out[f"gelu_{approx}"] = {
            "input": gx.tolist(),
            "output": y.detach().tolist(),
            "input_grad": xi.grad.tolist(),  # d sum(output) / d input
        }
    # transformers' gelu_new is the same function as GELU(approximate="tanh").
    from transformers.activations import ACT2FN

    assert torch.allclose(ACT2FN["gelu_new"](gx), torch.nn.GELU(approximate="tanh")(gx), rtol=0, atol=1e-15)
    return out


def main():
    print("versions:", json.dumps(VERSIONS))
    values = {"versions": VERSIONS, "prompt": PROMPT, "folders": {}}
    specs = [("tiny-random", 384, make_random), ("tiny-trained", 512, make_trained)]
    for name, vocab, make in specs:
        dir_ = HERE / name
        dir_.mkdir(exist_ok=True)
        for p in dir_.iterdir():
            p.unlink()
        tok = train_tokenizer(vocab)
        make(dir_, tok)
        values["folders"][name] = folder_values(dir_)
    write_json(HERE / "values.json", values)
    ft = finetune(HERE / "tiny-random")
    ft["versions"] = VERSIONS
    write_json(HERE / "finetune.json", ft)
    el = elements()
    el["versions"] = VERSIONS
    write_json(HERE / "elements.json", el)

    # Print everything written.
    for name in values["folders"]:
        dir_ = HERE / name
        print(f"\n==== {name}/")
        for p in sorted(dir_.iterdir()):
            print(f"  {p.name}: {p.stat().st_size} bytes, sha256 {sha256(p)}")
        print("---- config.json\n" + (dir_ / "config.json").read_text())
        print("---- generation_config.json\n" + (dir_ / "generation_config.json").read_text())
        with safetensors.safe_open(str(dir_ / "model.safetensors"), "pt") as f:
            print("---- model.safetensors metadata", json.dumps(f.metadata()))
            for k in f.keys():
                t = f.get_tensor(k)
                print(f"  {k} {t.dtype} {list(t.shape)}")
    for p in ("finetune_final.safetensors", "finetune_grads_step1.safetensors"):
        print(f"\n==== {p}: sha256 {sha256(HERE / p)}")
        with safetensors.safe_open(str(HERE / p), "pt") as f:
            for k in f.keys():
                t = f.get_tensor(k)
                print(f"  {k} {t.dtype} {list(t.shape)} sum {float(t.sum())!r}")
    for fname in ("values.json", "finetune.json", "elements.json"):
        print(f"\n==== {fname}: sha256 {sha256(HERE / fname)}")
        print((HERE / fname).read_text())


if __name__ == "__main__":
    main()
