"""``--threads auto``'s choice follows what it measures (a stand-in network whose forward pass is slow at the
thread count under test), re-checks only after long epochs, and leaves the BLAS limits as it found them."""

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from nnlite.cli import threads as T


def _blas_threads():
    return max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")


class Net:
    """forward() sleeps ``slow`` seconds at the thread count ``slow_at`` and ``fast`` otherwise."""

    def __init__(self, slow_at):
        self.slow_at, self.calls = slow_at, []

    def forward(self, x, train=True):
        assert train is False  # calibration must not change BatchNorm statistics or Dropout's generator
        n = _blas_threads()
        self.calls.append(n)
        time.sleep(0.015 if n == self.slow_at else 0.004)
        return x, None


@pytest.fixture
def two_threads():
    with threadpool_limits(limits=2, user_api="blas"):
        yield


def test_a_stalling_second_thread_means_one_thread(two_threads):
    n, info = T.calibrate(Net(slow_at=2), np.zeros((4, 3), np.float32), rounds=5)
    assert n == 1 and info["threads"][2] > info["threads"][1]


def test_a_faster_second_thread_is_kept(two_threads):
    net = Net(slow_at=1)
    n, _ = T.calibrate(net, np.zeros((4, 3), np.float32), rounds=5)
    assert n == 2 and net.calls.count(1) == net.calls.count(2) == 6  # alternating, warm-up round included


def test_auto_threads_rechecks_after_long_epochs_only_and_restores(two_threads, capsys):
    net = Net(slow_at=2)
    auto = T.AutoThreads(net, np.zeros((4, 3), np.float32))
    auto.start()
    assert auto.threads == 1 and _blas_threads() == 1
    calls = len(net.calls)
    auto.after_epoch(T.RECHECK_SECONDS / 10, 1)
    assert len(net.calls) == calls  # a short epoch: no measurement
    net.slow_at = 1  # the machine became quiet
    auto.after_epoch(T.RECHECK_SECONDS, 2)
    assert auto.threads == 2 and _blas_threads() == 2
    assert [h["chosen"] for h in auto.history] == [1, 2]
    out = capsys.readouterr().out
    assert "threads auto (start): 1 BLAS thread" in out and "threads auto (after epoch 2): 2 BLAS threads" in out
    auto.stop()
    assert _blas_threads() == 2
