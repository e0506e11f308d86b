"""DFA(parallel=True) in a step run by the runtime (``ConcurrentBlocks``, as fit runs it): the same gradients bit
for bit, the BLAS thread count as its budget (the blocks dealt evenly to that many threads of nnlite's one pool,
each on one BLAS thread), and the runtime's trial of both ways."""

import threading

import pytest
from test_rules import _assert_same_grads, _setup

import nnlite as nn
from nnlite.runtime.blocks import BlockRunner, ConcurrentBlocks, block_groups
from nnlite.runtime.threads import blas_threads_now


def _record_threads(net, monkeypatch):
    """Patch ``net.backward_block`` to note, per block, the thread that ran it and the BLAS threads in force."""
    seen = {}
    real = net.backward_block

    def backward_block(k, *a, **kw):
        seen[k] = (threading.current_thread().name, blas_threads_now())
        return real(k, *a, **kw)

    monkeypatch.setattr(net, "backward_block", backward_block)
    return seen


@pytest.mark.parametrize("blas", [1, 2])
def test_dfa_parallel_equals_sequential(blas, monkeypatch):
    from threadpoolctl import threadpool_limits

    net, x, y, caches, e = _setup(0, [6, 9, 8, 7, 4], "tanh", n=5)
    runner = ConcurrentBlocks(net, BlockRunner())
    seen = _record_threads(runner, monkeypatch)
    with threadpool_limits(limits=blas, user_api="blas"):
        rule = nn.DFA(seed=1, parallel=True)
        a = rule.gradients(runner, caches, e, y)  # the first trial step takes the parallel way
    # the BLAS thread count is the budget: one thread means the blocks in turn, in the caller, with its BLAS;
    # two mean two threads (the caller and one of nnlite's pool), each block on one BLAS thread
    names = {name for name, _ in seen.values()}
    assert sorted(seen) == [0, 1, 2, 3]
    if blas == 1:
        assert names == {threading.current_thread().name}
    else:
        assert len(names) == 2 and threading.current_thread().name in names
        assert all(name.startswith("nnlite") for name in names - {threading.current_thread().name})
        assert {b for _, b in seen.values()} == {1}
    monkeypatch.undo()
    _assert_same_grads(a, nn.DFA(seed=1).gradients(net, caches, e, y), tol=0)


def test_block_groups_deal_the_work_evenly_and_keep_block_order():
    net = nn.mlp([784, 800, 800, 800, 10], seed=0)  # three large blocks and a small one
    assert block_groups(net, 2) == [[0, 1], [2, 3]]  # largest first (1, 2, 0, 3), each to the least loaded
    assert block_groups(net, 1) == [[0, 1, 2, 3]]
    assert block_groups(net, 8) == [[0], [1], [2], [3]]  # no more groups than blocks
    cnn = nn.cnn((1, 28, 28), 10, seed=0)
    groups = block_groups(cnn, 2)
    assert sorted(k for g in groups for k in g) == list(range(cnn.n_blocks)) and all(g == sorted(g) for g in groups)


def test_parallel_dfa_times_both_ways_then_keeps_the_faster():
    from threadpoolctl import threadpool_limits

    net, x, y, caches, e = _setup(0, [6, 9, 8, 7, 4], "tanh", n=5)
    rule = nn.DFA(seed=1, parallel=True)
    ref = nn.DFA(seed=1).gradients(net, caches, e, y)
    blocks = BlockRunner()
    runner = ConcurrentBlocks(net, blocks)
    with threadpool_limits(limits=2, user_api="blas"):
        for _ in range(2 * blocks.TRIALS):
            _assert_same_grads(rule.gradients(runner, caches, e, y), ref, tol=0)
        trial = blocks.trials[2]
        assert len(trial[True]) == len(trial[False]) == blocks.TRIALS  # alternated, both ways timed
        for par, seq, want in ((1.0, 2.0, True), (3.0, 2.0, False), (1.9, 2.0, False)):  # 5 % is noise: sequential
            blocks.settled.clear()
            blocks.trials[2] = {True: [par] * blocks.TRIALS, False: [seq] * blocks.TRIALS}
            assert blocks.choose(2) is want
        blocks.trials[2] = {True: [3.0] * blocks.TRIALS, False: [2.0] * blocks.TRIALS}  # settles on sequential
        blocks.settled.clear()
        _assert_same_grads(rule.gradients(runner, caches, e, y), ref, tol=0)
        assert len(blocks.trials[2][False]) == blocks.TRIALS  # settled: no more timing
