"""Pickling keeps the model file's bytes: the same weights, metadata and
predictions after a round trip, for Sequential and the estimators."""

import pickle

import numpy as np

import synapse_nn as sn

X = np.random.default_rng(0).standard_normal((60, 4)).astype(np.float32)
labels = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")


def test_sequential_pickles_as_its_model_file(tmp_path):
    net = sn.Sequential("linear(4,8), relu, linear(8,2)", seed=3)
    net.fit(X, (X[:, 0] > 0).astype(np.int64), loss="cross-entropy", normalize=True, epochs=3)
    back = pickle.loads(pickle.dumps(net))
    assert back.to_bytes() == net.to_bytes()
    net.save(tmp_path / "m.safetensors")
    assert (tmp_path / "m.safetensors").read_bytes() == net.to_bytes()
    assert np.array_equal(back.predict(X), net.predict(X))
    assert back.loss == "cross-entropy" and back.normalize is not None


def test_estimators_pickle():
    clf = sn.MLPClassifier(hidden_layer_sizes=(8,), epochs=20, random_state=0).fit(X, labels)
    back = pickle.loads(pickle.dumps(clf))
    assert list(back.classes_) == ["no", "yes"]
    assert np.array_equal(back.predict(X), clf.predict(X))
    assert np.array_equal(back.predict_proba(X), clf.predict_proba(X))
    reg = sn.MLPRegressor(hidden_layer_sizes=(8,), epochs=5).fit(X, X[:, 0])
    assert np.array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))
