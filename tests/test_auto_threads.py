"""``--threads auto``'s choice follows what it measures (a stand-in step that is slow at the thread count under
test, and a stand-in /proc/stat), decides once per run, leaves the BLAS limits as it found them,
and times copies: the run's network, rule and optimizer do not change."""

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import nnlite as nn
from nnlite.runtime import autothreads as T


def _blas_threads():
    """The thread count of numpy's BLAS, the library that runs nnlite's products. scipy's bundled OpenBLAS, which
    an earlier test may have loaded (the FFT convolution imports scipy.fft), is a second library nnlite neither
    uses nor limits once it was loaded after nnlite's controller (nnlite._threads)."""
    libs = [p for p in threadpool_info() if p["user_api"] == "blas"]
    mine = [p for p in libs if "numpy" in p["filepath"]] or libs
    return max(p["num_threads"] for p in mine)


class Step:
    """step() sleeps ``slow`` seconds at the thread count ``slow_at`` and ``fast`` otherwise."""

    def __init__(self, slow_at):
        self.slow_at, self.calls = slow_at, []

    def __call__(self):
        n = _blas_threads()
        self.calls.append(n)
        time.sleep(0.006 if n == self.slow_at else 0.002)


@pytest.fixture
def two_threads():
    with threadpool_limits(limits=2, user_api="blas"):
        yield


def test_a_stalling_second_thread_means_one_thread(two_threads):
    n, med = T.calibrate(Step(slow_at=2), 2, rounds=3, steps=2)
    assert n == 1 and med[2] > med[1]


def test_a_faster_second_thread_is_kept(two_threads):
    step = Step(slow_at=1)
    n, _ = T.calibrate(step, 2, rounds=3, steps=2)
    assert n == 2 and step.calls.count(1) == step.calls.count(2) == 8  # alternating, warm-up round included


def test_idle_cores_reads_proc_stat(monkeypatch):
    lines = iter(["cpu  100 0 100 800 0 0 0 0 0 0\n", "cpu  200 0 100 900 0 0 0 0 0 0\n"])
    monkeypatch.setattr(T, "open", lambda *a, **k: __import__("io").StringIO(next(lines)), raising=False)
    monkeypatch.setattr(T.os, "cpu_count", lambda: 2)
    # 200 jiffies passed on 2 cores, 100 of them idle: one core busy, one idle
    assert T.idle_cores(window=0) == pytest.approx(1.0)


def test_a_busy_core_means_one_thread_without_measuring(two_threads, monkeypatch, capsys):
    monkeypatch.setattr(T, "idle_cores", lambda window=0.1: 1.0)
    made = []
    auto = T.AutoThreads(lambda: made.append(1) or Step(slow_at=1))
    auto.start()
    assert auto.threads == 1 and _blas_threads() == 1 and made == []
    assert "threads auto (start): 1 BLAS thread (1.0 idle cores)" in capsys.readouterr().out
    auto.stop()
    assert _blas_threads() == 2


def test_auto_threads_decides_once(two_threads, monkeypatch, capsys):
    monkeypatch.setattr(T, "idle_cores", lambda window=0.1: 2.0)
    step = Step(slow_at=2)
    auto = T.AutoThreads(lambda: step)
    assert auto.start() == 1 and _blas_threads() == 1
    assert not hasattr(auto, "after_epoch")  # nothing decides again during the run: one count per run
    assert [h["chosen"] for h in auto.history] == [1]
    assert capsys.readouterr().out.count("threads auto") == 1
    auto.stop()
    assert _blas_threads() == 2


def test_the_timed_steps_change_nothing_of_the_run(digits):
    net = nn.mlp([64, 16, 10], seed=0, dropout=0.2, batch_norm=True)
    rule, opt = nn.rules.KP(0.01, 0.0, seed=1), nn.optim.Adam(1e-3)
    x, y = digits.x_train[:64], digits.y_train[:64]
    nn.fit(net, rule, nn.softmax_cross_entropy, opt, (x, y), batch_size=32, progress=False, seed=0)
    before = (
        [{k: v.copy() for k, v in d.items()} for d in net.params()],
        {k: v.copy() for k, v in rule.state().items()},
    )
    state = ({k: v.copy() for k, v in opt.state_arrays().items()}, net.layers[1].rng.bit_generator.state)
    step = T.copied_step(net, rule, opt, nn.softmax_cross_entropy, x[:32], y[:32])
    for _ in range(3):
        step()
    for a, b in zip(before[0], net.params()):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    for k, v in before[1].items():
        np.testing.assert_array_equal(rule.state()[k], v)
    for k, v in state[0].items():
        np.testing.assert_array_equal(opt.state_arrays()[k], v)
    assert net.layers[1].rng.bit_generator.state == state[1]
    nn.fit(net, rule, nn.softmax_cross_entropy, opt, (x, y), batch_size=32, progress=False, seed=0)  # still bound


def test_an_explicit_count_is_kept_when_it_is_not_slower(two_threads, monkeypatch, capsys):
    monkeypatch.setattr(T, "idle_cores", lambda window=0.1: 2.0)
    monkeypatch.setattr(T, "usable_cores", lambda: 2)
    step = Step(slow_at=1)
    auto = T.AutoThreads(lambda: step, most=2)
    auto.start()
    assert auto.threads == 2 and _blas_threads() == 2
    assert capsys.readouterr().out == ""  # what was asked for: nothing to say
    auto.stop()


def test_an_explicit_count_falls_back_when_one_thread_is_faster(two_threads, monkeypatch, capsys):
    monkeypatch.setattr(T, "idle_cores", lambda window=0.1: 2.0)
    monkeypatch.setattr(T, "usable_cores", lambda: 2)
    auto = T.AutoThreads(lambda: Step(slow_at=2), most=2)
    auto.start()
    assert auto.threads == 1 and _blas_threads() == 1
    out = capsys.readouterr().out
    assert "threads 2 asked (start): 1 BLAS thread (2.0 idle cores, 2 usable; a training step: 1 thread" in out
    auto.stop()
    assert _blas_threads() == 2


def test_never_more_threads_than_the_cpus_the_process_may_use(two_threads, monkeypatch):
    # taskset -c 0: two OpenBLAS threads on one CPU took 192 ms a step against 9 ms on one thread
    monkeypatch.setattr(T, "idle_cores", lambda window=0.1: 2.0)
    monkeypatch.setattr(T.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert T.usable_cores() == 1
    made = []
    for most in (None, 2):
        auto = T.AutoThreads(lambda: made.append(1) or Step(slow_at=1), most=most)
        auto.start()
        assert auto.threads == 1 and _blas_threads() == 1
        auto.stop()
    assert made == []  # one usable CPU: nothing to measure


def test_the_command_checks_an_explicit_thread_count(monkeypatch, tmp_path, capsys):
    from nnlite.cli import main

    monkeypatch.setattr(T, "idle_cores", lambda window=0.1: 1.0)  # another process holds a core
    monkeypatch.setattr(T, "usable_cores", lambda: 2)
    monkeypatch.chdir(tmp_path)
    assert (
        main(["train", "--epochs", "1", "--train-size", "200", "--hidden", "16", "--threads", "2", "--no-progress"])
        == 0
    )
    assert "threads 2 asked (start): 1 BLAS thread (1.0 idle cores, 2 usable)" in capsys.readouterr().out
