"""The same work as benches/synapse_bench.rs in numpy and PyTorch.

    python3 scripts/bench_ref.py article_numpy
    python3 scripts/bench_ref.py article_torch
    python3 scripts/bench_ref.py mlp_torch THREADS [ROWS] [EPOCHS]
    python3 scripts/bench_ref.py train_torch THREADS FILE.npz   # whole process, loads the file

Prints `name value unit` lines like the Rust benchmark.
"""
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
    else:
        sys.exit(f"unknown benchmark {what}")
