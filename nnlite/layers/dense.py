"""The fully connected layer (:mod:`nnlite.ops.dense`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .._validation import SeedLike, as_generator, float_dtype
from ..kernels import dispatch
from ..ops.dense import dense_forward
from .base import WeightLayer, check_init, init_weight

__all__ = ["Dense"]


class Dense(WeightLayer):
    """Fully connected layer ``a = x @ W.T + b``.

    Parameters
    ----------
    d_in, d_out : int
    init : {"he", "glorot", "lecun", "zeros", "uniform"}
    bias : bool
    dtype : float32 (default) or float64
    rng : int, Generator or None

    Attributes
    ----------
    params : dict
        ``"W"`` of shape (D_out, D_in) and, with a bias, ``"b"`` of shape (D_out,) (initialised to 0).
    """

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
        for name, v in (("d_in", d_in), ("d_out", d_out)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        check_init(init)
        self.d_in, self.d_out, self.init = int(d_in), int(d_out), init
        self.dtype = float_dtype(dtype)
        W = init_weight((self.d_out, self.d_in), self.d_in, self.d_out, init, as_generator(rng), self.dtype)
        self.params = {"W": W}
        if bias:
            self.params["b"] = np.zeros(self.d_out, dtype=self.dtype)

    def new_feedback(self, rng: SeedLike) -> np.ndarray:
        """A fixed random matrix of ``W``'s shape, drawn with ``W``'s scheme (FA); "zeros" draws with "lecun"."""
        init = "lecun" if self.init == "zeros" else self.init
        return init_weight(self.W.shape, self.d_in, self.d_out, init, as_generator(rng), self.dtype)

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Any]:
        if x.ndim != 2 or x.shape[1] != self.d_in:
            raise ValueError(f"Dense expects input of shape (N, {self.d_in}), got {x.shape}")
        return dense_forward(x, self.W, self.b)

    def backward(
        self, dout: np.ndarray, cache: Any, *, feedback: np.ndarray | None = None, need_dx: bool = True
    ) -> tuple[Any, dict[str, np.ndarray]]:
        if feedback is not None and feedback.shape != self.W.shape:
            raise ValueError(f"feedback must have W's shape {self.W.shape}, got {feedback.shape}")
        dx, dW, db = dispatch.dense_backward(
            dout, cache, self.W, feedback=feedback, need_dx=need_dx, need_db="b" in self.params
        )
        grads = {"W": dW}
        if db is not None:
            grads["b"] = db
        return dx, grads

    def carry(self, v: np.ndarray, cache: Any) -> np.ndarray:
        """``v @ W.T`` (no bias)."""
        return v @ self.W.T

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if tuple(input_shape) != (self.d_in,):
            raise ValueError(f"Dense expects input of shape ({self.d_in},), got {tuple(input_shape)}")
        return (self.d_out,)

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
