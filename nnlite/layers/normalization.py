"""Batch normalisation (:mod:`nnlite.ops.normalization`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .._validation import float_dtype, positive_int
from ..ops import normalization as _bn
from .base import Layer, LayerSpec, check_grad, check_input

__all__ = ["BatchNorm"]


class BatchNorm(Layer):
    """Batch normalisation over features (N, D) or over channels (N, C, H, W).

    Parameters
    ----------
    num_features : int
        D, or C for images.
    momentum : float
        Weight of the new batch in the running statistics, in (0, 1].
    eps : float
        Added to the variance.
    dtype : float32 (default) or float64
        The dtype of ``gamma``, ``beta`` and the running statistics, and of the inputs the layer accepts.

    Attributes
    ----------
    params : dict
        ``"gamma"`` (ones) and ``"beta"`` (zeros), shape (D,) or (C,). In a network they belong to the block of
        the weight layer before them and train from that block's local signal.
    buffers : dict
        ``"running_mean"`` (zeros) and ``"running_var"`` (ones), updated in training mode and used in
        evaluation mode; saved in checkpoints.

    Notes
    -----
    Training: ``out = gamma (x - mu_B) / sqrt(var_B + eps) + beta`` with the batch's statistics, then
    ``running <- (1 - momentum) running + momentum batch`` (unbiased variance). Evaluation: the running
    statistics. See :mod:`nnlite.ops.normalization` for the backward pass.

    ``carry`` (IFA) is the identity: batch norm is treated like an activation, not as a linear part of the
    network to carry through (its Jacobian in training mode couples the whole batch).

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> x = np.array([[1, 10], [3, 30]], np.float32)
    >>> out, cache = nn.BatchNorm(2).forward(x, train=True)
    >>> out.round(3)
    array([[-1., -1.],
           [ 1.,  1.]], dtype=float32)
    """

    spec = LayerSpec("batchnorm", {"momentum": "momentum", "eps": "eps"}, "num_features")

    def __init__(
        self, num_features: int, momentum: float = 0.1, eps: float = 1e-5, dtype: DTypeLike = np.float32
    ) -> None:
        if not isinstance(num_features, (int, np.integer)) or isinstance(num_features, bool) or num_features < 1:
            raise ValueError(f"num_features must be a positive integer, got {num_features!r}")
        momentum, eps = float(momentum), float(eps)
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum must be in (0, 1], got {momentum}")
        if not eps > 0.0 or not math.isfinite(eps):
            raise ValueError(f"eps must be a positive finite number, got {eps}")
        self.num_features, self.momentum, self.eps = int(num_features), momentum, eps
        self.dtype = float_dtype(dtype)
        n = self.num_features
        self.params = {"gamma": np.ones(n, dtype=self.dtype), "beta": np.zeros(n, dtype=self.dtype)}
        self.buffers = {"running_mean": np.zeros(n, dtype=self.dtype), "running_var": np.ones(n, dtype=self.dtype)}

    def _check(self, x):
        check_input(x, "BatchNorm", self.dtype)
        if x.ndim not in (2, 4) or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm({self.num_features}) expects input of shape (N, {self.num_features}) or "
                f"(N, {self.num_features}, H, W), got {x.shape}"
            )

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Any]:
        self._check(x)
        p, b = self.params, self.buffers
        if not train:
            return _bn.batchnorm_forward(x, p["gamma"], p["beta"], self.eps, b["running_mean"], b["running_var"])
        M = x.size // x.shape[1]
        if M < 2:
            raise ValueError(f"BatchNorm in training mode needs more than one value per feature, got input {x.shape}")
        out, cache = _bn.batchnorm_forward(x, p["gamma"], p["beta"], self.eps)
        _bn.update_running(b["running_mean"], b["running_var"], cache, self.momentum, M)
        return out, cache

    def backward(self, dout: np.ndarray, cache: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        check_grad(dout, cache[0].shape, cache[0].dtype, "BatchNorm.backward")
        dx, dgamma, dbeta = _bn.batchnorm_backward(dout, cache)
        return dx, {"gamma": dgamma, "beta": dbeta}

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        input_shape = tuple(input_shape)
        if len(input_shape) not in (1, 3) or input_shape[0] != self.num_features:
            raise ValueError(
                f"BatchNorm({self.num_features}) expects samples of shape ({self.num_features},) or "
                f"({self.num_features}, H, W), got {input_shape}"
            )
        return input_shape

    @classmethod
    def array_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        n = positive_int(config.get("num_features"), "num_features")
        return {
            f"{kind}.{k}": (n,)
            for kind, k in (
                ("param", "gamma"),
                ("param", "beta"),
                ("buffer", "running_mean"),
                ("buffer", "running_var"),
            )
        }

    def config(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps, "dtype": self.dtype.name}

    def __repr__(self):
        return f"BatchNorm({self.num_features}, momentum={self.momentum}, eps={self.eps})"
