"""Sharded training steps (``nnlite.runtime.sharded.ShardedNetwork``): the same outputs and gradients as the whole
batch, under every rule, the policy that picks them, the one-thread BLAS around them, and the thread map under them."""

import itertools
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import seeds

import nnlite as nn
from nnlite.runtime import sharded
from nnlite.runtime.blocks import BlockRunner, ConcurrentBlocks
from nnlite.runtime.sharded import ShardedNetwork, auto_shards, shardable
from nnlite.runtime.step import executor
from nnlite.runtime.threads import blas_limit, blas_threads_now, parallel_map

RULES = {
    "bp": lambda: nn.BP(),
    "fa": lambda: nn.FA(seed=1),
    "dfa": lambda: nn.DFA(seed=1),
    "ifa": lambda: nn.IFA(seed=1),
    "lafs": lambda: nn.LAFS(seed=1),
    "kp": lambda: nn.KP(0.1, 0.01, seed=1),
    "drtp": lambda: nn.DRTP(seed=1),
    "sdfa": lambda: nn.SDFA(seed=1),
    "usf": lambda: nn.USF(),
    "dkp": lambda: nn.DKP(0.1, 0.01, seed=1),
    "local": lambda: nn.Local(seed=1),
}


def _net(kind, seed):
    if kind == "mlp":
        return nn.mlp([7, 9, 8, 4], dtype=np.float64, seed=seed), (7,)
    return nn.cnn((2, 9, 9), 4, channels=(3, 5), kernel_size=3, dtype=np.float64, seed=seed), (2, 9, 9)


def _step(net, rule, x, y, shards):
    runner = ShardedNetwork(net, shards) if shards > 1 else net
    out, caches = runner.forward(x)
    _, e = nn.softmax_cross_entropy(out.reshape(len(x), -1), y)
    return out, caches, rule.gradients(runner, caches, e, y)


@settings(max_examples=12, deadline=None)
@given(
    kind=st.sampled_from(["mlp", "cnn"]),
    rule=st.sampled_from(sorted(RULES)),
    n=st.integers(2, 13),
    shards=st.integers(2, 5),
    seed=seeds(),
)
def test_sharded_step_gives_the_whole_batch_gradients(kind, rule, n, shards, seed):
    net, shape = _net(kind, seed % 1000)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *shape))
    y = rng.integers(0, 4, n)
    out1, c1, g1 = _step(net, RULES[rule](), x, y, 1)
    out2, c2, g2 = _step(net, RULES[rule](), x, y, shards)
    assert not isinstance(c1, sharded.ShardedCaches) and len(c2.parts) == min(shards, n)
    bounds = [(a, z) for a, z, _ in c2.parts]  # contiguous rows, near-equal sizes
    assert bounds[0][0] == 0 and bounds[-1][1] == n and all(p[1] == q[0] for p, q in itertools.pairwise(bounds))
    assert max(z - a for a, z in bounds) - min(z - a for a, z in bounds) <= 1
    np.testing.assert_allclose(out2, out1, rtol=1e-12, atol=1e-14)
    for k in range(net.n_blocks):
        np.testing.assert_allclose(c2.block_outputs[k], c1.block_outputs[k], rtol=1e-12, atol=1e-14)
    assert len(g2) == len(g1)
    for a, b in zip(g1, g2):
        assert a.keys() == b.keys()
        for name in a:
            assert b[name].dtype == a[name].dtype
            np.testing.assert_allclose(b[name], a[name], rtol=1e-10, atol=1e-13)


def test_sharded_float32_stays_float32():
    net = nn.cnn((1, 8, 8), 3, channels=(4,), kernel_size=3, seed=0)
    x = np.random.default_rng(0).standard_normal((6, 1, 8, 8)).astype(np.float32)
    out, caches, grads = _step(net, nn.BP(), x, np.arange(6) % 3, 2)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for d in grads for g in d.values())


def test_sharding_refuses_layers_that_couple_rows():
    for extra in (nn.BatchNorm(5), nn.Dropout(0.5, seed=0)):
        net = nn.Sequential([nn.Dense(3, 5, rng=0), extra, nn.Tanh(), nn.Dense(5, 2, rng=1)])
        assert not shardable(net) and auto_shards(net, 128, 2) == 1
        with pytest.raises(ValueError, match=rf"shards=2 needs layers .*{type(extra).__name__}"):
            ShardedNetwork(net, 2).forward(np.zeros((4, 3), np.float32))


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "2"])
def test_bad_shards_are_refused(bad):
    net = nn.mlp([3, 4, 2], seed=0)
    with pytest.raises((TypeError, ValueError), match="shards"):
        ShardedNetwork(net, bad).forward(np.zeros((4, 3), np.float32))


def test_sharded_backward_refuses_a_signal_of_another_batch():
    net = ShardedNetwork(nn.mlp([3, 4, 2], seed=0), 2)
    _, caches = net.forward(np.zeros((6, 3), np.float32))
    with pytest.raises(ValueError, match=r"g has shape \(7, 2\), but block 1's output for this batch has shape"):
        net.backward_block(1, np.zeros((7, 2), np.float32), caches)
    with pytest.raises(ValueError, match="carry_block: v has shape"):
        net.carry_block(1, np.zeros((7, 4), np.float32), caches)


def test_need_delta_false_leaves_delta_out_only_when_sharded():
    net = nn.mlp([3, 4, 2], seed=0)
    x = np.ones((4, 3), np.float32)
    g = np.ones((4, 2), np.float32)
    for shards, want_none in ((1, False), (2, True)):
        runner = ShardedNetwork(net, shards)
        _, caches = runner.forward(x)
        assert (runner.backward_block(1, g, caches, need_delta=False)[2] is None) == want_none
        np.testing.assert_allclose(runner.backward_block(1, g, caches)[2], g)


def test_auto_shards_policy():
    mlp = nn.mlp([784, 32, 10], seed=0)
    conv = nn.cnn((1, 12, 12), 10, channels=(4,), kernel_size=3, seed=0)
    assert auto_shards(mlp, 128, 2) == 1  # dense: threaded BLAS
    assert auto_shards(conv, 128, 2) == 2 and auto_shards(conv, 128, 1) == 1
    assert auto_shards(conv, 2 * sharded.MIN_SHARD_ROWS - 1, 2) == 1  # too few rows for two shards
    assert auto_shards(conv, 128, 3) == 3


def test_sharded_step_holds_blas_at_one_thread():
    conv = nn.cnn((1, 12, 12), 10, channels=(4,), kernel_size=3, seed=0)
    with blas_limit(2):
        with executor(conv, 64) as runner:
            assert isinstance(runner, ShardedNetwork) and runner.shards == 2 and blas_threads_now() == 1
        assert blas_threads_now() == 2
        with executor(conv, 8) as runner:  # too small: the whole batch, BLAS as it was
            assert runner is conv and blas_threads_now() == 2


def _fit(threads, seen=None, monkeypatch=None):
    net = nn.cnn((1, 8, 8), 3, channels=(4,), kernel_size=3, dtype=np.float64, seed=0)
    if seen is not None:  # every training step's forward pass, with the shards it ran in
        sharded_forward, whole_forward = ShardedNetwork.forward, ConcurrentBlocks.forward

        def recording(self, x, train=True):
            seen.append((len(x), getattr(self, "shards", 1)))
            return (sharded_forward if isinstance(self, ShardedNetwork) else whole_forward)(self, x, train)

        monkeypatch.setattr(ShardedNetwork, "forward", recording)
        monkeypatch.setattr(ConcurrentBlocks, "forward", recording)
    rng = np.random.default_rng(0)
    data = rng.standard_normal((80, 1, 8, 8)), rng.integers(0, 3, 80)
    with blas_limit(threads):
        hist = nn.fit(
            net,
            nn.BP(),
            nn.softmax_cross_entropy,
            nn.SGD(0.05, momentum=0.9),
            data,
            epochs=2,
            batch_size=48,
            seed=0,
            progress=False,
        )
    return net, hist


def test_fit_runs_a_conv_net_in_shards_at_two_threads(monkeypatch):
    seen = []
    net2, h2 = _fit(2, seen, monkeypatch)
    monkeypatch.undo()
    assert seen == [(48, 2), (32, 2)] * 2  # every training step sharded, the last batch of 32 too
    net1, h1 = _fit(1)
    np.testing.assert_allclose(h2.train_loss, h1.train_loss, rtol=1e-12)
    for a, b in zip(net1.params(), net2.params()):
        for name in a:
            np.testing.assert_allclose(b[name], a[name], rtol=1e-10, atol=1e-13)


def test_parallel_dfa_leaves_the_cores_to_the_shards(monkeypatch):
    import threading

    net = nn.cnn((1, 8, 8), 3, channels=(4, 4), kernel_size=3, seed=0)
    x = np.random.default_rng(0).standard_normal((8, 1, 8, 8)).astype(np.float32)
    rule = nn.DFA(seed=1, parallel=True)
    callers = []

    def recording(runner):
        real = runner.backward_block

        def backward_block(*a, **k):
            callers.append(threading.current_thread())
            return real(*a, **k)

        monkeypatch.setattr(runner, "backward_block", backward_block)
        return runner

    with blas_limit(2):
        with executor(net, 32) as runner:  # as fit runs a step of 32 rows: two shards
            assert isinstance(runner, ShardedNetwork)
            out, caches = recording(runner).forward(x)
            _, e = nn.softmax_cross_entropy(out.reshape(8, -1), np.arange(8) % 3)
            rule.gradients(runner, caches, e)
        assert set(callers) == {threading.current_thread()}  # no second level of threads under the shards
        callers.clear()
        whole_runner = recording(ConcurrentBlocks(net, BlockRunner()))
        _, whole = whole_runner.forward(x)
        rule.gradients(whole_runner, whole, e)  # unsharded, the first trial takes the parallel way: two threads
        assert len(set(callers)) == 2


def test_parallel_map_keeps_order_and_runs_nested_calls_inline():
    where = {}

    def inner(i):
        where[("inner", i)] = threading.get_ident()
        return i * 10

    def outer(i):
        where[("outer", i)] = threading.get_ident()
        return [i, parallel_map(inner, [i, i + 1])]

    assert parallel_map(outer, [0, 2, 4]) == [[0, [0, 10]], [2, [20, 30]], [4, [40, 50]]]
    assert where[("outer", 0)] == threading.get_ident()  # the caller runs the first item
    assert len({where[("outer", i)] for i in (0, 2, 4)}) >= 2  # the others ran on the pool
    for i in (0, 2, 4):  # nested: in the outer item's own thread, no new threads
        assert where[("inner", i)] == where[("inner", i + 1)] == where[("outer", i)]


def test_parallel_map_raises_after_every_item_finished():
    done = []
    gate = threading.Event()

    def item(i):
        if i == 0:
            raise RuntimeError("item 0 failed")
        gate.wait(5)
        done.append(i)
        return i

    def release():
        gate.set()

    timer = threading.Timer(0.2, release)
    timer.start()
    with pytest.raises(RuntimeError, match="item 0 failed"):
        parallel_map(item, [0, 1])
    assert done == [1]  # the other item was not left running
    timer.cancel()


def test_an_interrupt_inside_a_sharded_step_keeps_the_finished_epoch(tmp_path):
    """Ctrl-C lands in the caller's shard mid-step: the last finished epoch is on disk, BLAS is back at its
    limit, no shard is left running, and the next sharded step works."""
    from nnlite.training.state import read_history

    net = nn.cnn((1, 8, 8), 3, channels=(4,), kernel_size=3, dtype=np.float64, seed=0)
    rng = np.random.default_rng(0)
    data = rng.standard_normal((64, 1, 8, 8)), rng.integers(0, 3, 64)
    pool = net.layers[2]  # MaxPool2d: its backward runs once in each shard
    backward = pool.backward
    seen = {"main": 0, "worker": 0, "running": 0}

    def interrupted(dout, cache):
        who = "main" if threading.current_thread() is threading.main_thread() else "worker"
        seen[who] += 1
        if who == "main" and seen["main"] == 3:  # epoch 2's first step (2 steps of 32 rows per epoch)
            raise KeyboardInterrupt
        seen["running"] += 1
        try:
            return backward(dout, cache)
        finally:
            seen["running"] -= 1

    pool.backward = interrupted
    with blas_limit(2):
        with pytest.raises(KeyboardInterrupt):
            nn.fit(
                net,
                nn.BP(),
                nn.softmax_cross_entropy,
                nn.SGD(0.05),
                data,
                epochs=3,
                batch_size=32,
                seed=0,
                progress=False,
                checkpoint_dir=tmp_path,
            )
        assert seen["running"] == 0 and seen["worker"] == 3  # the other shard of the broken step finished too
        assert blas_threads_now() == 2  # the step's one-thread BLAS limit was lifted
        assert read_history(tmp_path / "model.npz")["epoch"] == [1]  # the finished epoch, not the broken one
        pool.backward = backward
        out, caches = ShardedNetwork(nn.load(tmp_path / "model.npz"), 2).forward(data[0][:32])  # the pool serves
    assert isinstance(caches, sharded.ShardedCaches) and out.shape == (32, 3)


@pytest.mark.parametrize(
    "make", [lambda: nn.PEPITA(seed=1), lambda: nn.DTP(seed=1), lambda: nn.DDTP(seed=1)], ids=["pepita", "dtp", "ddtp"]
)
@pytest.mark.parametrize("shards", [2, 3])
def test_pepita_dtp_and_ddtp_run_sharded_through_the_block_api(make, shards):
    # their extra forward passes and weight updates go through the executor's block API (forward_block,
    # update_block, block_input, carry_prefix): sharded, the same gradients, signals and change as the whole batch
    net = nn.mlp([7, 9, 8, 6, 4], "tanh", dtype=np.float64, seed=0)
    net.bottleneck(0, 5, seed=0)  # the masks apply under sharding too
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((11, 7)), rng.integers(0, 4, 11)
    got = []
    for n in (1, shards):
        runner = ShardedNetwork(net, n) if n > 1 else net
        out, caches = runner.forward(x)
        _, e = nn.softmax_cross_entropy(out, y)
        s = make().step(runner, caches, e, y)
        assert isinstance(caches, sharded.ShardedCaches) == (n > 1)
        got.append(s)
    whole, split = got
    for a, b in zip(whole.grads, split.grads):
        for name in a:
            np.testing.assert_allclose(b[name], a[name], rtol=1e-10, atol=1e-13)
    for a, b in zip(whole.signals, split.signals):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-13)
    if whole.change is not None:  # DTP's mappings' update from the same noise
        for (dV1, dc1), (dV2, dc2) in zip(whole.change[0], split.change[0]):
            np.testing.assert_allclose(dV2, dV1, rtol=1e-10, atol=1e-13)
            np.testing.assert_allclose(dc2, dc1, rtol=1e-10, atol=1e-13)
