"""nnlite.kernels.fused: every fused kernel equals its NumPy twin (hypothesis over shapes and dtypes), the ops and
optimizers give the same result on their fused and NumPy paths, and the wrappers refuse bad input.

Runs as well with NUMBA_DISABLE_JIT=1 (then the kernels are Python loops, so shapes are kept small).
"""

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnlite import backend as D
from nnlite import optim
from nnlite.backend import _switch
from nnlite.kernels import fused as F
from nnlite.ops import activations as act
from nnlite.ops import losses, updates


class R:
    """The NumPy twins of the fused kernels: the ops themselves (nnlite.ops), under the kernels' names."""

    tanh_grad = staticmethod(act.tanh_backward)
    sigmoid_grad = staticmethod(act.sigmoid_backward)
    relu_grad = staticmethod(act.relu_backward)
    softmax_xent = staticmethod(losses.softmax_cross_entropy)
    sgd_step = staticmethod(updates.sgd_step)
    adam_step = staticmethod(updates.adam_step)
    rmsprop_step = staticmethod(updates.rmsprop_step)

    @staticmethod
    def column_sums(x):
        from nnlite.ops.dense import dense_backward

        return dense_backward(x, np.zeros((x.shape[0], 1), x.dtype), np.zeros((x.shape[1], 1), x.dtype))[2]


NOJIT = bool(numba.config.DISABLE_JIT)
MAX_N = 6 if NOJIT else 40
MAX_D = 9 if NOJIT else 70
DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return {"rtol": 2e-6, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}


@st.composite
def pairs(draw):
    """(dout, y) of one random shape (N, D) and dtype, y in (-1, 1) as a tanh output is."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from(DTYPES))
    shape = (draw(st.integers(1, MAX_N)), draw(st.integers(1, MAX_D)))
    dout = rng.standard_normal(shape).astype(dtype)
    y = rng.uniform(-1, 1, shape).astype(dtype)
    y[rng.random(shape) < 0.2] = 0  # exact zeros: the ReLU mask's boundary
    return dout, y


@pytest.mark.parametrize("name", ["tanh_grad", "sigmoid_grad", "relu_grad"])
@given(case=pairs(), use_out=st.booleans())
def test_activation_grads_equal_twins(name, case, use_out):
    dout, y = case
    out = np.full_like(dout, np.nan) if use_out else None
    got = getattr(F, name)(dout, y, out)
    want = getattr(R, name)(dout.copy(), y.copy())
    assert got.dtype == dout.dtype and got.shape == dout.shape
    if use_out:
        assert got is out
    np.testing.assert_allclose(got, want, **_tol(dout.dtype))


def test_activation_grad_in_place_into_dout():
    rng = np.random.default_rng(0)
    dout = rng.standard_normal((5, 7)).astype(np.float32)
    y = np.tanh(rng.standard_normal((5, 7))).astype(np.float32)
    want = R.tanh_grad(dout, y)
    got = F.tanh_grad(dout, y, out=dout)
    assert got is dout
    np.testing.assert_allclose(got, want, rtol=2e-6)


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, MAX_N),
    c=st.integers(1, 12),
    dtype=st.sampled_from(DTYPES),
    scale=st.sampled_from([1.0, 30.0]),
)
def test_softmax_xent_equals_twin(seed, n, c, dtype, scale):
    rng = np.random.default_rng(seed)
    z = (scale * rng.standard_normal((n, c))).astype(dtype)
    labels = rng.integers(0, c, n)
    loss, e = F.softmax_xent(z, labels)
    loss_r, e_r = R.softmax_xent(z, labels)
    assert e.dtype == z.dtype and isinstance(loss, float)
    np.testing.assert_allclose(loss, loss_r, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
    np.testing.assert_allclose(e, e_r, **_tol(dtype))
    # rows of e sum to 0 (softmax sums to 1, minus the one-hot), and e is the gradient's sign pattern
    np.testing.assert_allclose(e.sum(axis=1), 0, atol=1e-6 if dtype == np.float32 else 1e-14)
    assert (e[np.arange(n), labels] <= 0).all()


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, MAX_N), d=st.integers(1, MAX_D), dtype=st.sampled_from(DTYPES))
def test_column_sums_equal_twin(seed, n, d, dtype):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(dtype)
    got = F.column_sums(x)
    assert got.dtype == x.dtype and got.shape == (d,)
    np.testing.assert_allclose(got, R.column_sums(x), rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


@st.composite
def params(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(
        st.sampled_from([(draw(st.integers(1, MAX_D)),), (draw(st.integers(1, MAX_N)), draw(st.integers(1, MAX_D)))])
    )
    p, g = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    s1 = rng.standard_normal(shape).astype(dtype)
    s2 = rng.uniform(0, 2, shape).astype(dtype)  # second moments are non-negative
    return p, g, s1, s2


@given(case=params(), momentum=st.sampled_from([0.0, 0.9]), wd=st.sampled_from([0.0, 1e-2]), nesterov=st.booleans())
def test_sgd_step_equals_twin(case, momentum, wd, nesterov):
    p, g, v, _ = case
    nesterov = nesterov and momentum > 0
    p2, v2, g0 = p.copy(), v.copy(), g.copy()
    F.sgd_step(p, g, v if momentum else None, lr=0.1, momentum=momentum, weight_decay=wd, nesterov=nesterov)
    R.sgd_step(p2, g, v2, lr=0.1, momentum=momentum, weight_decay=wd, nesterov=nesterov)
    assert p.dtype == p2.dtype
    np.testing.assert_array_equal(g, g0)  # the gradient is read only
    np.testing.assert_allclose(p, p2, **_tol(p.dtype))
    np.testing.assert_allclose(v, v2, **_tol(p.dtype))


@given(case=params(), t=st.integers(1, 5))
def test_adam_step_equals_twin(case, t):
    p, g, m, v = case
    p2, m2, v2 = p.copy(), m.copy(), v.copy()
    kw = dict(lr_t=1e-2 * (1 - 0.999**t) ** 0.5 / (1 - 0.9**t), beta1=0.9, beta2=0.999, eps=1e-8)
    F.adam_step(p, g, m, v, **kw)
    R.adam_step(p2, g, m2, v2, **kw)
    for a, b in ((p, p2), (m, m2), (v, v2)):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=2e-5 if p.dtype == np.float32 else 1e-11, atol=1e-6)


@given(case=params())
def test_rmsprop_step_equals_twin(case):
    p, g, _, s = case
    p2, s2 = p.copy(), s.copy()
    F.rmsprop_step(p, g, s, lr=1e-2, rho=0.9, eps=1e-8)
    R.rmsprop_step(p2, g, s2, lr=1e-2, rho=0.9, eps=1e-8)
    np.testing.assert_allclose(p, p2, rtol=2e-5 if p.dtype == np.float32 else 1e-11, atol=1e-6)
    np.testing.assert_allclose(s, s2, **_tol(p.dtype))


# -- the ops and optimizers: fused path == NumPy path ---------------------------------------------------------------
@pytest.fixture
def numpy_path(monkeypatch):
    """Force every op and optimizer onto its NumPy path."""

    def force():
        monkeypatch.setattr(_switch, "_ENABLED", False)

    return force


@pytest.mark.parametrize("dtype", DTYPES)
def test_ops_fused_and_numpy_paths_agree(dtype, numpy_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((9, 13)).astype(dtype)
    dout = rng.standard_normal((9, 13)).astype(dtype)
    W = rng.standard_normal((13, 13)).astype(dtype)
    z, labels = rng.standard_normal((9, 4)).astype(dtype), rng.integers(0, 4, 9)

    def run():
        out = [
            D.tanh_backward(dout, act.tanh_forward(x)[1]),
            D.sigmoid_backward(dout, act.sigmoid_forward(x)[1]),
            D.relu_backward(dout, act.relu_forward(x)[1]),
            *D.dense_backward(dout, x, W),
        ]
        loss, e = D.softmax_cross_entropy(z, labels)
        return out + [e], loss

    fused, loss_f = run()
    numpy_path()
    plain, loss_p = run()
    assert isinstance(loss_f, float)
    np.testing.assert_allclose(loss_f, loss_p, rtol=1e-5 if dtype == np.float32 else 1e-12)
    for a, b in zip(fused, plain):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, **_tol(dtype))


@pytest.mark.parametrize(
    "make",
    [
        lambda: optim.SGD(0.1, momentum=0.9, weight_decay=1e-3),
        lambda: optim.SGD(0.1, momentum=0.9, nesterov=True),
        lambda: optim.SGD(0.1),
        lambda: optim.Adam(1e-2),
        lambda: optim.RMSprop(1e-2),
    ],
)
def test_optimizers_fused_and_numpy_paths_agree(make, numpy_path):
    rng = np.random.default_rng(2)
    shapes = [{"W": (6, 5), "b": (6,)}, {"W": (3, 6)}]
    p0 = [{k: rng.standard_normal(s).astype(np.float32) for k, s in d.items()} for d in shapes]
    grads = [[{k: rng.standard_normal(s).astype(np.float32) for k, s in d.items()} for d in shapes] for _ in range(3)]

    def run():
        p = [{k: v.copy() for k, v in d.items()} for d in p0]
        opt = make()
        for g in grads:
            opt.step(p, g)
        return p

    fused = run()
    numpy_path()
    plain = run()
    for a, b in zip(fused, plain):
        for k in a:
            assert a[k].dtype == np.float32
            np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_non_contiguous_input_takes_the_numpy_path():
    rng = np.random.default_rng(3)
    dout = rng.standard_normal((8, 6)).astype(np.float32)[:, ::2]
    y = np.tanh(rng.standard_normal((8, 3))).astype(np.float32)
    assert not D.can_fuse(dout, y)
    np.testing.assert_allclose(D.tanh_backward(dout, y), dout * (1 - y * y), rtol=1e-6)


# -- errors -----------------------------------------------------------------------------------------------------------
def test_wrappers_refuse_bad_input():
    a = np.zeros((3, 4), np.float32)
    with pytest.raises(TypeError, match="dtype float32"):
        F.tanh_grad(a, a.astype(np.float64))
    with pytest.raises(ValueError, match=r"shape \(3, 4\)"):
        F.relu_grad(a, np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        F.sigmoid_grad(np.zeros((4, 6), np.float32)[:, ::2].T, a)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\)"):
        F.softmax_xent(a, np.array([0, 1, 4]))
    with pytest.raises(TypeError, match="int64"):
        F.softmax_xent(a, np.array([0, 1, 2], dtype=np.int32))
    with pytest.raises(ValueError, match="momentum buffer"):
        F.sgd_step(a, a, None, lr=0.1, momentum=0.9)
    with pytest.raises(TypeError, match="float32 or float64"):
        F.column_sums(np.zeros((2, 2), np.int64))


@given(case=params(), wd=st.sampled_from([0.0, 1e-2]))
def test_momentum_apply_equals_its_twin(case, wd):
    """The second half of a momentum update folded into a GEMM (``v`` already holds ``mu v + g``) is the twin's
    momentum step with ``mu = 1`` and ``g = 0``: ``v <- v + wd p; p <- p - lr v``."""
    from nnlite.kernels.momentum import momentum_apply

    p, _, v, _ = case
    p2, v2 = p.copy(), v.copy()
    momentum_apply(p, v, lr=0.1, weight_decay=wd)
    R.sgd_step(p2, np.zeros_like(p2), v2, lr=0.1, momentum=1.0, weight_decay=wd)
    assert p.dtype == p2.dtype == v.dtype
    np.testing.assert_allclose(p, p2, **_tol(p.dtype))
    np.testing.assert_allclose(v, v2, **_tol(p.dtype))


def test_momentum_apply_refuses_mismatched_arrays():
    from nnlite.kernels.momentum import momentum_apply

    p = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="one shape and dtype"):
        momentum_apply(p, np.zeros((4, 3), np.float32), lr=0.1)
    with pytest.raises(ValueError, match="one shape and dtype"):
        momentum_apply(p, np.zeros((3, 4), np.float64), lr=0.1)
