"""The 2-D convolution layer (the maths in :mod:`nnlite.ops.conv`, run by :mod:`nnlite.backend.conv`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .._validation import SeedLike, as_pair, positive_int
from ..backend import conv as _backend
from ..ops import conv as _conv
from .base import LayerSpec, WeightLayer, check_image, check_init, check_sample_image, compact

__all__ = ["Conv2d"]


class Conv2d(WeightLayer):
    """2-D convolution (cross-correlation) by im2col and one GEMM, or by FFT or direct loops where those are faster.

    The weight's scheme (``init``) draws with ``fan_in = C*KH*KW`` and ``fan_out = F*KH*KW``.

    Parameters
    ----------
    c_in, c_out : int
        Input channels C and filters F.
    kernel_size : int or (int, int)
        (KH, KW).
    stride : int or (int, int)
        The step between positions (SH, SW); default 1.
    padding : int or (int, int)
        Zero padding on both sides of each spatial axis.
    algorithm : {"auto", "im2col", "fft", "direct"}
        How the products are computed (`nnlite.backend.conv`): "im2col", "fft" (stride 1 only,
        :mod:`nnlite.backend.conv_fft`), "direct" (stride 1 only, :mod:`nnlite.backend.conv_direct`) or "auto"
        (default): direct loops for a stride-1 3x3 kernel on 1-3 input channels (a first layer on grey or RGB
        images), the FFT where the cost model of :func:`nnlite.backend.conv.conv2d_algorithm` finds it
        faster (large kernels and channel counts, e.g. 64 -> 64 filters of 5x5), im2col elsewhere (3x3 on more
        channels, strided convolutions). They agree to float32 rounding. A speed setting, like ``chunk``: not
        saved in ``config()``.

    Attributes
    ----------
    params : dict
        ``"W"`` of shape (F, C, KH, KW) and, with a bias, ``"b"`` of shape (F,) (initialised to 0, or with
        ``init="uniform"`` drawn like ``W``, PyTorch's default).
    algorithm : str
        As the argument; may be changed at any time (a backward pass follows the algorithm of its forward
        pass's cache).
    chunk : int or None
        Samples per im2col chunk (None: sized by :func:`nnlite.backend.conv.conv2d_chunk_size` to keep a chunk's
        columns in cache). A speed setting only, not saved in ``config()``: every value gives the same
        gradients up to the order of the sums over samples.

    Notes
    -----
    ``out[n, f, y, q] = b[f] + sum_{c, i, j} W[f, c, i, j] xpad[n, c, y*sh + i, q*sw + j]``
    (see :mod:`nnlite.ops.conv` for the backward pass). With im2col the forward cache keeps the input ``x``,
    not its columns (each backward chunk unfolds its samples again), and so do the direct loops; with the FFT it
    keeps the input's spectra (about twice x's bytes, :mod:`nnlite.backend.conv_fft`).

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> layer = nn.Conv2d(1, 8, 3, padding=1, rng=0)
    >>> out, cache = layer.forward(np.ones((2, 1, 8, 8), np.float32))
    >>> dx, grads = layer.backward(np.ones_like(out), cache)
    >>> out.shape, dx.shape, grads["W"].shape
    ((2, 8, 8, 8), (2, 1, 8, 8), (8, 1, 3, 3))
    """

    rows_independent = True

    chunk = None
    _backward_op = staticmethod(_backend.conv2d_backward)

    spec = LayerSpec(
        "conv2d",
        {"filters": "c_out", "kernel": "kernel_size", "stride": "stride", "padding": "padding", "init": "init",
         "bias": "bias"},
        "c_in",
        "image",
        ("init",),
    )  # fmt: skip

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int | np.integer | tuple[int, int],
        stride: int | np.integer | tuple[int, int] = 1,
        padding: int | np.integer | tuple[int, int] = 0,
        *,
        init: str = "he",
        bias: bool = True,
        dtype: DTypeLike = np.float32,
        rng: SeedLike = None,
        algorithm: str = "auto",
    ) -> None:
        if algorithm not in _backend.ALGORITHMS:
            raise ValueError(f"algorithm must be one of {_backend.ALGORITHMS}, got {algorithm!r}")
        self.algorithm = algorithm
        self.c_in, self.c_out = positive_int(c_in, "c_in"), positive_int(c_out, "c_out")
        check_init(init)
        self.kernel_size = as_pair(kernel_size, "kernel_size", 1)
        self.stride = as_pair(stride, "stride", 1)
        self.padding = as_pair(padding, "padding", 0)
        if algorithm in ("fft", "direct") and self.stride != (1, 1):
            what = "FFT" if algorithm == "fft" else "direct"
            raise ValueError(f"the {what} convolution is for stride 1 only, got stride {stride!r}")
        self._init_params((self.c_out, self.c_in, *self.kernel_size), init, bias, dtype, rng)

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Any]:
        check_image(x, "Conv2d", self.c_in, self.dtype)
        return _backend.conv2d_forward(
            x, self.W, self.b, self.stride, self.padding, chunk=self.chunk, algorithm=self.algorithm
        )

    def _output_shape_of(self, cache: Any) -> tuple[int, ...]:
        x = cache[0]
        return (x.shape[0], *self.output_shape(x.shape[1:]))

    def carry(self, v: np.ndarray, cache: Any) -> np.ndarray:
        """The convolution of ``v`` (N, C, H, W) with ``W``, same stride and padding, no bias."""
        check_image(v, "Conv2d.carry", self.c_in, self.dtype)
        return _backend.conv2d_forward(
            v, self.W, None, self.stride, self.padding, chunk=self.chunk, algorithm=self.algorithm
        )[0]

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        C, H, W = check_sample_image(input_shape, "Conv2d", self.c_in)
        kh, kw = self.kernel_size
        OH, OW = _conv.conv2d_output_shape(H, W, kh, kw, self.stride, self.padding)
        return (self.c_out, OH, OW)

    @classmethod
    def array_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        c_in, c_out = positive_int(config.get("c_in"), "c_in"), positive_int(config.get("c_out"), "c_out")
        kh, kw = as_pair(config.get("kernel_size"), "kernel_size", 1)
        shapes: dict[str, tuple[int, ...]] = {"param.W": (c_out, c_in, kh, kw)}
        if config.get("bias", True):
            shapes["param.b"] = (c_out,)
        return shapes

    def config(self) -> dict[str, Any]:
        return {
            "c_in": self.c_in,
            "c_out": self.c_out,
            "kernel_size": compact(self.kernel_size),
            "stride": compact(self.stride),
            "padding": compact(self.padding),
            "init": self.init,
            "bias": "b" in self.params,
            "dtype": self.dtype.name,
        }

    def __repr__(self):
        return (
            f"Conv2d({self.c_in}, {self.c_out}, kernel_size={compact(self.kernel_size)}, "
            f"stride={compact(self.stride)}, padding={compact(self.padding)}, init={self.init!r}, "
            f"bias={'b' in self.params})"
        )
