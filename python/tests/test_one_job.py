"""One job, two interfaces (issue 25): the same options through
`synapse train` and through `Sequential.fit` give the same model file, bit
for bit, and the same history; the same bad option gives the same message.

Both interfaces map their names onto one training job in synapse-train
(`synapse_train::job`): a flag or a keyword left out of either mapping makes
a row of this table fail. Every option of the job appears in some row
(`test_every_option_has_a_row`)."""

import re
import shutil
import signal
import subprocess
import time

from pathlib import Path

import numpy as np
import pytest

import synapse_nn as sn

IRIS = "linear(4,8), tanh, linear(8,3)"
REGRESSION = "linear(10,8), relu, linear(8,1)"
CE = dict(loss="cross-entropy")

# (name, data, arch, seed, options). `data` is a file of examples/data, or
# "text" (a text written below), or "val-file" (iris with a validation file).
# Options are fit's keywords; the flags are the same names with dashes
# (`--no-shuffle` for shuffle=False).
COMBINATIONS = [
    ("sgd", "iris.csv", IRIS, 1, dict(CE, lr=0.1, epochs=4)),
    ("sgd momentum", "iris.csv", IRIS, 2, dict(CE, lr=0.05, momentum=0.9, epochs=4)),
    ("sgd nesterov decay", "iris.csv", IRIS, 3,
     dict(CE, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3, epochs=4)),
    ("adam", "iris.csv", IRIS, 4, dict(CE, optimizer="adam", lr=0.01, epochs=4)),
    ("adam betas", "iris.csv", IRIS, 5,
     dict(CE, optimizer="adam", lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6, epochs=4)),
    ("adamw", "iris.csv", IRIS, 6, dict(CE, optimizer="adamw", lr=0.01, weight_decay=0.05, epochs=4)),
    ("step schedule", "iris.csv", IRIS, 7, dict(CE, lr=0.2, lr_schedule="step:2:0.5", epochs=5)),
    ("exponential schedule", "iris.csv", IRIS, 8, dict(CE, lr=0.2, lr_schedule="exponential:0.9", epochs=5)),
    ("cosine schedule", "iris.csv", IRIS, 9,
     dict(CE, optimizer="adam", lr=0.02, lr_schedule="cosine:5:0.001", epochs=5)),
    ("plateau schedule", "iris.csv", IRIS, 10,
     dict(CE, lr=0.5, lr_schedule="plateau:1:0.5", val_split=0.2, epochs=6)),
    ("clipping", "iris.csv", IRIS, 11, dict(CE, lr=0.5, clip_grad_norm=0.5, epochs=4)),
    ("class weights auto", "iris.csv", IRIS, 12, dict(CE, lr=0.1, class_weights="auto", epochs=4)),
    ("class weights given", "iris.csv", IRIS, 13, dict(CE, lr=0.1, class_weights="1,2,0.5", epochs=4)),
    ("val split", "iris.csv", IRIS, 14, dict(CE, lr=0.1, val_split=0.25, epochs=4)),
    ("val file", "val-file", IRIS, 15, dict(CE, lr=0.1, epochs=4)),
    ("early stop", "iris.csv", IRIS, 16,
     dict(CE, optimizer="adam", lr=0.3, early_stop=2, val_split=0.3, epochs=40)),
    ("save best", "iris.csv", IRIS, 17, dict(CE, optimizer="adam", lr=0.3, save_best=True, val_split=0.3, epochs=8)),
    ("normalize", "iris.csv", IRIS, 18, dict(CE, lr=0.1, normalize=True, epochs=4)),
    ("normalize val split adam", "iris.csv", IRIS, 19,
     dict(CE, optimizer="adam", lr=0.01, normalize=True, val_split=0.2, epochs=4)),
    ("full batch", "iris.csv", IRIS, 20, dict(CE, lr=0.5, batch_size="full", epochs=6)),
    ("no shuffle", "iris.csv", IRIS, 21, dict(CE, lr=0.1, batch_size=7, shuffle=False, epochs=3)),
    ("regression named target", "diabetes.csv", REGRESSION, 22,
     dict(loss="mse", target="progression", normalize=True, lr=0.001, epochs=3)),
    ("regression sse", "diabetes.csv", REGRESSION, 23,
     dict(loss="sse", normalize=True, lr=1e-5, batch_size=16, epochs=3)),
    ("regression val split clipping", "diabetes.csv", REGRESSION, 24,
     dict(loss="mse", normalize=True, optimizer="adam", lr=0.01, val_split=0.2, clip_grad_norm=10.0, epochs=3)),
    ("text", "text", None, 25, dict(CE, context=8, epochs=3, lr=0.1)),
    ("text stride val split", "text", None, 26,
     dict(CE, context=8, stride=3, val_split=0.2, optimizer="adam", lr=0.01, epochs=3)),
    ("text early stop", "text", None, 27,
     dict(CE, context=6, stride=2, val_split=0.25, early_stop=1, optimizer="adam", lr=0.05, epochs=20)),
    ("text tokenizer", "text", "embedding(384,8), lstm(8,12), linear(12,384)", 28,
     dict(CE, context=8, stride=4, val_split=0.2, lr=0.1, epochs=3, tokenizer=str(
         Path(__file__).resolve().parents[2]
         / "crates/synapse-train/tests/data/gpt2/tiny-random/tokenizer.json"))),
]

TEXT = ("the quick brown fox jumps over the lazy dog. " * 12).strip()
TEXT_ARCH = "embedding({V},8), lstm(8,12), linear(12,{V})"


def text_arch():
    return TEXT_ARCH.format(V=len(set(TEXT)))


def flags(options):
    out = []
    for k, v in options.items():
        if k == "shuffle":
            if v is False:
                out.append("--no-shuffle")
            continue
        flag = f"--{k.replace('_', '-')}"
        if v is True:
            out.append(flag)
        elif v is not False:
            out += [flag, str(v)]
    return out


def read_log(path):
    """The CLI's --log as fit's history dict (without the seconds)."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    columns = {name: [float(line.split(",")[i]) for line in lines[1:]] for i, name in enumerate(header)}
    columns.pop("epoch")
    columns.pop("seconds")
    return columns


def sources(kind, data_dir, tmp_path):
    """The CLI's data flags and fit's data arguments for a row's data."""
    if kind == "text":
        path = tmp_path / "text.txt"
        path.write_text(TEXT)
        return ["--text", str(path)], dict(text=str(path))
    if kind == "val-file":
        table = (data_dir / "iris.csv").read_text().splitlines()
        header, rows = table[0], table[1:]
        train, val = tmp_path / "train.csv", tmp_path / "val.csv"
        train.write_text("\n".join([header] + rows[::2]) + "\n")
        val.write_text("\n".join([header] + rows[1::2]) + "\n")
        return ["--data", str(train), "--val", str(val)], dict(x=str(train), validation_data=str(val))
    return ["--data", str(data_dir / kind)], dict(x=str(data_dir / kind))


def cli_train(synapse_bin, data_flags, arch, seed, options, out, log, extra=()):
    args = [str(synapse_bin), "train", *data_flags, "--arch", arch, "--seed", str(seed), "--quiet",
            "--out", str(out), "--log", str(log), *flags(options), *extra]
    subprocess.run(args, check=True)


def assert_same(cli_file, cli_log, net, history, tmp_path):
    py_file = tmp_path / "py.safetensors"
    net.save(py_file)
    assert py_file.read_bytes() == cli_file.read_bytes()
    logged = read_log(cli_log)
    for name, values in logged.items():
        assert history[name] == values, name
    assert set(logged) == set(history) - {"seconds"}


@pytest.mark.parametrize("row", COMBINATIONS, ids=[r[0] for r in COMBINATIONS])
def test_same_options_same_model_and_history(row, synapse_bin, data_dir, tmp_path):
    _, kind, arch, seed, options = row
    arch = arch or text_arch()
    data_flags, data_args = sources(kind, data_dir, tmp_path)
    cli_file, cli_log = tmp_path / "cli.safetensors", tmp_path / "cli.csv"
    cli_train(synapse_bin, data_flags, arch, seed, options, cli_file, cli_log)
    net = sn.Sequential(arch, seed=seed)
    history = net.fit(**data_args, **options)
    assert_same(cli_file, cli_log, net, history, tmp_path)


def test_arrays_and_validation_arrays_give_the_files_model(synapse_bin, data_dir, tmp_path):
    """fit(X, y, validation_data=(X, y)) as `--data` and `--val` files."""
    table = (data_dir / "diabetes.csv").read_text().splitlines()
    header, rows = table[0], table[1:]
    train, val = tmp_path / "train.csv", tmp_path / "val.csv"
    train.write_text("\n".join([header] + rows[:300]) + "\n")
    val.write_text("\n".join([header] + rows[300:]) + "\n")
    options = dict(loss="mse", normalize=True, optimizer="adam", lr=0.01, epochs=3, save_best=True)
    cli_file, cli_log = tmp_path / "cli.safetensors", tmp_path / "cli.csv"
    cli_train(synapse_bin, ["--data", str(train), "--val", str(val)], REGRESSION, 31, options, cli_file, cli_log)

    def arrays(path):
        t = np.loadtxt(path, delimiter=",", skiprows=1)
        return t[:, :-1].astype(np.float32), t[:, -1:].astype(np.float32)

    net = sn.Sequential(REGRESSION, seed=31)
    history = net.fit(*arrays(train), validation_data=arrays(val), **options)
    # The model file keeps the same tensors and normalisation; a file's
    # rows are identified by content, arrays' too.
    cli = sn.load(cli_file)
    for name, value in cli.state_dict().items():
        assert np.array_equal(net.state_dict()[name], value), name
    assert net.normalize["mean"] == cli.normalize["mean"]
    logged = read_log(cli_log)
    for name, values in logged.items():
        assert history[name] == values, name


def test_resume_after_a_kill_is_the_same_run_from_either_interface(synapse_bin, data_dir, tmp_path):
    """`synapse train --checkpoint` killed mid-run; its checkpoint resumed by
    the command line and by Python gives the same model: the run's
    settings (data by content, validation split, optimizer...) are one
    string that both write and compare."""
    options = dict(CE, optimizer="adam", lr=0.01, val_split=0.2, normalize=True, clip_grad_norm=1.0,
                   lr_schedule="cosine:400:0.001", epochs=400)
    data = data_dir / "iris.csv"
    ckpt = tmp_path / "run.ckpt"
    args = [str(synapse_bin), "train", "--data", str(data), "--arch", IRIS, "--seed", "3", "--quiet",
            "--out", str(tmp_path / "never.safetensors"), "--checkpoint", str(ckpt), *flags(options)]
    proc = subprocess.Popen(args)
    deadline = time.monotonic() + 60
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not (tmp_path / "never.safetensors").exists()
    for side in ("cli", "py"):
        shutil.copy(ckpt, tmp_path / f"{side}.ckpt")
    cli_file, cli_log = tmp_path / "cli.safetensors", tmp_path / "cli.csv"
    cli_train(synapse_bin, ["--data", str(data)], IRIS, 3, options, cli_file, cli_log,
              extra=["--resume", str(tmp_path / "cli.ckpt"), "--checkpoint", str(tmp_path / "cli.ckpt")])
    net = sn.Sequential(IRIS, seed=3)
    history = net.fit(str(data), resume=str(tmp_path / "py.ckpt"), checkpoint=str(tmp_path / "py.ckpt"), **options)
    py_file = tmp_path / "py.safetensors"
    net.save(py_file)
    assert py_file.read_bytes() == cli_file.read_bytes()
    # Both histories hold the checkpoint's epochs and the resumed ones.
    logged = read_log(cli_log)
    for name, values in logged.items():
        assert history[name] == values, name
    assert len(history["loss"]) == 400


def test_every_option_has_a_row():
    """Each option of the job (what `fit` takes beyond Python's own two) is
    set by some row of the table, so a mapping left out shows."""
    covered = set()
    for _, kind, _, _, options in COMBINATIONS:
        covered |= set(options)
        covered |= {"text"} if kind == "text" else set()
        covered |= {"validation_data"} if kind == "val-file" else set()
    covered |= {"seed", "checkpoint", "resume"}  # every row; the resume test
    options = set(sn._fit_keywords()) - {"verbose", "warm_start", "allow_large"}
    assert options - covered == set()


# Bad options: (flags, keywords, the CLI's message). Python's message is the
# same with each flag written as its keyword.
BAD = [
    (["--epochs", "0"], dict(epochs=0), "--epochs must be at least 1"),
    (["--epochs", "-3"], dict(epochs=-3), "--epochs must be at least 1"),
    (["--batch-size", "0"], dict(batch_size=0), "--batch-size `0`: expected a whole number of at least 1, or full"),
    (["--early-stop", "0"], dict(early_stop=0), "--early-stop 0: expected a whole number of at least 1"),
    (["--val-split", "1.5"], dict(val_split=1.5), "--val-split 1.5 must be between 0 and 1"),
    (["--beta1", "0.5"], dict(beta1=0.5), "--beta1 applies to --optimizer 'adam' and 'adamw' only, not 'sgd'"),
    (["--optimizer", "adam", "--momentum", "0.9"], dict(optimizer="adam", momentum=0.9),
     "--momentum applies to --optimizer 'sgd' only, not 'adam'"),
    (["--nesterov"], dict(nesterov=True), None),
    (["--lr", "-1"], dict(lr=-1.0), None),
    (["--save-best"], dict(save_best=True), "--save-best needs validation rows: give --val or --val-split"),
    (["--clip-grad-norm", "0"], dict(clip_grad_norm=0.0), "--clip-grad-norm 0: expected a finite number greater than 0"),
    (["--lr-schedule", "sometimes"], dict(lr_schedule="sometimes"), None),
    (["--class-weights", "1,x"], dict(class_weights="1,x"), "--class-weights `1,x`: `x` is not a number"),
    (["--class-weights", "1,2"], dict(class_weights=[1.0, 2.0]), None),
    (["--context", "4"], dict(context=4), "--context applies to --text only"),
    (["--stride", "2"], dict(stride=2), "--stride applies to --text only"),
    (["--val-split", "0.2", "--val", "{data}"], dict(val_split=0.2, validation_data="{data}"),
     "--val and --val-split: give one of them, not both"),
    (["--target", "species,species"], dict(target="species,species"),
     "--target `species,species`: the column `species` is named twice"),
]

KEYWORD = {"--no-shuffle": "shuffle=False", "--val": "validation_data", "--data": "X"}


def as_keywords(message):
    return re.sub(r"--[a-z][a-z0-9-]*", lambda m: KEYWORD.get(m[0], m[0][2:].replace("-", "_")), message)


@pytest.mark.parametrize("row", BAD, ids=[" ".join(r[0]) for r in BAD])
def test_same_bad_option_same_message(row, synapse_bin, data_dir, tmp_path):
    bad_flags, keywords, expected = row
    data = str(data_dir / "iris.csv")
    bad_flags = [f.replace("{data}", data) for f in bad_flags]
    keywords = {k: (v.replace("{data}", data) if isinstance(v, str) else v) for k, v in keywords.items()}
    args = [str(synapse_bin), "train", "--data", data, "--arch", IRIS, "--loss", "cross-entropy",
            "--out", str(tmp_path / "never.safetensors"), *bad_flags]
    cli = subprocess.run(args, capture_output=True, text=True)
    assert cli.returncode == 2, cli.stderr
    lines = cli.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), cli.stderr
    cli_message = lines[0][len("error: "):]
    if expected is not None:
        assert cli_message == expected
    with pytest.raises(ValueError) as raised:
        sn.Sequential(IRIS).fit(data, loss="cross-entropy", **keywords)
    assert str(raised.value) == as_keywords(cli_message)
    assert "backtrace" not in str(raised.value)
    assert not (tmp_path / "never.safetensors").exists()


# The three drifts that the one job ended (issue 25).


def test_validation_file_columns_are_checked_in_python_too(data_dir, tmp_path):
    """`Sequential.fit(validation_data=FILE)` checks the file's columns
    against the data file's, as `synapse train --val` always did."""
    table = (data_dir / "iris.csv").read_text().splitlines()
    other = tmp_path / "other.csv"
    other.write_text("\n".join([table[0].replace("petal_width", "petal_w")] + table[1:40]) + "\n")
    data = str(data_dir / "iris.csv")
    with pytest.raises(ValueError) as raised:
        sn.Sequential(IRIS).fit(data, loss="cross-entropy", validation_data=str(other), epochs=1)
    assert str(raised.value) == (
        f"validation_data {other}: its columns differ from X {data}: `petal_w` where X has `petal_width`"
    )


def test_a_starting_models_normalisation_is_kept_by_both(synapse_bin, data_dir, tmp_path):
    """Trained on from a model file that normalises, without `normalize`:
    the model's statistics stay (`--init FILE`, `sn.load(FILE).fit`,
    `Sequential(init=FILE)`), so what it learns still means what predict
    gives it; the three give the same file."""
    data = data_dir / "diabetes.csv"
    first = tmp_path / "first.safetensors"
    options = dict(loss="mse", lr=0.001, epochs=2)
    cli_train(synapse_bin, ["--data", str(data)], REGRESSION, 1, dict(options, normalize=True), first, tmp_path / "a.csv")
    cli_file = tmp_path / "cli.safetensors"
    cli_train(synapse_bin, ["--data", str(data)], REGRESSION, 1, options, cli_file, tmp_path / "b.csv",
              extra=["--init", str(first)])
    assert sn.load(cli_file).normalize == sn.load(first).normalize
    for net in (sn.load(first), sn.Sequential(REGRESSION, init=str(first))):
        net.fit(str(data), **options)
        net.save(tmp_path / "py.safetensors")
        assert (tmp_path / "py.safetensors").read_bytes() == cli_file.read_bytes()


def test_python_resume_compares_the_full_settings(tmp_path):
    """A checkpoint of a text run resumed with another context, stride or
    validation split is refused, naming the option (Python's settings once
    left out target, context, stride and val_split)."""
    path = tmp_path / "t.txt"
    path.write_text(TEXT)
    ckpt = str(tmp_path / "c.ckpt")
    base = dict(text=str(path), loss="cross-entropy", context=8, stride=4, val_split=0.2, epochs=1)
    sn.Sequential(text_arch(), seed=2).fit(checkpoint=ckpt, **base)
    for change, said in [(dict(context=6), "context 8, this run has context 6"),
                         (dict(stride=3), "stride 4, this run has stride 3"),
                         (dict(val_split=0.3), "val_split 0.2, this run has val_split 0.3")]:
        with pytest.raises(ValueError) as raised:
            sn.Sequential(text_arch(), seed=2).fit(resume=ckpt, **dict(base, epochs=2, **change))
        assert str(raised.value) == f"resume {ckpt}: the checkpoint was made with {said}"
