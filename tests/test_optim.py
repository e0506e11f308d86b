"""The optimizers (nnlite.optim): they minimise, follow their equations, keep float32, refuse mismatches."""

import numpy as np
import pytest

import nnlite as nn


def _quadratic_problem(dtype=np.float32):
    rng = np.random.default_rng(0)
    target = rng.standard_normal((3, 4)).astype(dtype)
    params = [{"W": np.zeros((3, 4), dtype), "b": np.zeros(3, dtype)}]
    return target, params


@pytest.mark.parametrize(
    "opt",
    [
        nn.SGD(0.1),
        nn.SGD(0.05, momentum=0.9),
        nn.SGD(0.05, momentum=0.9, nesterov=True),
        nn.Adam(0.05),
        nn.RMSprop(0.01),
    ],
)
def test_optimizers_minimise_a_quadratic_and_keep_float32(opt):
    target, params = _quadratic_problem()
    for _ in range(500):
        grads = [{"W": params[0]["W"] - target, "b": params[0]["b"] - 1}]
        opt.step(params, grads)
    assert params[0]["W"].dtype == np.float32 and params[0]["b"].dtype == np.float32
    np.testing.assert_allclose(params[0]["W"], target, atol=2e-2)
    np.testing.assert_allclose(params[0]["b"], 1, atol=2e-2)


def test_sgd_momentum_matches_its_equations():
    p = [{"W": np.array([1.0])}]
    opt = nn.SGD(0.1, momentum=0.5, weight_decay=0.1)
    opt.step(p, [{"W": np.array([2.0])}])  # g=2+0.1*1=2.1, v=2.1, p=1-0.21
    np.testing.assert_allclose(p[0]["W"], [0.79])
    opt.step(p, [{"W": np.array([1.0])}])  # g=1+0.079, v=0.5*2.1+1.079=2.129, p=0.79-0.2129
    np.testing.assert_allclose(p[0]["W"], [0.79 - 0.2129])


def test_adam_first_step_is_lr_times_sign():
    p = [{"W": np.array([0.0, 0.0], np.float32)}]
    nn.Adam(0.01).step(p, [{"W": np.array([3.0, -0.5], np.float32)}])
    np.testing.assert_allclose(p[0]["W"], [-0.01, 0.01], rtol=1e-5)


def test_optimizer_rejects_mismatched_grads():
    with pytest.raises(ValueError, match="shape"):
        nn.SGD(0.1).step([{"W": np.zeros(3)}], [{"W": np.zeros(4)}])
    with pytest.raises(ValueError, match="lr must be positive"):
        nn.SGD(-1)
    with pytest.raises(ValueError, match="Nesterov"):
        nn.SGD(0.1, nesterov=True)


@pytest.mark.parametrize("make", [lambda: nn.SGD(0.1, momentum=0.9), lambda: nn.Adam(), lambda: nn.RMSprop()])
def test_a_stateful_optimizer_refuses_new_arrays_that_took_its_arrays_ids(make):
    """The optimizer remembers its parameters by weak reference, not by id: after a network is collected, a new
    array often takes the freed object's address, and so its id (CPython reuses the slot at once), and an id check
    would hand it the dead network's momenta."""
    import gc

    opt = make()
    params = [{"W": np.zeros((2, 2), np.float32)}]
    grads = [{"W": np.ones((2, 2), np.float32)}]
    opt.step(params, grads)
    old = id(params[0]["W"])
    del params
    gc.collect()
    keep = []  # arrays that did not take the slot stay alive, so the next one can
    while True:
        W = np.zeros((2, 2), np.float32)
        if id(W) == old:
            break
        keep.append(W)
        assert len(keep) < 10_000, "no new array took the freed array's id"
    with pytest.raises(ValueError, match="holds state for another network's parameters"):
        opt.step([{"W": W}], grads)


def test_an_unpickled_optimizer_keeps_its_state_and_binds_to_no_network():
    import pickle

    net = nn.mlp([4, 3], seed=0)
    grads = [{k: np.ones_like(v) for k, v in p.items()} for p in net.params()]
    opt = nn.SGD(0.1, momentum=0.9)
    opt.step(net.params(), grads)
    back = pickle.loads(pickle.dumps(opt))
    assert back.t == 1 and np.array_equal(back.state[0]["W"]["v"], opt.state[0]["W"]["v"])
    with pytest.raises(ValueError, match="holds state for another network's parameters"):
        back.step(net.params(), grads)
    opt.step(net.params(), grads)  # the original is still bound to its network
