"""The torch round trip of SPEC section 11: `state_dict()` loads into the
same `nn.Sequential` with `strict=True` and gives the same outputs, and
PyTorch's state_dict loads back. Runs where torch is installed."""

import numpy as np
import pytest

import synapse_nn as sn

torch = pytest.importorskip("torch")


def test_state_dict_round_trip():
    spec = "linear(4,8), tanh, batchnorm(8), linear(8,3)"
    net = sn.Sequential(spec, seed=2, dtype="float64")
    X = np.random.default_rng(1).standard_normal((32, 4))
    net.fit(X, np.arange(32) % 3, loss="cross-entropy", epochs=3, batch_size=8)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 3)
    ).double()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()}, strict=True)
    model.eval()
    with torch.no_grad():
        theirs = model(torch.from_numpy(X)).numpy()
    assert np.allclose(theirs, net.predict(X), rtol=1e-12, atol=1e-12)
    # And back: PyTorch's tensors (parameters with requires_grad too).
    with torch.no_grad():
        model[0].weight.mul_(2)
    net.load_state_dict(model.state_dict())
    assert np.array_equal(net.state_dict()["0.weight"], model[0].weight.detach().numpy())
    assert int(net.state_dict()["2.num_batches_tracked"]) == 12
