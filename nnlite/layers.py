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
from collections.abc import Callable

import numpy as np

from .ops import activations as act
from .kernels import dispatch
from .ops.dense import dense_forward

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
        dx, dW, db = dispatch.dense_backward(
            dout, cache, self.W, feedback=feedback, need_dx=need_dx, need_db="b" in self.params
        )
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
        return {
            "d_in": self.d_in,
            "d_out": self.d_out,
            "init": self.init,
            "bias": "b" in self.params,
            "dtype": self.dtype.name,
        }

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
    _bwd = staticmethod(dispatch.tanh_backward)


class Sigmoid(_Activation):
    """Logistic sigmoid."""

    _fwd = staticmethod(act.sigmoid_forward)
    _bwd = staticmethod(dispatch.sigmoid_backward)


class ReLU(_Activation):
    """``max(x, 0)``."""

    _fwd = staticmethod(act.relu_forward)
    _bwd = staticmethod(dispatch.relu_backward)


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

#: Other spellings accepted for a name of :data:`ACTIVATIONS`.
_ALIASES = {"lrelu": "leaky_relu"}


def canonical_activation(text: str) -> str:
    """The canonical spelling of an activation name: ``"Leaky-ReLU:-0.50"`` -> ``"leaky_relu:-0.5"``.

    Names are those of :data:`ACTIVATIONS` (case, ``-``/``_`` and the alias ``lrelu`` aside); only
    ``leaky_relu`` takes an argument, its slope (``leaky_relu`` alone has slope 0.01). This table is the one place
    where activation names are parsed (the builders and the CLI both call it).

    Raises
    ------
    ValueError
        An unknown name, an argument to a name that takes none, or a slope that is not a finite number.
    """
    if not isinstance(text, str):
        raise TypeError(f"an activation name must be a string, got {type(text).__name__}")
    head, sep, arg = text.strip().lower().partition(":")
    name = head.strip().replace("-", "_")
    name = _ALIASES.get(name, name)
    if name not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {text!r}; expected one of {', '.join(ACTIVATIONS)} "
            f"(leaky_relu:SLOPE for a slope, e.g. leaky_relu:-0.5)"
        )
    if not sep:
        return name
    if name != "leaky_relu":
        raise ValueError(f"activation {name!r} takes no argument, got {text!r}")
    try:
        slope = float(arg)
    except ValueError:
        slope = math.nan
    if not math.isfinite(slope):
        raise ValueError(f"leaky_relu takes a finite numeric slope (e.g. leaky_relu:-0.5), got {arg!r}")
    return f"leaky_relu:{slope:g}"


def activation_factory(activation: str | Callable[[], Layer]) -> Callable[[], Layer]:
    """A zero-argument factory of new activation layers, from a name (see :func:`canonical_activation`) or a
    factory (returned as it is). A Layer instance is refused: every block needs its own."""
    if isinstance(activation, Layer):
        raise TypeError("pass an activation name or a zero-argument factory, not a Layer instance (it would be shared)")
    if callable(activation):
        return activation
    if not isinstance(activation, str):
        raise TypeError(f"activation must be a name or a factory, got {activation!r}")
    name, _, arg = canonical_activation(activation).partition(":")
    if name == "leaky_relu":
        slope = float(arg) if arg else 0.01
        return lambda: LeakyReLU(slope)
    return ACTIVATIONS[name]


# -- convolutional networks: Conv2d, pooling, Flatten, BatchNorm, Dropout ------------------------------------------
from .kernels import conv_exec as _conv_exec  # noqa: E402
from .ops import conv as _conv  # noqa: E402
from .ops import dropout as _dropout  # noqa: E402
from .ops import normalization as _bn  # noqa: E402
from .ops import pool as _pool  # noqa: E402


def _pair(v, name, minimum):
    """An int or a pair of ints (each >= minimum) as a tuple of two Python ints."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        v = (int(v), int(v))
    elif (
        isinstance(v, (tuple, list))
        and len(v) == 2
        and all(isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)) for a in v)
    ):
        v = (int(v[0]), int(v[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {v!r}")
    if min(v) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return v


def _compact(pair):
    return pair[0] if pair[0] == pair[1] else list(pair)


def _check_image(x, layer, channels=None):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{layer} expects a numpy array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{layer} expects floating-point input, got {x.dtype}")
    if x.ndim != 4 or (channels is not None and x.shape[1] != channels):
        c = "C" if channels is None else channels
        raise ValueError(f"{layer} expects input of shape (N, {c}, H, W), got {x.shape}")


def _check_sample_image(input_shape, layer, channels=None):
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or (channels is not None and input_shape[0] != channels):
        c = "C" if channels is None else channels
        raise ValueError(f"{layer} expects samples of shape ({c}, H, W), got {input_shape}")
    return input_shape


class Conv2d(Layer):
    """2-D convolution (cross-correlation) by im2col and one GEMM.

    Parameters
    ----------
    c_in, c_out : int
        Input channels C and filters F.
    kernel_size : int or (int, int)
        (KH, KW).
    stride : int or (int, int)
    padding : int or (int, int)
        Zero padding on both sides of each spatial axis.
    init : {"he", "glorot", "lecun", "zeros", "uniform"}
        Drawn with ``fan_in = C*KH*KW`` and ``fan_out = F*KH*KW``.
    bias : bool
    dtype : float32 (default) or float64
    rng : int, Generator or None

    Attributes
    ----------
    params : dict
        ``"W"`` of shape (F, C, KH, KW) and, with a bias, ``"b"`` of shape (F,) (initialised to 0).
    chunk : int or None
        Samples per im2col chunk (None: sized by :func:`nnlite.kernels.conv_exec.conv2d_chunk_size` to keep a chunk's
        columns in cache). A speed setting only, not saved in ``config()``: every value gives the same
        gradients up to the order of the sums over samples.

    Notes
    -----
    ``out[n, f, y, q] = b[f] + sum_{c, i, j} W[f, c, i, j] xpad[n, c, y*sh + i, q*sw + j]``
    (see :mod:`nnlite.ops.conv` for the backward pass). The forward cache keeps the input ``x``, not its
    columns (each backward chunk unfolds its samples again).
    """

    is_weight = True
    chunk = None

    def __init__(
        self, c_in, c_out, kernel_size, stride=1, padding=0, *, init="he", bias=True, dtype=np.float32, rng=None
    ):
        for name, v in (("c_in", c_in), ("c_out", c_out)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        self.c_in, self.c_out, self.init = int(c_in), int(c_out), init
        self.kernel_size = _pair(kernel_size, "kernel_size", 1)
        self.stride = _pair(stride, "stride", 1)
        self.padding = _pair(padding, "padding", 0)
        self.dtype = _check_dtype(dtype)
        kh, kw = self.kernel_size
        shape = (self.c_out, self.c_in, kh, kw)
        self.params = {"W": init_weight(shape, self.fan_in, self.c_out * kh * kw, init, _rng(rng), self.dtype)}
        if bias:
            self.params["b"] = np.zeros(self.c_out, dtype=self.dtype)

    @property
    def fan_in(self):
        return self.c_in * self.kernel_size[0] * self.kernel_size[1]

    @property
    def W(self):
        return self.params["W"]

    @property
    def b(self):
        return self.params.get("b")

    def new_feedback(self, rng):
        """A fixed random kernel of ``W``'s shape drawn with ``W``'s scheme (FA); "zeros" draws with "lecun"."""
        init = "lecun" if self.init == "zeros" else self.init
        kh, kw = self.kernel_size
        return init_weight(self.W.shape, self.fan_in, self.c_out * kh * kw, init, _rng(rng), self.dtype)

    def forward(self, x, train=True):
        _check_image(x, "Conv2d", self.c_in)
        return _conv_exec.conv2d_forward(x, self.W, self.b, self.stride, self.padding, chunk=self.chunk)

    def backward(self, dout, cache, *, feedback=None, need_dx=True):
        if feedback is not None and feedback.shape != self.W.shape:
            raise ValueError(f"feedback must have W's shape {self.W.shape}, got {feedback.shape}")
        dx, dW, db = _conv_exec.conv2d_backward(
            dout, cache, self.W, feedback=feedback, need_dx=need_dx, need_db="b" in self.params
        )
        grads = {"W": dW}
        if db is not None:
            grads["b"] = db
        return dx, grads

    def carry(self, v, cache):
        """The convolution of ``v`` (N, C, H, W) with ``W``, same stride and padding, no bias."""
        _check_image(v, "Conv2d.carry", self.c_in)
        return _conv_exec.conv2d_forward(v, self.W, None, self.stride, self.padding, chunk=self.chunk)[0]

    def output_shape(self, input_shape):
        C, H, W = _check_sample_image(input_shape, "Conv2d", self.c_in)
        kh, kw = self.kernel_size
        OH, OW = _conv.conv2d_output_shape(H, W, kh, kw, self.stride, self.padding)
        return (self.c_out, OH, OW)

    def config(self):
        return {
            "c_in": self.c_in,
            "c_out": self.c_out,
            "kernel_size": _compact(self.kernel_size),
            "stride": _compact(self.stride),
            "padding": _compact(self.padding),
            "init": self.init,
            "bias": "b" in self.params,
            "dtype": self.dtype.name,
        }

    def __repr__(self):
        return (
            f"Conv2d({self.c_in}, {self.c_out}, kernel_size={_compact(self.kernel_size)}, "
            f"stride={_compact(self.stride)}, padding={_compact(self.padding)}, init={self.init!r}, "
            f"bias={'b' in self.params})"
        )


class _Pool2d(Layer):
    _name = "Pool2d"

    def __init__(self, kernel_size, stride=None):
        self.kernel_size = _pair(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", 1)

    def output_shape(self, input_shape):
        C, H, W = _check_sample_image(input_shape, self._name)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if kh > H or kw > W:
            raise ValueError(f"{self._name} window {self.kernel_size} does not fit an input of {H}x{W}")
        return (C, (H - kh) // sh + 1, (W - kw) // sw + 1)

    def config(self):
        return {"kernel_size": _compact(self.kernel_size), "stride": _compact(self.stride)}

    def __repr__(self):
        return f"{self._name}(kernel_size={_compact(self.kernel_size)}, stride={_compact(self.stride)})"


class MaxPool2d(_Pool2d):
    """Max pooling over ``KH x KW`` windows, no padding; ``stride`` defaults to the window size.

    ``carry`` (IFA) picks the values of ``v`` at the forward pass's winners: the Jacobian of the pooling at the
    forward input, which is a selection, applied to ``v``.
    """

    _name = "MaxPool2d"

    def forward(self, x, train=True):
        _check_image(x, self._name)
        return _pool.maxpool2d_forward_op(x, *self.kernel_size, self.stride)

    def backward(self, dout, cache):
        return _pool.maxpool2d_backward_op(dout, cache), {}

    def carry(self, v, cache):
        return _pool.maxpool2d_carry(v, cache)


class AvgPool2d(_Pool2d):
    """Average pooling over ``KH x KW`` windows, no padding; ``stride`` defaults to the window size.

    ``carry`` (IFA) averages ``v`` the same way (the pooling is linear).
    """

    _name = "AvgPool2d"

    def forward(self, x, train=True):
        _check_image(x, self._name)
        return _pool.avgpool2d_forward_op(x, *self.kernel_size, self.stride)

    def backward(self, dout, cache):
        return _pool.avgpool2d_backward_op(dout, cache), {}

    def carry(self, v, cache):
        return _pool.avgpool2d_carry(v, cache)


class Flatten(Layer):
    """``(N, ...) -> (N, prod(...))`` (a reshape; a view when the input is contiguous). ``carry`` reshapes too."""

    def forward(self, x, train=True):
        if not isinstance(x, np.ndarray) or x.ndim < 2:
            raise ValueError(f"Flatten expects an array of shape (N, ...), got {getattr(x, 'shape', type(x).__name__)}")
        return x.reshape(x.shape[0], -1), x.shape

    def backward(self, dout, cache):
        return dout.reshape(cache), {}

    def carry(self, v, cache):
        return v.reshape(v.shape[0], -1)

    def output_shape(self, input_shape):
        return (int(math.prod(input_shape)),)


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
    """

    def __init__(self, num_features, momentum=0.1, eps=1e-5, dtype=np.float32):
        if not isinstance(num_features, (int, np.integer)) or isinstance(num_features, bool) or num_features < 1:
            raise ValueError(f"num_features must be a positive integer, got {num_features!r}")
        momentum, eps = float(momentum), float(eps)
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum must be in (0, 1], got {momentum}")
        if not eps > 0.0 or not math.isfinite(eps):
            raise ValueError(f"eps must be a positive finite number, got {eps}")
        self.num_features, self.momentum, self.eps = int(num_features), momentum, eps
        self.dtype = _check_dtype(dtype)
        n = self.num_features
        self.params = {"gamma": np.ones(n, dtype=self.dtype), "beta": np.zeros(n, dtype=self.dtype)}
        self.buffers = {"running_mean": np.zeros(n, dtype=self.dtype), "running_var": np.ones(n, dtype=self.dtype)}

    def _check(self, x):
        if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
            raise TypeError(
                f"BatchNorm expects a floating-point numpy array, got {getattr(x, 'dtype', type(x).__name__)}"
            )
        if x.ndim not in (2, 4) or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm({self.num_features}) expects input of shape (N, {self.num_features}) or "
                f"(N, {self.num_features}, H, W), got {x.shape}"
            )

    def forward(self, x, train=True):
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

    def backward(self, dout, cache):
        dx, dgamma, dbeta = _bn.batchnorm_backward(dout, cache)
        return dx, {"gamma": dgamma, "beta": dbeta}

    def output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) not in (1, 3) or input_shape[0] != self.num_features:
            raise ValueError(
                f"BatchNorm({self.num_features}) expects samples of shape ({self.num_features},) or "
                f"({self.num_features}, H, W), got {input_shape}"
            )
        return input_shape

    def config(self):
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps, "dtype": self.dtype.name}

    def __repr__(self):
        return f"BatchNorm({self.num_features}, momentum={self.momentum}, eps={self.eps})"


class Dropout(Layer):
    """Inverted dropout: in training mode each unit is kept with probability ``1 - p`` and scaled by
    ``1/(1-p)``; in evaluation mode the identity.

    Parameters
    ----------
    p : float
        Drop probability in [0, 1).
    seed : int, Generator or None
        Seeds the layer's Generator, which draws a new mask at every training-mode forward pass.

    Notes
    -----
    The mask is kept in the cache, so backward and ``carry`` (IFA) apply the same mask and scale.
    """

    def __init__(self, p, seed=None):
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
            raise TypeError(f"p must be a number, got {p!r}")
        p = float(p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p must be in [0, 1), got {p}")
        self.p = p
        self.seed = seed if isinstance(seed, (int, np.integer)) or seed is None else None
        self.rng = _rng(seed)

    def forward(self, x, train=True):
        if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
            raise TypeError(
                f"Dropout expects a floating-point numpy array, got {getattr(x, 'dtype', type(x).__name__)}"
            )
        return _dropout.dropout_forward(x, self.p, self.rng, train)

    def backward(self, dout, cache):
        return _dropout.dropout_backward(dout, cache), {}

    def carry(self, v, cache):
        return v if cache is None else v * cache

    def config(self):
        return {"p": self.p, "seed": None if self.seed is None else int(self.seed)}

    def __repr__(self):
        return f"Dropout({self.p})"
