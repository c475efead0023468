"""The article from Python: one sigmoid neuron, numpy's starting weights
(np.random.seed(1); 2*np.random.random((3,1)) - 1), sse with SGD at lr 1
over 15000 full-batch iterations. The article's numpy code prints
0.99995840 for the new situation 1,0,0; the exact value (numpy's, and
`synapse predict --input 1,0,0` after the README's `synapse train`) is
0.9999584016709994."""

import numpy as np

import synapse_nn as sn

X = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]], dtype=np.float64)
y = np.array([[0, 1, 1, 0]], dtype=np.float64).T


def article():
    return sn.Sequential("linear(3,1,bias=false), sigmoid", init="numpy-uniform", seed=1, dtype="float64")


def test_starting_weights_are_numpys():
    np.random.seed(1)
    expected = (2 * np.random.random((3, 1)) - 1).T
    assert np.array_equal(article().state_dict()["0.weight"], expected)


def test_the_article_gives_numpys_answer():
    net = article()
    history = net.fit(X, y, loss="sse", optimizer="sgd", lr=1.0, epochs=15000, batch_size="full")
    assert len(history["loss"]) == 15000
    out = net.predict(np.array([[1.0, 0.0, 0.0]]))
    assert out.dtype == np.float64 and out.shape == (1, 1)
    assert out[0, 0] == 0.9999584016709994
    assert np.allclose(net.state_dict()["0.weight"], [[10.08740896, -0.20695366, -4.83757835]])


def test_the_article_in_numpy_gives_the_same_bits():
    # The article's own loop, in float64: the same rounding step for step.
    np.random.seed(1)
    w = 2 * np.random.random((3, 1)) - 1
    for _ in range(15000):
        out = 1 / (1 + np.exp(-(X @ w)))
        w += X.T @ ((y - out) * out * (1 - out))
    numpy_answer = 1 / (1 + np.exp(-(np.array([1.0, 0.0, 0.0]) @ w)))
    net = article()
    net.fit(X, y, loss="sse", optimizer="sgd", lr=1.0, epochs=15000, batch_size="full")
    assert numpy_answer[0] == 0.9999584016709994
    assert net.predict(np.array([[1.0, 0.0, 0.0]]))[0, 0] == numpy_answer[0]
