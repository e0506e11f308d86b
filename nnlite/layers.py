"""Layer classes: they hold parameters and call the pure functions of :mod:`nnlite.ops`.

A layer keeps no per-batch state: ``forward(x, train) -> (out, cache)`` and ``backward(dout, cache) -> (dx, grads)``,
where ``grads`` is a dict with the same keys as ``params`` (empty for a layer without parameters).
Weight layers (``Dense``, ``Conv2d``) take two more switches in ``backward``: ``feedback`` (a matrix used in place of
``W`` to compute ``dx``, for Feedback Alignment) and ``need_dx`` (skip the ``dx`` product).

Every layer also has ``carry(v, cache)``: the layer's *linear* part applied forward to ``v``, used by IFA to carry a
gradient forward through the network (weight layers apply ``W`` without bias; shape-changing layers such as pooling
and flatten apply the same selection / averaging / reshape; activations are skipped and return ``v``).
"""
from __future__ import annotations

import math

import numpy as np

from .ops import activations as act
from .ops.dense import dense_backward, dense_forward

INITS = ("he", "glorot", "lecun", "zeros", "uniform")


def _rng(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def init_weight(shape, fan_in, fan_out, init, rng, dtype):
    """Draw a weight array with a named scheme.

    Parameters
    ----------
    shape : tuple
        ``(D_out, D_in)`` or ``(F, C, KH, KW)``.
    fan_in, fan_out : int
    init : {"he", "glorot", "lecun", "zeros", "uniform"}
    rng : numpy.random.Generator
    dtype : float32 or float64

    Notes
    -----
    he: ``N(0, 2/fan_in)``; lecun: ``N(0, 1/fan_in)``; glorot: ``U(-a, a)``, ``a = sqrt(6/(fan_in+fan_out))``;
    uniform: ``U(-a, a)``, ``a = 1/sqrt(fan_in)``; zeros: all 0.
    """
    if init == "he":
        w = rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)
    elif init == "lecun":
        w = rng.standard_normal(shape) * math.sqrt(1.0 / fan_in)
    elif init == "glorot":
        a = math.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-a, a, size=shape)
    elif init == "uniform":
        a = 1.0 / math.sqrt(fan_in)
        w = rng.uniform(-a, a, size=shape)
    elif init == "zeros":
        w = np.zeros(shape)
    else:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    return np.ascontiguousarray(w, dtype=dtype)


class Layer:
    """Base class. Subclasses set ``params`` (a dict of arrays) when they have parameters."""

    #: True for the layers that start a block (Dense, Conv2d).
    is_weight = False
    params = None

    def forward(self, x, train=True):
        raise NotImplementedError

    def backward(self, dout, cache):
        raise NotImplementedError

    def carry(self, v, cache):
        """Linear part of the layer applied to ``v`` (IFA). Default: identity (activations)."""
        return v

    def output_shape(self, input_shape):
        """Shape of one sample's output given one sample's input shape (batch axis excluded)."""
        return tuple(input_shape)

    def config(self):
        """Constructor arguments that rebuild this layer (JSON-serialisable; used by checkpoints)."""
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}()"


class Dense(Layer):
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

    is_weight = True

    def __init__(self, d_in, d_out, *, init="he", bias=True, dtype=np.float32, rng=None):
        for name, v in (("d_in", d_in), ("d_out", d_out)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        self.d_in, self.d_out, self.init = int(d_in), int(d_out), init
        self.dtype = _check_dtype(dtype)
        W = init_weight((self.d_out, self.d_in), self.d_in, self.d_out, init, _rng(rng), self.dtype)
        self.params = {"W": W}
        if bias:
            self.params["b"] = np.zeros(self.d_out, dtype=self.dtype)

    @property
    def W(self):
        return self.params["W"]

    @property
    def b(self):
        return self.params.get("b")

    def new_feedback(self, rng):
        """A fixed random matrix of ``W``'s shape, drawn with ``W``'s scheme (FA); "zeros" draws with "lecun"."""
        init = "lecun" if self.init == "zeros" else self.init
        return init_weight(self.W.shape, self.d_in, self.d_out, init, _rng(rng), self.dtype)

    def forward(self, x, train=True):
        if x.ndim != 2 or x.shape[1] != self.d_in:
            raise ValueError(f"Dense expects input of shape (N, {self.d_in}), got {x.shape}")
        return dense_forward(x, self.W, self.b)

    def backward(self, dout, cache, *, feedback=None, need_dx=True):
        if feedback is not None and feedback.shape != self.W.shape:
            raise ValueError(f"feedback must have W's shape {self.W.shape}, got {feedback.shape}")
        dx, dW, db = dense_backward(dout, cache, self.W, feedback=feedback, need_dx=need_dx,
                                    need_db="b" in self.params)
        grads = {"W": dW}
        if db is not None:
            grads["b"] = db
        return dx, grads

    def carry(self, v, cache):
        """``v @ W.T`` (no bias)."""
        return v @ self.W.T

    def output_shape(self, input_shape):
        if tuple(input_shape) != (self.d_in,):
            raise ValueError(f"Dense expects input of shape ({self.d_in},), got {tuple(input_shape)}")
        return (self.d_out,)

    def config(self):
        return {"d_in": self.d_in, "d_out": self.d_out, "init": self.init, "bias": "b" in self.params,
                "dtype": self.dtype.name}

    def __repr__(self):
        return f"Dense({self.d_in}, {self.d_out}, init={self.init!r}, bias={'b' in self.params})"


class _Activation(Layer):
    _fwd = staticmethod(act.identity_forward)
    _bwd = staticmethod(act.identity_backward)

    def forward(self, x, train=True):
        return self._fwd(x)

    def backward(self, dout, cache):
        return self._bwd(dout, cache), {}


class Tanh(_Activation):
    """``tanh(x)``."""
    _fwd = staticmethod(act.tanh_forward)
    _bwd = staticmethod(act.tanh_backward)


class Sigmoid(_Activation):
    """Logistic sigmoid."""
    _fwd = staticmethod(act.sigmoid_forward)
    _bwd = staticmethod(act.sigmoid_backward)


class ReLU(_Activation):
    """``max(x, 0)``."""
    _fwd = staticmethod(act.relu_forward)
    _bwd = staticmethod(act.relu_backward)


class Abs(_Activation):
    """``|x|``."""
    _fwd = staticmethod(act.abs_forward)
    _bwd = staticmethod(act.abs_backward)


class Identity(_Activation):
    """``x``."""


class LeakyReLU(Layer):
    """``x`` for ``x > 0``, ``slope * x`` otherwise; any slope (e.g. -0.5, Launay et al.'s best for DFA)."""

    def __init__(self, slope=0.01):
        slope = float(slope)
        if not math.isfinite(slope):
            raise ValueError(f"slope must be finite, got {slope}")
        self.slope = slope

    def forward(self, x, train=True):
        return act.leaky_relu_forward(x, self.slope)

    def backward(self, dout, cache):
        return act.leaky_relu_backward(dout, cache, self.slope), {}

    def config(self):
        return {"slope": self.slope}

    def __repr__(self):
        return f"LeakyReLU({self.slope})"


ACTIVATIONS = {
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "relu": ReLU,
    "abs": Abs,
    "identity": Identity,
    "leaky_relu": LeakyReLU,
}
