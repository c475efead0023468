"""Ctrl-C while training: a signal sent from another thread raises
KeyboardInterrupt between batches, promptly, and leaves the model as of the
last finished step (found again by training a fresh copy step by step)."""

import _thread
import signal
import threading
import time

import numpy as np
import pytest

import synapse_nn as sn

ARCH = "linear(64,64), tanh, linear(64,1)"
RNG = np.random.default_rng(7)
X = RNG.standard_normal((4096, 64)).astype(np.float32)
y = RNG.standard_normal((4096, 1)).astype(np.float32)
STEP = dict(loss="mse", optimizer="sgd", lr=0.01, batch_size="full", shuffle=False)


@pytest.fixture(autouse=True)
def python_handles_sigint():
    """Python's own SIGINT handler (KeyboardInterrupt), whatever the process
    started with: a shell that runs pytest in the background (`cmd &`
    without job control) starts it with SIGINT ignored, and Python then
    leaves it ignored, so the signal these tests send would be lost."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def send_sigint():
    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)


@pytest.mark.parametrize("interrupt", [send_sigint, _thread.interrupt_main], ids=["pthread_kill", "interrupt_main"])
def test_ctrl_c_stops_between_batches(interrupt):
    net = sn.Sequential(ARCH, seed=4)
    start = net.state_dict()
    timer = threading.Timer(0.3, interrupt)
    began = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y, epochs=1_000_000, **STEP)
    assert time.perf_counter() - began < 5
    stopped = net.state_dict()
    assert not np.array_equal(stopped["0.weight"], start["0.weight"])
    # One full-batch SGD step per epoch: replay them until the weights match.
    replay = sn.Sequential(ARCH, seed=4)
    for _ in range(100_000):
        replay.fit(X, y, epochs=1, **STEP)
        now = replay.state_dict()
        if all(np.array_equal(now[k], v) for k, v in stopped.items()):
            return
    pytest.fail("the interrupted weights are not those of any finished step")


def test_training_goes_on_after_an_interrupt():
    net = sn.Sequential(ARCH, seed=4)
    threading.Timer(0.1, _thread.interrupt_main).start()
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y, epochs=1_000_000, **STEP)
    history = net.fit(X, y, epochs=2, **STEP)
    assert len(history["loss"]) == 2
