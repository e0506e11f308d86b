"""The fully connected layer (:mod:`nnlite.ops.dense`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .. import backend
from .._validation import SeedLike, positive_int
from .base import LayerSpec, WeightLayer, check_input

__all__ = ["Dense"]


class Dense(WeightLayer):
    """Fully connected layer ``a = x @ W.T + b``.

    Parameters
    ----------
    d_in, d_out : int
        The input features D_in and output features D_out.

    Attributes
    ----------
    params : dict
        ``"W"`` of shape (D_out, D_in) and, with a bias, ``"b"`` of shape (D_out,) (initialised to 0, or with
        ``init="uniform"`` drawn like ``W``, PyTorch's default).

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> layer = nn.Dense(4, 3, rng=0)
    >>> out, cache = layer.forward(np.ones((2, 4), np.float32))
    >>> dx, grads = layer.backward(np.ones_like(out), cache)
    >>> out.shape, dx.shape, grads["W"].shape, out.dtype
    ((2, 3), (2, 4), (3, 4), dtype('float32'))
    """

    rows_independent = True

    _backward_op = staticmethod(backend.dense_backward)

    spec = LayerSpec("dense", {"units": "d_out", "init": "init", "bias": "bias"}, "d_in", "flat", ("init",))

    def __init__(
        self,
        d_in: int,
        d_out: int,
        *,
        init: str = "he",
        bias: bool = True,
        dtype: DTypeLike = np.float32,
        rng: SeedLike = None,
    ) -> None:
        self.d_in, self.d_out = positive_int(d_in, "d_in"), positive_int(d_out, "d_out")
        self._init_params((self.d_out, self.d_in), init, bias, dtype, rng)

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Any]:
        check_input(x, "Dense", self.dtype)
        if x.ndim != 2 or x.shape[1] != self.d_in:
            raise ValueError(f"Dense expects input of shape (N, {self.d_in}), got {x.shape}")
        return backend.dense_forward(x, self.W, self.b)

    def _output_shape_of(self, cache: Any) -> tuple[int, ...]:
        return (cache.shape[0], self.d_out)

    def carry(self, v: np.ndarray, cache: Any) -> np.ndarray:
        """``v @ W.T`` (no bias); ``v`` of shape (N, D_in) and the layer's dtype."""
        check_input(v, "Dense.carry", self.dtype)
        if v.ndim != 2 or v.shape[1] != self.d_in:
            raise ValueError(f"Dense.carry expects v of shape (N, {self.d_in}), got {v.shape}")
        return backend.products.matmul(v, self.W.T)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if tuple(input_shape) != (self.d_in,):
            raise ValueError(f"Dense expects input of shape ({self.d_in},), got {tuple(input_shape)}")
        return (self.d_out,)

    @classmethod
    def array_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        d_in, d_out = positive_int(config.get("d_in"), "d_in"), positive_int(config.get("d_out"), "d_out")
        shapes: dict[str, tuple[int, ...]] = {"param.W": (d_out, d_in)}
        if config.get("bias", True):
            shapes["param.b"] = (d_out,)
        return shapes

    def config(self) -> dict[str, Any]:
        return {
            "d_in": self.d_in,
            "d_out": self.d_out,
            "init": self.init,
            "bias": "b" in self.params,
            "dtype": self.dtype.name,
        }

    def __repr__(self):
        return f"Dense({self.d_in}, {self.d_out}, init={self.init!r}, bias={'b' in self.params})"
