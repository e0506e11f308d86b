"""nnlite.kernels: clear errors on bad input to every kernel (im2col/col2im, pooling, fwht, ternarize).

Runs as well with NUMBA_DISABLE_JIT=1 (then the kernels are pure Python loops, so shapes are kept small).
"""

import numpy as np
import pytest

from nnlite import kernels as K

# ---------------------------------------------------------------------------------------- bad input


def _f32(*shape):
    return np.zeros(shape, dtype=np.float32)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: K.im2col(_f32(2, 3, 4), 2, 2), ValueError, "4 dimensions"),
        (lambda: K.im2col(np.zeros((1, 1, 4, 4), dtype=np.int64), 2, 2), TypeError, "float32 or float64"),
        (lambda: K.im2col(_f32(1, 1, 4, 8)[..., ::2], 2, 2), ValueError, "C-contiguous"),
        (lambda: K.im2col(_f32(1, 1, 4, 4), 5, 2), ValueError, "does not fit"),
        (lambda: K.im2col(_f32(1, 1, 4, 4), 2, 2, stride=0), ValueError, "stride"),
        (lambda: K.im2col(_f32(1, 1, 4, 4), 2, 2, padding=(1, 2, 3)), TypeError, "padding"),
        (lambda: K.im2col(_f32(1, 1, 4, 4), 2.0, 2), TypeError, "kernel size"),
        (lambda: K.im2col([[[[1.0]]]], 1, 1), TypeError, "ndarray"),
        (lambda: K.col2im(_f32(4, 8), (1, 1, 4, 4), 2, 2), ValueError, r"\(4, 9\)"),
        (lambda: K.col2im(_f32(4, 9), (1, 1, 4), 2, 2), ValueError, "x_shape"),
        (lambda: K.maxpool2d_forward(_f32(1, 1, 2, 2), 3, 3), ValueError, "does not fit"),
        (lambda: K.maxpool2d_forward(_f32(1, 2, 2), 1, 1), ValueError, "4 dimensions"),
        (
            lambda: K.maxpool2d_backward(_f32(1, 1, 1, 1), np.zeros((1, 1, 1, 1), np.int32), (1, 1, 2, 2), 2, 2),
            TypeError,
            "int64",
        ),
        (
            lambda: K.maxpool2d_backward(_f32(1, 1, 1, 1), np.full((1, 1, 1, 1), 4), (1, 1, 2, 2), 2, 2),
            ValueError,
            "argmax entries",
        ),
        (lambda: K.avgpool2d_backward(_f32(1, 1, 2, 2), (1, 1, 2, 2), 2, 2), ValueError, "dout must have shape"),
        (lambda: K.avgpool2d_forward(np.zeros((1, 1, 2, 2), dtype=np.float16), 2, 2), TypeError, "float16"),
        (lambda: K.fwht(_f32(3, 6)), ValueError, "power-of-two"),
        (lambda: K.fwht(_f32(3, 0)), ValueError, "power-of-two"),
        (lambda: K.fwht(np.float32(1.0)), TypeError, "ndarray"),
        (lambda: K.fwht(np.zeros((), dtype=np.float32)), ValueError, "at least 1 dimension"),
        (lambda: K.fwht(np.zeros(8, dtype=np.int32)), TypeError, "float32 or float64"),
        (lambda: K.fwht(_f32(8, 4).T), ValueError, "C-contiguous"),
        (lambda: K.ternarize(_f32(3), -0.5), ValueError, ">= 0"),
        (lambda: K.ternarize(_f32(3), float("nan")), ValueError, ">= 0"),
        (lambda: K.ternarize(np.zeros(3, dtype=np.int8), 0.5), TypeError, "float32 or float64"),
        (lambda: K.ternarize(_f32(4, 4)[:, ::2], 0.5), ValueError, "C-contiguous"),
    ],
)
def test_bad_input_raises_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_fwht_refuses_read_only():
    x = _f32(4)
    x.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        K.fwht(x)
