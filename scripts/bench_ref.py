"""The reference side of scripts/bench.sh (issue 13), and the same work as
benches/synapse_bench.rs in numpy and PyTorch.

Used by scripts/bench.sh:

    python3 scripts/bench_ref.py make_npz FILE ROWS SHAPE CLASSES SEED
        random data: x float32 [ROWS, *SHAPE] uniform in [0, 1), y int64 [ROWS]
        in 0..CLASSES; SHAPE is `784` or `1,28,28`. numpy if it imports, else
        plain Python (other numbers, same shapes and dtypes).
    python3 scripts/bench_ref.py floor_mb FILE.npz ARCH OPTIMIZER
        bytes of x and y as stored (what PyTorch holds) + parameters x 4 bytes x
        (weights + gradients + optimizer state: sgd 1, adam 2), in MB. No numpy needed.
    python3 scripts/bench_ref.py torch_train THREADS FILE.npz ARCH OPTIMIZER LR BATCH
        PyTorch doing what `synapse train --loss cross-entropy --epochs 1` does:
        prints `loop_seconds S` (the training loop alone) and `process_seconds S`
        (from just after `import torch`: load the npz, build the model, train).
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

    def npy(descr, dims, payload):
        dims_text = "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"
        header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, dims_text)
        header += " " * (-(10 + len(header) + 1) % 64) + "\n"
        return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + payload

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("x.npy", npy("<f4", (rows, *shape), x.tobytes()))
        z.writestr("y.npy", npy("<i8", (rows,), y.tobytes()))


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


def floor_mb(path, arch, optimizer):
    # Optimizer state per parameter: none for plain SGD (no momentum), Adam's two moments.
    state = {"sgd": 0, "adam": 2, "adamw": 2}[optimizer]
    data = sum(npz_array_bytes(path).values())
    model = parameter_count(arch) * 4 * (2 + state)
    print(f"{(data + model) / 1048576:.1f}")


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
    trained = time.perf_counter()
    # Saved as `synapse train --out` saves (safetensors, fsync'd), so that
    # both whole-process figures do the same work.
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
    elif what == "floor_mb":
        floor_mb(sys.argv[2], sys.argv[3], sys.argv[4])
    elif what == "torch_train":
        torch_train(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]),
                    int(sys.argv[7]))
    elif what == "article_numpy_process":
        article_numpy_process()
    else:
        sys.exit(f"unknown benchmark {what}")
