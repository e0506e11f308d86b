"""DFA(parallel=True): the same gradients bit for bit, the BLAS thread count as its budget, its trial of both ways
and its pool's shutdown."""

import numpy as np
import pytest
from test_rules import _assert_same_grads, _setup

import nnlite as nn


@pytest.mark.parametrize("blas", [1, 2])
def test_dfa_parallel_equals_sequential(blas):
    from threadpoolctl import threadpool_limits

    net, x, y, caches, e = _setup(0, [6, 9, 8, 7, 4], "tanh", n=5)
    with threadpool_limits(limits=blas, user_api="blas"):
        rule = nn.DFA(seed=1, parallel=True)
        a = rule.gradients(net, caches, e, y)
        # the BLAS thread count is the budget: one thread means the blocks in turn, no pool
        assert (rule._pool is None) == (blas == 1) and rule._pool_size == (0 if blas == 1 else 2)
    _assert_same_grads(a, nn.DFA(seed=1).gradients(net, caches, e, y), tol=0)


def test_parallel_dfa_shuts_its_pool_down():
    from threadpoolctl import threadpool_limits

    rule = nn.DFA(seed=0, parallel=True)
    net = nn.mlp([5, 4, 4, 3], seed=0)
    out, caches = net.forward(np.zeros((2, 5), np.float32))
    _, e = nn.softmax_cross_entropy(out, np.array([0, 1]))
    with threadpool_limits(limits=2, user_api="blas"):
        rule.gradients(net, caches, e)
    pool = rule._pool
    assert pool is not None
    rule.close()
    assert rule._pool is None and pool._shutdown


def test_parallel_dfa_times_both_ways_then_keeps_the_faster():
    from threadpoolctl import threadpool_limits

    net, x, y, caches, e = _setup(0, [6, 9, 8, 7, 4], "tanh", n=5)
    rule = nn.DFA(seed=1, parallel=True)
    ref = nn.DFA(seed=1).gradients(net, caches, e, y)
    with threadpool_limits(limits=2, user_api="blas"):
        for _ in range(2 * rule.TRIALS):
            _assert_same_grads(rule.gradients(net, caches, e, y), ref, tol=0)
        trial = rule._trials[2]
        assert len(trial[True]) == len(trial[False]) == rule.TRIALS  # alternated, both ways timed
        for par, seq, want in ((1.0, 2.0, True), (3.0, 2.0, False), (1.9, 2.0, False)):  # 5 % is noise: sequential
            rule._settled.clear()
            rule._trials[2] = {True: [par] * rule.TRIALS, False: [seq] * rule.TRIALS}
            assert rule._choose_parallel(2) is want
        rule._trials[2] = {True: [3.0] * rule.TRIALS, False: [2.0] * rule.TRIALS}  # settles on sequential
        rule._settled.clear()
        _assert_same_grads(rule.gradients(net, caches, e, y), ref, tol=0)
        assert len(rule._trials[2][False]) == rule.TRIALS  # settled: no more timing
    rule.close()
