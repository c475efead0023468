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


def test_positions_count_from_zero_everywhere():
    # The first bad id sits at row 2, position 3 (numpy's indices): fit's
    # check of the data and predict's embedding both say so.
    ids = np.zeros((4, 5), np.int64)
    ids[2, 3] = 12
    net = sn.Sequential(IDS, seed=1)
    with pytest.raises(ValueError, match=r"^X: row 2, position 3: id 12 is not one of embedding\(10,8\)'s ids 0..9"):
        net.fit(ids, ids[:, 0] % 2, loss="cross-entropy")
    with pytest.raises(ValueError, match=r"^X: embedding\(10,8\): id 12 at row 2, position 3 is not one of its ids 0..9"):
        net.predict(ids)
    # A per-position class out of range: row 1, position 4.
    targets = np.zeros((4, 5), np.int64)
    targets[1, 4] = 10
    with pytest.raises(ValueError, match=r"^y: row 1, position 4: class 10 is out of range"):
        sn.Sequential(PER_POSITION).fit(ids % 10, targets, loss="cross-entropy")
    # And in the arrays' own checks, as before.
    X = np.zeros((3, 2), np.float32)
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"^X: row 2, column 1: NaN or infinity is not allowed$"):
        sn.Sequential("linear(2,1)").fit(X, np.zeros(3, np.float32), loss="mse")


def test_target_errors_name_y():
    X = np.zeros((4, 3), np.float32)
    net = sn.Sequential("linear(3,2)")
    with pytest.raises(ValueError, match=r"^y: it has 3 target columns but the stack `linear\(3,2\)` has 2 outputs$"):
        net.fit(X, np.zeros((4, 3), np.float32), loss="mse")
    with pytest.raises(ValueError, match=r"^y: data row 2, target column .*: 2 is outside \[0, 1\]"):
        sn.Sequential("linear(3,1)").fit(X, np.array([[0], [1], [2], [0]], np.float32), loss="bce")
