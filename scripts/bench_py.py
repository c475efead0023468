#!/usr/bin/env python3
"""synapse_nn against scikit-learn and PyTorch on scikit-learn's digits
(issue 20's benchmark; figures, not tests).

The same network everywhere: 64 -> 128 (relu) -> 10, cross-entropy, Adam
at lr 1e-3 (betas 0.9/0.999, eps 1e-8, no weight decay), batches of 32
shuffled each epoch, 30 epochs, on the same standardised 80/20 stratified
split. scikit-learn's MLPClassifier is told not to stop early (tol=0,
n_iter_no_change above the epochs) and alpha=0 (no L2), and computes in
float64 as it does for float64 input; synapse and PyTorch in float32.
Rounds alternate between the three so they see the same noise; the
figures are medians. Threads: `--threads N` for all three (rayon's
RAYON_NUM_THREADS, OpenMP/BLAS for numpy, torch.set_num_threads), 1 by
default: on a machine shared with other jobs, PyTorch's OpenMP threads
spin-wait on busy cores (26 s for this fit on 2 threads here, 0.5 s on 1).

Run (after `pip install ./python torch scikit-learn`; a release build):
    python3 scripts/bench_py.py [--rounds 5] [--threads 1]
Prints one markdown table: test accuracy, fit seconds and the ratios
(scikit-learn s / synapse s, PyTorch s / synapse s: above 1 means synapse
is faster), then the per-call time of `predict` on one row.
"""

import argparse
import os
import statistics
import sys
import time
import warnings


def threads_from_argv():
    """--threads, read before numpy, torch and synapse_nn start their pools."""
    n = "1"
    if "--threads" in sys.argv[:-1]:
        n = sys.argv[sys.argv.index("--threads") + 1]
    for var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = n
    return int(n)


THREADS = threads_from_argv()

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLP  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import synapse_nn as sn  # noqa: E402

HIDDEN, LR, BATCH, EPOCHS, SEED = 128, 1e-3, 32, 30, 0
# The networks' own predict, without an estimator's input validation.
RAW = {}


def data():
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, stratify=y, random_state=SEED)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xte), ytr, yte


def run_synapse(Xtr, Xte, ytr, yte):
    Xtr32, Xte32 = Xtr.astype(np.float32), Xte.astype(np.float32)
    clf = sn.MLPClassifier(
        hidden_layer_sizes=(HIDDEN,), optimizer="adam", lr=LR, batch_size=BATCH, epochs=EPOCHS, seed=SEED
    )
    t = time.perf_counter()
    clf.fit(Xtr32, ytr)
    seconds = time.perf_counter() - t
    RAW["synapse_nn Sequential.predict"] = clf.model_.predict
    return seconds, (clf.predict(Xte32) == yte).mean(), clf.predict


def run_sklearn(Xtr, Xte, ytr, yte):
    clf = SkMLP(
        hidden_layer_sizes=(HIDDEN,),
        solver="adam",
        learning_rate_init=LR,
        batch_size=BATCH,
        max_iter=EPOCHS,
        alpha=0.0,
        tol=0.0,
        n_iter_no_change=EPOCHS + 1,
        shuffle=True,
        random_state=SEED,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t = time.perf_counter()
        clf.fit(Xtr, ytr)
        seconds = time.perf_counter() - t
    return seconds, (clf.predict(Xte) == yte).mean(), clf.predict


def run_torch(Xtr, Xte, ytr, yte):
    import torch

    torch.set_num_threads(THREADS)
    torch.manual_seed(SEED)
    model = torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    xs = torch.from_numpy(Xtr.astype(np.float32))
    ys = torch.from_numpy(ytr.astype(np.int64))
    t = time.perf_counter()
    for _ in range(EPOCHS):
        order = torch.randperm(len(xs))
        for i in range(0, len(xs), BATCH):
            idx = order[i : i + BATCH]
            opt.zero_grad()
            loss_fn(model(xs[idx]), ys[idx]).backward()
            opt.step()
    seconds = time.perf_counter() - t
    model.eval()

    def predict(x):
        with torch.no_grad():
            return model(torch.from_numpy(x)).argmax(1).numpy()

    def forward(x):
        with torch.no_grad():
            return model(torch.from_numpy(x))

    RAW["PyTorch module forward"] = forward
    return seconds, (predict(Xte.astype(np.float32)) == yte).mean(), predict


def per_call(predict, row, calls):
    predict(row)
    t = time.perf_counter()
    for _ in range(calls):
        predict(row)
    return (time.perf_counter() - t) / calls


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=2000, help="predict calls on one row")
    p.add_argument("--threads", type=int, default=1, help="threads for every library (read first)")
    args = p.parse_args()
    Xtr, Xte, ytr, yte = data()
    runners = {"synapse_nn": run_synapse, "scikit-learn": run_sklearn, "PyTorch": run_torch}
    seconds = {k: [] for k in runners}
    accuracy, predictors = {}, {}
    for _ in range(args.rounds):
        for name, run in runners.items():
            s, acc, predict = run(Xtr, Xte, ytr, yte)
            seconds[name].append(s)
            accuracy[name], predictors[name] = acc, predict
    fit = {k: statistics.median(v) for k, v in seconds.items()}
    row = Xte[:1].astype(np.float32)
    overhead = {k: per_call(f, row, args.calls) for k, f in predictors.items()}
    raw = {k: per_call(f, row, args.calls) for k, f in RAW.items()}
    base = fit["synapse_nn"]
    print(
        f"digits: {len(Xtr)} training rows, {len(Xte)} test rows; 64-{HIDDEN}-10 relu, Adam lr {LR}, "
        f"batch {BATCH}, {EPOCHS} epochs; {THREADS} thread(s); median of {args.rounds} alternating rounds\n"
    )
    print("| library | test accuracy | fit s (min-max) | fit s / synapse_nn fit s | estimator predict, one row, us |")
    print("| --- | --- | --- | --- | --- |")
    for name in runners:
        print(
            f"| {name} | {accuracy[name]:.4f} | {fit[name]:.3f} ({min(seconds[name]):.3f}-{max(seconds[name]):.3f}) "
            f"| {fit[name] / base:.2f} | {overhead[name] * 1e6:.1f} |"
        )
    print("\n| without an estimator | predict one row, us |\n| --- | --- |")
    for name, t in raw.items():
        print(f"| {name} | {t * 1e6:.1f} |")


if __name__ == "__main__":
    main()
