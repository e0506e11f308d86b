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
