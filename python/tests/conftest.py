"""Shared fixtures: where the repository's data files are, and the `synapse`
binary for the parity tests (the one `cargo test --workspace` built, or
built here with cargo when there is none)."""

import os
import pathlib
import shutil
import subprocess

import pytest

# scikit-learn's array-API check runs only when scipy is imported with this
# set (else it is skipped): set before anything imports scipy.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data"


@pytest.fixture(scope="session")
def data_dir():
    return DATA


@pytest.fixture(scope="session")
def synapse_bin():
    """`$SYNAPSE_BIN`, else target/{debug,release}/synapse under
    `$CARGO_TARGET_DIR` or the repository, else `cargo build -p synapse-cli`."""
    if os.environ.get("SYNAPSE_BIN"):
        return pathlib.Path(os.environ["SYNAPSE_BIN"])
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for profile in ("debug", "release"):
        candidate = target / profile / "synapse"
        if candidate.exists():
            return candidate
    cargo = shutil.which("cargo")
    assert cargo, "the parity tests need the synapse binary: run `cargo build -p synapse-cli` first"
    subprocess.run([cargo, "build", "-q", "-p", "synapse-cli"], cwd=ROOT, check=True)
    return target / "debug" / "synapse"
