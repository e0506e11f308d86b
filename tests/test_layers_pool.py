"""MaxPool2d, AvgPool2d and Flatten (nnlite.layers.pool): forward against plain loops, backward, and IFA's
carry as the adjoint of backward.

Backward passes are checked against central finite differences in float64 on the scalar loss ``sum(out * R)``
(gradcheck.check_layer_gradients)."""

import numpy as np
from gradcheck import check_layer_gradients
from hypothesis import given
from hypothesis import strategies as st

from nnlite.layers import AvgPool2d, Flatten, MaxPool2d


# -- pooling, flatten ---------------------------------------------------------------------------------------------
@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.one_of(st.none(), st.integers(1, 3)))
    H, W = draw(st.integers(kh, kh + 5)), draw(st.integers(kw, kw + 5))
    return draw(st.integers(1, 3)), draw(st.integers(1, 3)), H, W, (kh, kw), stride, draw(st.integers(0, 2**31 - 1))


@given(pool_cases(), st.sampled_from([MaxPool2d, AvgPool2d]))
def test_pooling_backward_matches_finite_differences(case, cls):
    N, C, H, W, k, stride, seed = case
    rng = np.random.default_rng(seed)
    layer = cls(k, stride)
    x = rng.standard_normal((N, C, H, W))
    out, cache = layer.forward(x)
    assert out.shape == (N,) + layer.output_shape((C, H, W))
    check_layer_gradients(layer, x, rng)
    # forward against plain loops, and carry (IFA) is the adjoint of backward
    (kh, kw), (sh, sw) = layer.kernel_size, layer.stride
    red = np.max if cls is MaxPool2d else np.mean
    ref = np.array(
        [
            [
                [
                    [red(x[n, c, y * sh : y * sh + kh, q * sw : q * sw + kw]) for q in range(out.shape[3])]
                    for y in range(out.shape[2])
                ]
                for c in range(C)
            ]
            for n in range(N)
        ]
    )
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    v, u = rng.standard_normal(x.shape), rng.standard_normal(out.shape)
    cv = layer.carry(v, cache)
    assert cv.shape == out.shape
    assert abs((cv * u).sum() - (v * layer.backward(u, cache)[0]).sum()) < 1e-10 * (1 + np.abs(v).sum())
    np.testing.assert_allclose(layer.carry(x, cache), out, rtol=1e-12, atol=1e-12)


def test_flatten():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2)
    f = Flatten()
    out, cache = f.forward(x)
    assert out.shape == (2, 12) and f.output_shape((3, 2, 2)) == (12,)
    dx, g = f.backward(out * 2, cache)
    assert g == {} and dx.shape == x.shape
    np.testing.assert_array_equal(dx, x * 2)
    np.testing.assert_array_equal(f.carry(x, cache), out)
