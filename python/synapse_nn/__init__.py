"""synapse_nn: synapse's neural networks from Python (SPEC section 11).

numpy arrays in and out, the command line's spec strings, losses,
optimizers, inits and model files::

    import numpy as np, synapse_nn as sn
    net = sn.Sequential("linear(3,1,bias=false), sigmoid", init="numpy-uniform", seed=1, dtype="float64")
    history = net.fit(X, y, loss="sse", optimizer="sgd", lr=1.0, epochs=15000, batch_size="full")
    net.predict(np.array([[1.0, 0.0, 0.0]]))

and the scikit-learn estimators `MLPClassifier` and `MLPRegressor`
(imported when first used, so scikit-learn is needed only for them).
"""

import os

# candle's element-wise ops run on the calling thread, so that its pool
# and rayon's (where the CPU kernels split their work) do not take turns on
# the same cores; what `synapse train` does too (crates/synapse-train/src/
# runtime.rs). A value you set yourself is kept.
os.environ.setdefault("CANDLE_NUM_THREADS", "1")

from ._native import Sequential, _fit_keywords  # noqa: E402,F401

__all__ = ["Sequential", "load", "MLPClassifier", "MLPRegressor"]


def load(path, *, arch=None, device="cpu"):
    """Reads a model file written by `save` or `synapse train` (`arch` for a
    file without synapse metadata, such as PyTorch's `save_file`)."""
    return Sequential.load(os.fspath(path), arch=arch, device=device)


def _from_bytes(data):
    """A Sequential from a model file's bytes (what unpickling calls)."""
    return Sequential.from_bytes(data)


def __getattr__(name):
    if name in ("MLPClassifier", "MLPRegressor"):
        from . import sklearn as _sklearn

        return getattr(_sklearn, name)
    raise AttributeError(f"module 'synapse_nn' has no attribute '{name}'")
