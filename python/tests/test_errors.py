"""Errors: ValueError with the library's one-line message naming the
argument, row and column; RuntimeError when the loss diverges; TypeError
for an unknown keyword."""

import numpy as np
import pytest

import synapse_nn as sn

X = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]], dtype=np.float32)
y = np.array([0, 1, 1, 0], dtype=np.float32)


def net():
    return sn.Sequential("linear(3,4), tanh, linear(4,1)")


def test_nan_names_row_and_column():
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"^X: row 2, column 1: NaN or infinity is not allowed$"):
        net().fit(bad, y, loss="mse")


def test_class_targets_must_be_indices():
    with pytest.raises(ValueError, match=r"^y: row 1: `1.5` is not a class index"):
        sn.Sequential("linear(3,2)").fit(X, np.array([0, 1.5, 1, 0]), loss="cross-entropy")


def test_width_names_the_stack():
    with pytest.raises(ValueError, match=r"^X: it has 2 input columns but the stack `linear\(3,4\), tanh, linear\(4,1\)` takes 3$"):
        net().fit(X[:, :2], y, loss="mse")


def test_rows_of_x_and_y_must_agree():
    with pytest.raises(ValueError, match=r"^y: has 3 rows but x has 4$"):
        net().fit(X, y[:3], loss="mse")


def test_bad_spec_names_the_element():
    with pytest.raises(ValueError, match=r"^spec: bad spec element 1 `tanhh`"):
        sn.Sequential("linear(3,4), tanhh")


def test_optimizer_settings_are_the_optimizers_rules():
    with pytest.raises(ValueError, match=r"^lr -1: expected "):
        net().fit(X, y, loss="mse", lr=-1.0)
    with pytest.raises(ValueError, match=r"^beta1 applies to optimizer 'adam' and 'adamw' only, not 'sgd'$"):
        net().fit(X, y, loss="mse", beta1=0.5)
    with pytest.raises(ValueError, match=r"^batch_size `0`: expected a whole number of at least 1, or full$"):
        net().fit(X, y, loss="mse", batch_size=0)
    with pytest.raises(ValueError, match=r"^loss `hinge`: expected sse, mse, bce, bce-logits or cross-entropy$"):
        net().fit(X, y, loss="hinge")
    with pytest.raises(ValueError, match=r"^val_split 1.5 must be between 0 and 1$"):
        net().fit(X, y, loss="mse", val_split=1.5)
    for epochs in (0, -3):
        with pytest.raises(ValueError, match=r"^epochs must be at least 1$"):
            net().fit(X, y, loss="mse", epochs=epochs)
    with pytest.raises(ValueError, match=r"^early_stop 0: expected a whole number of at least 1$"):
        net().fit(X, y, loss="mse", early_stop=0)


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="unexpected keyword argument 'learning_rate'"):
        net().fit(X, y, loss="mse", learning_rate=0.1)


def test_divergence_is_a_runtime_error_and_keeps_the_last_epoch():
    n = sn.Sequential("linear(3,1)", seed=2)
    big = X * 1e20
    with pytest.raises(RuntimeError, match=r"^training diverged: the loss became inf at epoch 1, batch 1; try a lower learning rate$"):
        n.fit(big, y * 1e20, loss="mse", lr=10.0, batch_size="full")
    assert np.isfinite(n.state_dict()["0.weight"]).all()


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        sn.load(tmp_path / "absent.safetensors")


def test_predict_checks_the_width():
    with pytest.raises(ValueError, match=r"^X: its rows \(2 input columns\) do not fit the model"):
        net().predict(X[:, :2])


def test_words_where_numbers_belong_name_the_argument():
    with pytest.raises(ValueError, match=r"^y: could not convert string to float"):
        net().fit(X, np.array(["no", "yes", "yes", "no"]), loss="mse")
