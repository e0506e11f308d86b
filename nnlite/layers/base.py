"""The :class:`Layer` base class, weight initialisation, and the checks the layer families share.

A layer keeps no per-batch state: ``forward(x, train) -> (out, cache)`` and ``backward(dout, cache) -> (dx, grads)``,
where ``grads`` is a dict with the same keys as ``params`` (empty for a layer without parameters).
Weight layers (``Dense``, ``Conv2d``) take two more switches in ``backward``: ``feedback`` (a matrix used in place of
``W`` to compute ``dx``, for Feedback Alignment) and ``need_dx`` (skip the ``dx`` product).

The contract at the layer API, the same for every layer (:func:`check_input`): ``forward`` takes a NumPy array of
float32 or float64 — of the layer's own dtype for the layers that have one (Dense, Conv2d, BatchNorm) — and refuses
anything else (lists, ints, bools, float16, complex, objects) with ``TypeError`` naming both dtypes; nothing is
converted. ``backward`` takes a ``dout`` of exactly the shape and dtype of the forward pass's output
(:func:`nnlite.ops._checks.check_grad`, ``ValueError`` naming both shapes, ``TypeError`` both dtypes). Both checks
read shapes and dtypes only, never values.

Every layer also has ``carry(v, cache)``: the layer's *linear* part applied forward to ``v``, used by IFA to carry a
gradient forward through the network (weight layers apply ``W`` without bias; shape-changing layers such as pooling
and flatten apply the same selection / averaging / reshape; activations are skipped and return ``v``).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np

from .._validation import FLOAT_DTYPES, as_generator, float_dtype
from ..ops._checks import check_grad

__all__ = [
    "INITS",
    "Layer",
    "LayerSpec",
    "Passthrough",
    "WeightLayer",
    "check_grad",
    "check_input",
    "fans_of",
    "init_bias",
    "init_weight",
]

INITS = ("he", "glorot", "lecun", "zeros", "uniform")


def init_weight(
    shape: tuple[int, ...], fan_in: int, fan_out: int, init: str, rng: np.random.Generator, dtype: Any
) -> np.ndarray:
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
    uniform: ``U(-a, a)``, ``a = 1/sqrt(fan_in)`` (PyTorch's default for ``nn.Linear`` and ``nn.Conv2d``, whose bias
    :func:`init_bias` draws too); zeros: all 0 (Nøkland's DFA nets). From zeros, only a rule whose hidden signals
    do not pass through the zero ``W_k`` breaks the symmetry: with tanh, DFA, LAFS, DRTP and FA (whose ``B_k``
    carry the error) learn; BP (``delta_k = delta_{k+1} W_{k+1} = 0``: every hidden gradient stays 0) and IFA
    (``g_k = delta_{k-1} W_k.T = 0`` beyond block 1) cannot; nor can any rule with ReLU (``relu'(0) = 0``).
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


def init_bias(n: int, fan_in: int, init: str, rng: np.random.Generator, dtype: Any) -> np.ndarray:
    """The initial bias (n,) of a weight layer drawn with ``init``: zeros, except for "uniform", PyTorch's default
    for ``nn.Linear`` and ``nn.Conv2d``, ``U(-a, a)`` with ``a = 1/sqrt(fan_in)`` like the weight, drawn from
    ``rng`` after it."""
    if init == "uniform":
        a = 1.0 / math.sqrt(fan_in)
        return np.ascontiguousarray(rng.uniform(-a, a, size=n), dtype=dtype)
    return np.zeros(n, dtype=dtype)


@dataclass(frozen=True)
class LayerSpec:
    """A layer's entry in a layers list (a spec's ``layers = [...]``, ``--layers``): the table's ``type`` (``name``)
    and the keys it takes, each a parameter of the layer's constructor, whose own defaults are the entry's.

    ``keys`` maps an entry key to the constructor parameter (``{"units": "d_out"}``); a key whose parameter has no
    default is required. ``from_shape`` names the parameter taken from the input shape's first axis (``d_in``,
    ``c_in``, ``num_features``); ``input`` is ``"flat"``, ``"image"`` ((C, H, W)) or ``"any"``; ``network`` lists the
    keys whose default is the network's own (a weight layer's ``init``: the network's init).

    Parameters
    ----------
    name : str
        The entry's ``type`` (``"dense"``), also the layer's type in checkpoints.
    keys : dict of str to str
        Entry key -> constructor parameter.
    from_shape : str, optional
        The constructor parameter taken from the input shape's first axis.
    input : {"flat", "image", "any"}
        The input the layer takes.
    network : tuple of str
        The keys whose default is the network's own.

    Examples
    --------
    >>> from nnlite.layers import Dense
    >>> Dense.spec.name, Dense.spec.entry(Dense)[0]
    ('dense', ('units',))
    """

    name: str
    keys: dict[str, str] = field(default_factory=dict)
    from_shape: str | None = None
    input: str = "any"
    network: tuple[str, ...] = ()

    def entry(self, cls: type) -> tuple[tuple[str, ...], dict[str, Any]]:
        """(required keys, optional keys with the constructor's defaults) of ``cls``'s entry."""
        params = inspect.signature(cls).parameters
        required: list[str] = []
        optional: dict[str, Any] = {}
        for key, name in self.keys.items():
            default = params[name].default
            if key in self.network:
                optional[key] = None
            elif default is inspect.Parameter.empty:
                required.append(key)
            else:
                optional[key] = default
        return tuple(required), optional


class Layer:
    """Base class. Subclasses set ``params`` (a dict of arrays) when they have parameters.

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> class Scale(nn.layers.Layer):  # a layer without parameters: y = c x
    ...     rows_independent = True
    ...     def __init__(self, c):
    ...         self.c = c
    ...     def forward(self, x, train=True):
    ...         return x * self.c, None
    ...     def backward(self, dout, cache):
    ...         return dout * self.c, {}
    ...
    >>> out, cache = Scale(2.0).forward(np.ones((1, 3), np.float32))
    >>> out, Scale(2.0).backward(out, cache)[0]
    (array([[2., 2., 2.]], dtype=float32), array([[4., 4., 4.]], dtype=float32))
    """

    #: The layer's entry in layers lists (:class:`LayerSpec`); None: not in lists.
    spec: ClassVar[LayerSpec | None] = None

    #: True for the layers that start a block (Dense, Conv2d).
    is_weight = False
    #: True when a sample's output, and its gradients' share, depend on that sample's rows alone, in training as in
    #: evaluation, with no state changed by the pass: a network of such layers may run a batch as row shards on
    #: several threads (:meth:`nnlite.Sequential.forward`'s ``shards``). False by default (BatchNorm's batch
    #: statistics, Dropout's draws, and any layer that does not say).
    rows_independent = False
    #: The trainable arrays by name (empty for a layer without parameters); optimizers update them in place.
    params: dict[str, np.ndarray]

    def __new__(cls, *args: Any, **kwargs: Any) -> Layer:
        self = super().__new__(cls)
        self.params = {}
        return self

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Any]:
        raise NotImplementedError

    def backward(self, dout: np.ndarray, cache: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        raise NotImplementedError

    def carry(self, v: np.ndarray, cache: Any) -> np.ndarray:
        """Linear part of the layer applied to ``v`` (IFA). Default: identity (activations)."""
        return v

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one sample's output given one sample's input shape (batch axis excluded)."""
        return tuple(input_shape)

    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this layer (JSON-serialisable; used by checkpoints)."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    @classmethod
    def array_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """The shapes of the arrays (``param.<name>`` and ``buffer.<name>``) a layer built from ``config`` holds,
        computed without building it (checkpoints check a file against them before allocating anything)."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class WeightLayer(Layer):
    """A layer that starts a block (Dense, Conv2d): a weight ``W`` (and bias ``b``), and a backward pass with the
    two switches the rules use — ``feedback`` (a matrix of ``W``'s shape used in place of ``W`` for ``dx``: the FA
    family) and ``need_dx`` (skip the ``dx`` product: DFA, LAFS and the first block).

    Parameters
    ----------
    init : {"he", "glorot", "lecun", "zeros", "uniform"}
        The scheme ``W`` is drawn with, from its fans (:func:`~nnlite.layers.init_weight`): He (default),
        Glorot, LeCun, zeros, or PyTorch's default "uniform" (the bias drawn alike).
    bias : bool
        Whether the layer has a bias ``b`` (default True; zeros, but for "uniform").
    dtype : float32 (default) or float64
        The dtype of the parameters, and of the inputs the layer accepts.
    rng : int, Generator or None
        Seeds the draw of ``W`` (and of ``b`` for "uniform").

    Examples
    --------
    >>> import nnlite as nn
    >>> layer = nn.Dense(4, 3, init="glorot", bias=False, rng=0)
    >>> isinstance(layer, nn.layers.WeightLayer), layer.W.shape, layer.b, layer.fans
    (True, (3, 4), None, (4, 3))
    """

    is_weight = True

    @property
    def W(self) -> np.ndarray:
        return self.params["W"]

    @property
    def b(self) -> np.ndarray | None:
        return self.params.get("b")

    @property
    def fans(self) -> tuple[int, int]:
        """``(fan_in, fan_out)`` of ``W`` (:func:`fans_of`)."""
        return fans_of(self.W.shape)

    #: The op ``(dout, cache, W, *, feedback, need_dx, need_db) -> (dx, dW, db)`` of the subclass.
    _backward_op: Callable[..., tuple[Any, Any, np.ndarray | None]]
    init: str
    dtype: np.dtype

    def _init_params(self, shape: tuple[int, ...], init: str, bias: bool, dtype: Any, rng: Any) -> None:
        """Draw ``W`` of ``shape`` with the scheme ``init`` (fans from the shape), then the bias
        (:func:`init_bias`: zeros but for "uniform") from the same generator."""
        self.init = check_init(init)
        self.dtype = float_dtype(dtype)
        gen = as_generator(rng)
        fan_in, fan_out = fans_of(shape)
        self.params = {"W": init_weight(shape, fan_in, fan_out, init, gen, self.dtype)}
        if bias:
            self.params["b"] = init_bias(shape[0], fan_in, init, gen, self.dtype)

    def new_feedback(self, rng: np.random.Generator | int | None) -> np.ndarray:
        """A fixed random array of ``W``'s shape, drawn with ``W``'s scheme (FA); "zeros" draws with "lecun"."""
        init = "lecun" if self.init == "zeros" else self.init
        return init_weight(self.W.shape, *self.fans, init, as_generator(rng), self.dtype)

    def _output_shape_of(self, cache: Any) -> tuple[int, ...]:
        """The shape (N, ...) of the forward output that ``cache`` belongs to."""
        raise NotImplementedError

    def backward(
        self, dout: np.ndarray, cache: Any, *, feedback: np.ndarray | None = None, need_dx: bool = True
    ) -> tuple[Any, dict[str, np.ndarray]]:
        """``(dx, grads)`` by the subclass's op; ``dx`` is None when ``need_dx`` is False.

        ``feedback`` (an array of ``W``'s shape and dtype) replaces ``W`` in the ``dx`` product (the FA family).
        ``dout`` must have the forward output's shape and the layer's dtype (ValueError / TypeError naming both).
        """
        who = f"{type(self).__name__}.backward"
        check_grad(dout, self._output_shape_of(cache), self.dtype, who)
        if feedback is not None:
            if not isinstance(feedback, np.ndarray):
                raise TypeError(f"{who}: feedback must be a numpy array, got {type(feedback).__name__}")
            if feedback.shape != self.W.shape:
                raise ValueError(f"feedback must have W's shape {self.W.shape}, got {feedback.shape}")
            if feedback.dtype != self.dtype:
                raise TypeError(f"{who}: feedback is {feedback.dtype}, but W is {self.dtype}")
        dx, dW, db = type(self)._backward_op(
            dout, cache, self.W, feedback=feedback, need_dx=need_dx, need_db="b" in self.params
        )
        grads = {"W": dW}
        if db is not None:
            grads["b"] = db
        return dx, grads


def fans_of(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape``: ``(D_in, D_out)`` for (D_out, D_in), ``(C KH KW, F KH KW)``
    for a convolution kernel (F, C, KH, KW)."""
    receptive = math.prod(shape[2:])
    return int(shape[1] * receptive), int(shape[0] * receptive)


def check_init(init: str) -> str:
    """``init`` if it names a scheme of :data:`INITS`, else ``ValueError``."""
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    return init


def compact(pair: tuple[int, int]) -> int | list[int]:
    """A pair as one int when both are equal (for reprs and configs)."""
    return pair[0] if pair[0] == pair[1] else list(pair)


class Passthrough(NamedTuple):
    """The cache of a pass that keeps nothing but its input's shape and dtype (Identity, Flatten, dropout in
    evaluation mode): what ``backward`` checks ``dout`` against."""

    shape: tuple[int, ...]
    dtype: np.dtype


def check_input(x: Any, layer: str, dtype: np.dtype | None = None) -> None:
    """The layer API's input contract: ``x`` is a NumPy array of float32 or float64, and of ``dtype`` when the
    layer has one; else ``TypeError`` naming what was given and what is expected. Nothing is converted: a list
    or an int array is the caller's to convert (``np.asarray(x, dtype=np.float32)``)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{layer} expects a numpy array of float32 or float64, got {type(x).__name__} "
            f"(convert it first, e.g. np.asarray(x, dtype=np.float32))"
        )
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{layer} expects float32 or float64 input, got {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"{layer} is {np.dtype(dtype)} but its input is {x.dtype}; convert the input to {np.dtype(dtype)}"
        )


def check_image(x: Any, layer: str, channels: int | None = None, dtype: np.dtype | None = None) -> None:
    check_input(x, layer, dtype)
    if x.ndim != 4 or (channels is not None and x.shape[1] != channels):
        c = "C" if channels is None else channels
        raise ValueError(f"{layer} expects input of shape (N, {c}, H, W), got {x.shape}")


def check_sample_image(input_shape: Any, layer: str, channels: int | None = None) -> tuple[int, ...]:
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or (channels is not None and input_shape[0] != channels):
        c = "C" if channels is None else channels
        raise ValueError(f"{layer} expects samples of shape ({c}, H, W), got {input_shape}")
    return input_shape
