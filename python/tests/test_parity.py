"""Parity with the command line: the same flags and seed give the same
bits. `synapse train` writes a model file; Python trains the same stack
with the same keywords, from the same file and from numpy arrays of it,
and saves: the files are byte for byte the same (weights, metadata,
labels and normalisation)."""

import subprocess

import numpy as np

import synapse_nn as sn

ARCH = "linear(4,16), tanh, linear(16,3)"
FLAGS = dict(
    loss="cross-entropy",
    optimizer="adam",
    lr=0.05,
    epochs=12,
    batch_size=16,
    val_split=0.2,
    normalize=True,
    lr_schedule="cosine:6:0.001",
    clip_grad_norm=1.0,
    class_weights="auto",
)


def cli_model(synapse_bin, data, out, arch=ARCH, seed=3, **flags):
    args = [str(synapse_bin), "train", "--data", str(data), "--arch", arch, "--seed", str(seed), "--quiet", "--out", str(out)]
    for k, v in flags.items():
        flag = f"--{k.replace('_', '-')}"
        if v is True:
            args.append(flag)
        elif v is not False:
            args += [flag, str(v)]
    subprocess.run(args, check=True)
    return out.read_bytes()


def test_same_file_same_flags_same_bytes(synapse_bin, data_dir, tmp_path):
    expected = cli_model(synapse_bin, data_dir / "iris.csv", tmp_path / "cli.safetensors", **FLAGS)
    net = sn.Sequential(ARCH, seed=3)
    net.fit(str(data_dir / "iris.csv"), **FLAGS)
    net.save(tmp_path / "py.safetensors")
    assert (tmp_path / "py.safetensors").read_bytes() == expected
    assert net.labels == ["setosa", "versicolor", "virginica"]


def test_numpy_arrays_give_the_clis_weights(synapse_bin, data_dir, tmp_path):
    flags = dict(loss="mse", optimizer="sgd", lr=1e-5, momentum=0.9, nesterov=True, epochs=7, batch_size=8)
    arch = "linear(10,8), relu, linear(8,1)"
    expected_file = tmp_path / "cli.safetensors"
    cli_model(synapse_bin, data_dir / "diabetes.csv", expected_file, arch=arch, seed=5, normalize=True, **flags)
    table = np.loadtxt(data_dir / "diabetes.csv", delimiter=",", skiprows=1)
    X, y = table[:, :-1].astype(np.float32), table[:, -1:].astype(np.float32)
    net = sn.Sequential(arch, seed=5)
    net.fit(X, y, normalize=True, **flags)
    cli = sn.load(expected_file)
    for name, value in cli.state_dict().items():
        assert np.array_equal(net.state_dict()[name], value), name
    assert np.array_equal(net.predict(X[:5]), cli.predict(X[:5]))


def test_verbose_prints_the_clis_progress_lines(synapse_bin, data_dir, tmp_path, capsys):
    args = [str(synapse_bin), "train", "--data", str(data_dir / "iris.csv"), "--arch", ARCH, "--seed", "3",
            "--loss", "cross-entropy", "--epochs", "250", "--val-split", "0.2", "--out", str(tmp_path / "m.safetensors")]
    cli = subprocess.run(args, check=True, capture_output=True, text=True).stderr
    net = sn.Sequential(ARCH, seed=3)
    net.fit(str(data_dir / "iris.csv"), loss="cross-entropy", epochs=250, val_split=0.2, verbose=1)
    ours = capsys.readouterr().err

    def lines(text):  # without the elapsed seconds
        return [line.rsplit(" (", 1)[0] for line in text.splitlines() if line.startswith("epoch ")]

    assert len(lines(ours)) == 85  # the first, every third (ceil(250 / 100)), the last
    assert lines(ours) == lines(cli)
