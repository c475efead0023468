"""The reference side of scripts/bench.sh (issue 13), and the same work as
benches/synapse_bench.rs in numpy and PyTorch.

Used by scripts/bench.sh:

    python3 scripts/bench_ref.py make_npz FILE ROWS SHAPE CLASSES SEED
        random data: x float32 [ROWS, *SHAPE] uniform in [0, 1), y int64 [ROWS]
        in 0..CLASSES; SHAPE is `784` or `1,28,28`. numpy if it imports, else
        plain Python (other numbers, same shapes and dtypes).
    python3 scripts/bench_ref.py floor_parts FILE.npz ARCH OPTIMIZER SHAPE BATCH
        the memory floor's parts without the process (issue 21): x and y as stored,
        weights, gradients, optimizer state, one step's activations (floor_parts),
        `part MB` lines and `total MB`. No numpy needed.
    python3 scripts/bench_ref.py torch_train THREADS FILE.npz ARCH OPTIMIZER LR BATCH
        PyTorch doing what `synapse train --loss cross-entropy --epochs 1` does:
        prints `loop_seconds S` (the training loop alone) and `process_seconds S`
        (from just after `import torch`: load the npz, build the model, train).
    python3 scripts/bench_ref.py make_seq_npz FILE SEED
        issue 21's sequence data: 1,024 windows of 64 tokens of a random text over
        65 symbols, x int64 [1024, 64], y int64 [1024, 64] (x shifted by one).
    python3 scripts/bench_ref.py seq_torch_train THREADS FILE.npz MODEL LR BATCH
        PyTorch training MODEL (gpt | lstm | gru, SEQ_MODELS below, SPEC section
        10's classes) for one epoch, no shuffle, per-position cross-entropy;
        prints what torch_train prints.
    python3 scripts/bench_ref.py seq_floor_parts FILE.npz MODEL BATCH
        the same parts for MODEL (seq_floor_parts).
    python3 scripts/bench_ref.py seq_arch MODEL
        `ARCH|OPTIMIZER`: MODEL's synapse --arch and optimizer.
    python3 scripts/bench_ref.py make_text FILE MEGABYTES
        a seeded random text of 65 distinct characters (issue 21's `--text` row).
    python3 scripts/bench_ref.py text_torch_train THREADS FILE MODEL T S LR BATCH
        MODEL trained on the windows `synapse train --text FILE --context T
        --stride S --no-shuffle` cuts; prints `chars_per_second` too.
    python3 scripts/bench_ref.py gemm_torch THREADS N
        PyTorch's best f32 `mm` of two N x N matrices, `gflops G`.
    python3 scripts/bench_ref.py article_numpy_process
        the article's numpy program, 150,000 iterations, whole (run it under a timer);
        prints the prediction for 1,0,0.

Older entry points (benches/synapse_bench.rs's work, prints `name value unit`):

    python3 scripts/bench_ref.py article_numpy
    python3 scripts/bench_ref.py article_torch
    python3 scripts/bench_ref.py mlp_torch THREADS [ROWS] [EPOCHS]
    python3 scripts/bench_ref.py train_torch THREADS FILE.npz   # whole process, loads the file
"""
import os
import re
import sys
import time


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def article_numpy(reps=5):
    import numpy as np
    times = []
    for _ in range(reps):
        np.random.seed(1)
        w = 2 * np.random.random((3, 1)) - 1
        x = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]], dtype=float)
        y = np.array([[0, 1, 1, 0]]).T
        start = time.perf_counter()
        for _ in range(15000):
            out = 1 / (1 + np.exp(-(np.dot(x, w))))
            w += np.dot(x.T, (y - out) * out * (1 - out))
        times.append(time.perf_counter() - start)
    print(f"article_numpy_seconds {median(times):.5f} s")


def article_torch(reps=3):
    import numpy as np
    import torch
    times = []
    for _ in range(reps):
        np.random.seed(1)
        w0 = 2 * np.random.random((3, 1)) - 1
        model = torch.nn.Linear(3, 1, bias=False).double()
        with torch.no_grad():
            model.weight.copy_(torch.tensor(w0.T))
        x = torch.tensor([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]], dtype=torch.float64)
        y = torch.tensor([[0.0], [1.0], [1.0], [0.0]], dtype=torch.float64)
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        start = time.perf_counter()
        for _ in range(15000):
            opt.zero_grad()
            loss = 0.5 * ((torch.sigmoid(model(x)) - y) ** 2).sum()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    print(f"article_torch_seconds {median(times):.5f} s")


def mlp_model(torch):
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))


def epoch(torch, model, opt, x, y, batch=128):
    loss_fn = torch.nn.CrossEntropyLoss()
    order = torch.randperm(x.shape[0])
    for i in range(0, x.shape[0], batch):
        idx = order[i:i + batch]
        opt.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()


def mlp_torch(threads, rows=60000, epochs=3):
    import torch
    torch.set_num_threads(threads)
    x = torch.rand(rows, 784)
    y = torch.randint(0, 10, (rows,))
    model = mlp_model(torch)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    times = []
    for e in range(epochs + 1):
        start = time.perf_counter()
        epoch(torch, model, opt, x, y)
        if e > 0:
            times.append(time.perf_counter() - start)
    s = median(times)
    print(f"mlp_torch_rows_per_second {rows / s:.0f} rows/s")
    print(f"mlp_torch_epoch_seconds {s:.4f} s")


def train_torch(threads, path, epochs=1):
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    data = np.load(path)
    x = torch.from_numpy(data["x"])
    y = torch.from_numpy(data["y"].reshape(-1).astype(np.int64))
    model = mlp_model(torch)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(epochs):
        epoch(torch, model, opt, x, y)


# ---- scripts/bench.sh (issue 13) -------------------------------------------------


def make_npz(path, rows, shape, classes, seed):
    """x float32 [rows, *shape] in [0, 1), y int64 [rows] in 0..classes."""
    shape = tuple(int(d) for d in shape.split(","))
    try:
        import numpy as np
    except ImportError:
        np = None
    if np is not None:
        rng = np.random.default_rng(seed)
        x = rng.random((rows, *shape), dtype=np.float32)
        y = rng.integers(0, classes, size=rows, dtype=np.int64)
        np.savez(path, x=x, y=y)
        return
    # No numpy: write the .npy files by hand (format version 1.0, little endian).
    import array
    import random
    import zipfile
    rnd = random.Random(seed)
    n = rows
    for d in shape:
        n *= d
    x = array.array("f", (rnd.random() for _ in range(n)))
    y = array.array("q", (rnd.randrange(classes) for _ in range(rows)))
    if sys.byteorder != "little":
        x.byteswap()
        y.byteswap()

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("x.npy", npy("<f4", (rows, *shape), x.tobytes()))
        z.writestr("y.npy", npy("<i8", (rows,), y.tobytes()))


def npy(descr, dims, payload):
    """One .npy file (format version 1.0, little endian) of raw `payload` bytes."""
    dims_text = "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, dims_text)
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + payload


SEQ_WINDOWS, SEQ_T, SEQ_V = 1024, 64, 65


def make_seq_npz(path, seed):
    """x, y int64 [1024, 64]: windows of a random text over 65 symbols, y = x shifted by
    one. numpy's default_rng if it imports, else plain Python (other numbers)."""
    n = SEQ_WINDOWS * SEQ_T + 1
    try:
        import numpy as np
        t = np.random.default_rng(seed).integers(0, SEQ_V, n).astype("<i8")
        xs, ys = t[:-1].tobytes(), t[1:].tobytes()
    except ImportError:
        import array
        import random
        rnd = random.Random(seed)
        t = array.array("q", (rnd.randrange(SEQ_V) for _ in range(n)))
        if sys.byteorder != "little":
            t.byteswap()
        xs, ys = t[:-1].tobytes(), t[1:].tobytes()
    import zipfile
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("x.npy", npy("<i8", (SEQ_WINDOWS, SEQ_T), xs))
        z.writestr("y.npy", npy("<i8", (SEQ_WINDOWS, SEQ_T), ys))


# Issue 21's rows: the synapse --arch, the optimizer, and (in seq_torch_model) the same
# model in PyTorch.
GPT_BLOCK = ("residual(layernorm(128), attention(128,4,causal=true)), "
             "residual(layernorm(128), linear(128,512), gelu, linear(512,128))")
SEQ_MODELS = {
    "gpt": ("embedding(65,128), positional(64,128), " + ", ".join([GPT_BLOCK] * 4)
            + ", layernorm(128), linear(128,65)", "adamw"),
    "lstm": ("embedding(65,64), lstm(64,256), linear(256,65)", "adam"),
    "gru": ("embedding(65,64), gru(64,256), linear(256,65)", "adam"),
}


def seq_torch_model(torch, model):
    """SPEC section 10's PyTorch classes (as in sequence_parity.rs), for MODEL."""
    nn = torch.nn

    class Positional(nn.Module):
        def __init__(self, t, d):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(t, d))

        def forward(self, x):
            return x + self.weight[: x.shape[1]]

    class Recurrent(nn.Module):
        def __init__(self, cell):
            super().__init__()
            self.cell = cell

        def forward(self, x):
            return self.cell(x)[0]

    class SelfAttention(nn.MultiheadAttention):
        def __init__(self, d, heads):
            super().__init__(d, heads, batch_first=True)

        def forward(self, x):
            m = nn.Transformer.generate_square_subsequent_mask(x.shape[1], dtype=x.dtype)
            return super().forward(x, x, x, attn_mask=m, need_weights=False, is_causal=True)[0]

    class Residual(nn.Sequential):
        def forward(self, x):
            return x + super().forward(x)

    if model == "gpt":
        blocks = []
        for _ in range(4):
            blocks.append(Residual(nn.LayerNorm(128), SelfAttention(128, 4)))
            blocks.append(Residual(nn.LayerNorm(128), nn.Linear(128, 512), nn.GELU(),
                                   nn.Linear(512, 128)))
        return nn.Sequential(nn.Embedding(65, 128), Positional(64, 128), *blocks,
                             nn.LayerNorm(128), nn.Linear(128, 65))
    cell = {"lstm": nn.LSTM, "gru": nn.GRU}[model](64, 256, batch_first=True)
    return nn.Sequential(nn.Embedding(65, 64), Recurrent(cell), nn.Linear(256, 65))


def seq_torch_train(threads, path, model, lr, batch):
    import numpy as np
    import torch
    import torch._dynamo  # noqa: F401  (imported lazily by torch.optim; not counted)
    start = time.perf_counter()
    torch.set_num_threads(threads)
    data = np.load(path)
    x = torch.from_numpy(data["x"])
    y = torch.from_numpy(data["y"])
    torch.manual_seed(1)
    net = seq_torch_model(torch, model)
    opt_name = SEQ_MODELS[model][1]
    opt = (torch.optim.AdamW if opt_name == "adamw" else torch.optim.Adam)(net.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=-100)
    loop_start = time.perf_counter()
    for i in range(0, x.shape[0], batch):  # no shuffle (issue 21)
        opt.zero_grad()
        out = net(x[i:i + batch])
        loss = loss_fn(out.reshape(-1, out.shape[-1]), y[i:i + batch].reshape(-1))
        loss.backward()
        opt.step()
    save_and_report(net, path, start, loop_start, time.perf_counter())


def make_text(path, megabytes, seed=0):
    """A text of `megabytes` MB: random lines of words over 64 ASCII symbols and
    newlines (65 distinct characters), seeded."""
    import random
    rnd = random.Random(seed)
    symbols = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:'!?-()"[:64]
    n = megabytes * 1_000_000
    with open(path, "w", encoding="ascii") as f:
        written = 0
        while written < n:
            line = "".join(rnd.choice(symbols) for _ in range(rnd.randrange(20, 120))) + "\n"
            f.write(line)
            written += len(line)


def text_torch_train(threads, path, model, context, stride, lr, batch):
    """The lstm/gru/gpt MODEL trained on the windows `synapse train --text FILE
    --context T --stride S --no-shuffle` cuts (SPEC section 10): window k is the
    characters [kS, kS+T), its targets one further. Prints `loop_seconds`,
    `windows`, and `chars_per_second` (window characters trained per second)."""
    import numpy as np
    import torch
    import torch._dynamo  # noqa: F401
    torch.set_num_threads(threads)
    text = open(path, encoding="utf-8").read()
    vocab = sorted(set(text))
    if len(vocab) != SEQ_V:
        sys.exit(f"bench_ref.py: {path} has {len(vocab)} distinct characters, the models {SEQ_V}")
    table = np.zeros(max(map(ord, vocab)) + 1, dtype=np.int64)
    table[[ord(c) for c in vocab]] = np.arange(len(vocab))
    ids = torch.from_numpy(table[np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)])
    windows = (len(ids) - context - 1) // stride + 1
    torch.manual_seed(1)
    net = seq_torch_model(torch, model)
    opt = (torch.optim.AdamW if SEQ_MODELS[model][1] == "adamw" else torch.optim.Adam)(
        net.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    offsets = torch.arange(context)
    start = time.perf_counter()
    for i in range(0, windows, batch):
        k = torch.arange(i, min(i + batch, windows)) * stride
        at = k[:, None] + offsets[None, :]
        x, y = ids[at], ids[at + 1]
        opt.zero_grad()
        out = net(x)
        loss = loss_fn(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    print(f"loop_seconds {seconds:.4f}")
    print(f"windows {windows}")
    print(f"chars_per_second {windows * context / seconds:.0f}")


def gemm_torch(threads, n, reps=5):
    """PyTorch's best f32 mm of two n x n matrices, in GFLOP/s."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    a, b = torch.rand(n, n), torch.rand(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    print(f"gflops {2 * n ** 3 / best / 1e9:.2f}")


ELEMENT = re.compile(r"\s*([a-z_0-9]+)\s*(?:\(([^)]*)\))?\s*(?:,|$)")


def parse_arch(arch):
    """[(name, [positional ints], {option: value})] of a synapse --arch string."""
    out = []
    pos = 0
    arch = arch.strip()
    while pos < len(arch):
        m = ELEMENT.match(arch, pos)
        if not m or m.end() == pos:
            sys.exit(f"bench_ref.py: cannot read the arch `{arch}` at `{arch[pos:]}`")
        name, inner = m.group(1), m.group(2)
        args, opts = [], {}
        for a in (inner or "").split(","):
            a = a.strip()
            if not a:
                continue
            if "=" in a:
                k, v = a.split("=", 1)
                opts[k.strip()] = v.strip()
            else:
                args.append(float(a) if "." in a else int(a))
        out.append((name, args, opts))
        pos = m.end()
    return out


def parameter_count(arch):
    n = 0
    for name, args, opts in parse_arch(arch):
        bias = opts.get("bias", "true") != "false"
        if name == "linear":
            n += args[0] * args[1] + (args[1] if bias else 0)
        elif name == "conv2d":
            n += args[1] * args[0] * args[2] * args[2] + (args[1] if bias else 0)
        elif name in ("batchnorm", "batchnorm2d", "layernorm"):
            n += 2 * args[0]
    return n


def npz_array_bytes(path):
    """{name: bytes of its data} of the arrays in an .npz, read from the .npy headers."""
    import ast
    import zipfile
    sizes = {}
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            with z.open(info) as f:
                head = f.read(10)
                major = head[6]
                if major == 1:
                    length = int.from_bytes(head[8:10], "little")
                else:
                    length = int.from_bytes(head[8:10] + f.read(2), "little")
                header = ast.literal_eval(f.read(length).decode("latin1"))
            count = 1
            for d in header["shape"]:
                count *= d
            sizes[info.filename[:-4]] = count * int(header["descr"][2:])
    return sizes


def activations_bytes(arch, shape, batch):
    """f32 bytes of what one step keeps for the backward: the batch's input and every
    element's output (one tensor each; the backward of linear, conv, relu and pool
    needs one of its two sides), plus the loss's gradient of the logits."""
    dims = [int(d) for d in shape.split(",")]
    count = n = 1
    for d in dims:
        n *= d
    count = n
    for name, args, opts in parse_arch(arch):
        if name == "linear":
            dims = [args[1]]
        elif name == "conv2d":
            k, pad, stride = args[2], int(opts.get("padding", 0)), int(opts.get("stride", 1))
            dims = [args[1]] + [(d + 2 * pad - k) // stride + 1 for d in dims[1:]]
        elif name == "maxpool2d":
            k, stride = args[0], int(opts.get("stride", args[0]))
            dims = [dims[0]] + [(d - k) // stride + 1 for d in dims[1:]]
        elif name == "flatten":
            n = 1
            for d in dims:
                n *= d
            dims = [n]
        n = 1
        for d in dims:
            n *= d
        count += n
    return (count + n) * batch * 4


def floor_parts(path, arch, optimizer, shape, batch):
    """The floor's parts in bytes: data (x and y as stored), weights, gradients,
    optimizer state (plain SGD none, Adam's two moments), activations of one step."""
    state = {"sgd": 0, "adam": 2, "adamw": 2}[optimizer]
    p = parameter_count(arch) * 4
    return {"data": sum(npz_array_bytes(path).values()), "weights": p, "gradients": p,
            "optimizer": p * state, "activations": activations_bytes(arch, shape, batch)}


def seq_floor_parts(path, model, batch):
    """The same parts for issue 21's sequence rows (B = batch, T = 64, V = 65), f32:
    gpt: the embedding's output; per attention block the layernorm's output, q, k, v,
    the heads' output and the block's output (6 BTD) and one log-sum-exp per head and
    row (4 BT); per MLP block the layernorm's output, the hidden layer before and after
    GELU (2 x 4 BTD) and the block's output (10 BTD); the last layernorm's output;
    logits and their gradient (2 BTV).
    lstm: the embedding's output (BT x 64); per step the four gates, c and h (6 BTH);
    logits and their gradient. gru: per step the three gates, W_hn h + b_hn and h
    (5 BTH)."""
    b, t, v = batch, SEQ_T, SEQ_V
    if model == "gpt":
        d = 128
        params = 65 * d + 64 * d + 4 * (2 * d + 4 * d * d + 4 * d) \
            + 4 * (2 * d + d * 4 * d + 4 * d + 4 * d * d + d) + 2 * d + d * v + v
        acts = b * t * d + 4 * (6 * b * t * d + 4 * b * t + 10 * b * t * d) + b * t * d \
            + 2 * b * t * v
        state = 2
    else:
        e, h = 64, 256
        gates = 4 if model == "lstm" else 3
        params = 65 * e + gates * h * (e + h + 2) + h * v + v
        acts = b * t * e + (6 if model == "lstm" else 5) * b * t * h + 2 * b * t * v
        state = 2
    return {"data": sum(npz_array_bytes(path).values()), "weights": params * 4,
            "gradients": params * 4, "optimizer": params * 4 * state, "activations": acts * 4}


def print_parts(parts):
    """`part MB` lines and `total MB`."""
    for k, v in parts.items():
        print(f"{k} {v / 1048576:.1f}")
    print(f"total {sum(parts.values()) / 1048576:.1f}")


def torch_model(torch, arch):
    nn = torch.nn
    layers = []
    for name, args, opts in parse_arch(arch):
        bias = opts.get("bias", "true") != "false"
        if name == "linear":
            layers.append(nn.Linear(args[0], args[1], bias=bias))
        elif name == "conv2d":
            layers.append(nn.Conv2d(args[0], args[1], args[2], stride=int(opts.get("stride", 1)),
                                    padding=int(opts.get("padding", 0)), bias=bias))
        elif name == "maxpool2d":
            layers.append(nn.MaxPool2d(args[0], stride=int(opts.get("stride", args[0]))))
        elif name == "flatten":
            layers.append(nn.Flatten())
        elif name == "relu":
            layers.append(nn.ReLU())
        elif name == "tanh":
            layers.append(nn.Tanh())
        elif name == "sigmoid":
            layers.append(nn.Sigmoid())
        else:
            sys.exit(f"bench_ref.py: `{name}` is not in this script's arch subset")
    return nn.Sequential(*layers)


def torch_train(threads, path, arch, optimizer, lr, batch):
    import numpy as np
    import torch
    # torch.optim imports torch._dynamo lazily on the first optimizer (about
    # 0.8-1.4 s here): imported now, so that it is not counted either.
    import torch._dynamo  # noqa: F401
    start = time.perf_counter()  # the imports are not counted (issue 13)
    torch.set_num_threads(threads)
    data = np.load(path)
    x = torch.from_numpy(data["x"])
    y = torch.from_numpy(data["y"])
    torch.manual_seed(1)
    model = torch_model(torch, arch)
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr)
    elif optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        sys.exit(f"bench_ref.py: optimizer `{optimizer}` is not in this script")
    loss_fn = torch.nn.CrossEntropyLoss()
    loop_start = time.perf_counter()
    order = torch.randperm(x.shape[0])  # synapse shuffles too (seeded)
    for i in range(0, x.shape[0], batch):
        idx = order[i:i + batch]
        opt.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    save_and_report(model, path, start, loop_start, time.perf_counter())


def save_and_report(model, path, start, loop_start, trained):
    """Saves `model` as `synapse train --out` saves (safetensors, fsync'd), so that
    both whole-process figures do the same work, then prints the three figures."""
    from safetensors.torch import save_file
    out = path + ".torch.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
    with open(out, "rb+") as f:
        os.fsync(f.fileno())
    end = time.perf_counter()
    os.remove(out)
    print(f"loop_seconds {trained - loop_start:.4f}")
    print(f"unsaved_seconds {trained - start:.4f}")
    print(f"process_seconds {end - start:.4f}")


def article_numpy_process(iterations=150000):
    import numpy as np
    np.random.seed(1)
    w = 2 * np.random.random((3, 1)) - 1
    x = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]], dtype=float)
    y = np.array([[0, 1, 1, 0]]).T
    for _ in range(iterations):
        out = 1 / (1 + np.exp(-(np.dot(x, w))))
        w += np.dot(x.T, (y - out) * out * (1 - out))
    print(repr(float((1 / (1 + np.exp(-(np.dot(np.array([1.0, 0.0, 0.0]), w)))))[0])))


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "article_numpy":
        article_numpy()
    elif what == "article_torch":
        article_torch()
    elif what == "mlp_torch":
        mlp_torch(int(sys.argv[2]), *(int(a) for a in sys.argv[3:5]))
    elif what == "train_torch":
        train_torch(int(sys.argv[2]), sys.argv[3])
    elif what == "make_npz":
        make_npz(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    elif what == "floor_parts":
        print_parts(floor_parts(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5],
                                int(sys.argv[6])))
    elif what == "torch_train":
        torch_train(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]),
                    int(sys.argv[7]))
    elif what == "make_seq_npz":
        make_seq_npz(sys.argv[2], int(sys.argv[3]))
    elif what == "seq_torch_train":
        seq_torch_train(int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]),
                        int(sys.argv[6]))
    elif what == "seq_arch":
        print(SEQ_MODELS[sys.argv[2]][0] + "|" + SEQ_MODELS[sys.argv[2]][1])
    elif what == "seq_floor_parts":
        print_parts(seq_floor_parts(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    elif what == "make_text":
        make_text(sys.argv[2], int(sys.argv[3]))
    elif what == "text_torch_train":
        text_torch_train(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]),
                         int(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8]))
    elif what == "gemm_torch":
        gemm_torch(int(sys.argv[2]), int(sys.argv[3]))
    elif what == "article_numpy_process":
        article_numpy_process()
    else:
        sys.exit(f"unknown benchmark {what}")
