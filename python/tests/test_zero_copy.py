"""Inputs are read where numpy keeps them when the layout allows
(C-contiguous float32/float64, int64 ids), and converted by numpy
otherwise: checked by the address the module read from, and by numpy's
allocations (tracemalloc sees every numpy buffer)."""

import tracemalloc

import numpy as np
import pytest

import synapse_nn as sn
from synapse_nn._native import _read_address


def address(a):
    return a.__array_interface__["data"][0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_c_contiguous_floats_are_read_in_place(dtype):
    x = np.arange(12, dtype=dtype).reshape(3, 4)
    assert _read_address(x) == (address(x), False)
    view = x[1:]  # still C-contiguous: read at its own first row
    assert _read_address(view) == (address(view), False)


def test_int64_ids_are_read_in_place():
    ids = np.arange(8, dtype=np.int64).reshape(2, 4)
    assert _read_address(ids, "int64") == (address(ids), False)


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.asfortranarray(np.ones((3, 4), dtype=np.float32)),
        lambda: np.ones((3, 8), dtype=np.float32)[:, ::2],
        lambda: np.ones((3, 4), dtype=np.int32),
        lambda: [[1.0, 2.0], [3.0, 4.0]],
    ],
    ids=["fortran", "strided", "int32", "list"],
)
def test_other_layouts_are_converted(make):
    x = make()
    at, converted = _read_address(x)
    assert converted
    if isinstance(x, np.ndarray):
        assert at != address(x)


def numpy_peak(f):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        f()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_predict_makes_no_numpy_copy_of_its_input():
    net = sn.Sequential("linear(256,1)")
    x = np.random.default_rng(0).random((8192, 256), dtype=np.float32)  # 8 MiB
    net.predict(x[:1])
    in_place = numpy_peak(lambda: net.predict(x))
    converted = numpy_peak(lambda: net.predict(np.asfortranarray(x)))
    assert in_place < x.nbytes / 16  # the output (32 KiB) and small objects only
    assert converted >= x.nbytes  # the Fortran copy, then numpy's C copy of it


def test_fortran_order_gives_the_same_outputs():
    net = sn.Sequential("linear(3,2)", seed=1)
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert np.array_equal(net.predict(np.asfortranarray(x)), net.predict(x))
