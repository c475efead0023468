"""Careless and hostile input from Python (issue "Nothing lost IV"): every
refusal names its argument, no backtrace and no crash, and a per-position
model's `predict(label=True)` does what the CLI's `--label` does."""

import numpy as np
import pytest

import synapse_nn as sn

IDS = "embedding(10,8), seqmean, linear(8,2)"
PER_POSITION = "embedding(10,8), linear(8,10)"


@pytest.mark.parametrize("seed", [-1, 2**64, 2**32])
def test_seed_out_of_range_names_seed(seed):
    with pytest.raises(ValueError, match=rf"^seed {seed}: expected a whole number from 0 to 4294967295$"):
        sn.Sequential("linear(3,1)", seed=seed)
    X = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=rf"^seed {seed}: expected a whole number from 0 to 4294967295$"):
        sn.Sequential("linear(3,1)").fit(X, X[:, :1], loss="mse", seed=seed)


def test_spec_of_another_type_names_spec():
    with pytest.raises(TypeError, match=r"^spec: expected a spec string"):
        sn.Sequential(123)


def test_normalize_on_ids_names_normalize():
    ids = np.random.default_rng(0).integers(0, 10, (16, 4))
    with pytest.raises(ValueError, match=r"^normalize standardises float features; the stack .* takes integer ids"):
        sn.Sequential(IDS).fit(ids, ids[:, 0] % 2, loss="cross-entropy", normalize=True)


def test_a_huge_unsigned_id_is_not_reported_as_negative():
    ids = np.full((2, 3), 2**64 - 1, dtype=np.uint64)
    with pytest.raises(ValueError, match=r"^X: id 18446744073709551615 is larger than any vocabulary"):
        sn.Sequential(IDS).predict(ids)


def test_context_with_arrays_names_the_option():
    ids = np.random.default_rng(0).integers(0, 10, (16, 4))
    with pytest.raises(ValueError, match=r"^context applies to text only$"):
        sn.Sequential(IDS).fit(ids, ids[:, 0] % 2, loss="cross-entropy", context=4)


def test_per_position_labels_are_rows_of_classes():
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 10, (12, 5))
    net = sn.Sequential(PER_POSITION, seed=2)
    net.fit(ids, (ids + 1) % 10, loss="cross-entropy", optimizer="adam", lr=0.05, epochs=3)
    labels = net.predict(ids, label=True)
    assert labels.shape == (12, 5) and labels.dtype == np.int64
    assert np.array_equal(labels, net.predict(ids).argmax(-1))
