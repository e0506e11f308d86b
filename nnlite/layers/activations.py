"""Activation layers (:mod:`nnlite.ops.activations`) and the one table of activation names."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backend
from .._validation import finite_float
from ..ops import activations as act
from .base import Layer, LayerSpec, Passthrough, check_grad, check_input

__all__ = [
    "ACTIVATIONS",
    "Abs",
    "Identity",
    "LeakyReLU",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "activation_factory",
    "canonical_activation",
]


class _Activation(Layer):
    """An elementwise activation whose cache is an array of the output's shape and dtype (its output or input)."""

    rows_independent = True

    _fwd: Callable[[np.ndarray], tuple[np.ndarray, Any]]
    _bwd: Callable[[np.ndarray, Any], np.ndarray]

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Any]:
        check_input(x, type(self).__name__)
        return self._fwd(x)

    def backward(self, dout: np.ndarray, cache: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        check_grad(dout, cache.shape, cache.dtype, f"{type(self).__name__}.backward")
        return self._bwd(dout, cache), {}


class Tanh(_Activation):
    """``tanh(x)``.

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> nn.Tanh().forward(np.array([[-1.0, 0.0, 2.0]], np.float32))[0].round(3)
    array([[-0.762,  0.   ,  0.964]], dtype=float32)
    """

    spec = LayerSpec("tanh")

    _fwd = staticmethod(act.tanh_forward)
    _bwd = staticmethod(backend.tanh_backward)


class Sigmoid(_Activation):
    """Logistic sigmoid.

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> nn.Sigmoid().forward(np.array([[-1.0, 0.0, 2.0]], np.float32))[0].round(3)
    array([[0.269, 0.5  , 0.881]], dtype=float32)
    """

    spec = LayerSpec("sigmoid")

    _fwd = staticmethod(act.sigmoid_forward)
    _bwd = staticmethod(backend.sigmoid_backward)


class ReLU(_Activation):
    """``max(x, 0)``.

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> nn.ReLU().forward(np.array([[-1.0, 0.0, 2.0]], np.float32))[0]
    array([[0., 0., 2.]], dtype=float32)
    """

    spec = LayerSpec("relu")

    _fwd = staticmethod(act.relu_forward)
    _bwd = staticmethod(backend.relu_backward)


class Abs(_Activation):
    """``|x|``.

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> nn.Abs().forward(np.array([[-1.0, 0.0, 2.0]], np.float32))[0]
    array([[1., 0., 2.]], dtype=float32)
    """

    spec = LayerSpec("abs")

    _fwd = staticmethod(act.abs_forward)
    _bwd = staticmethod(act.abs_backward)


class Identity(Layer):
    """``x``. The cache keeps only the input's shape and dtype, what ``backward`` checks ``dout`` against.

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> nn.Identity().forward(np.array([[-1.0, 0.0, 2.0]], np.float32))[0]
    array([[-1.,  0.,  2.]], dtype=float32)
    """

    spec = LayerSpec("identity")

    rows_independent = True

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Any]:
        check_input(x, "Identity")
        return x, Passthrough(x.shape, x.dtype)

    def backward(self, dout: np.ndarray, cache: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        check_grad(dout, cache.shape, cache.dtype, "Identity.backward")
        return dout, {}


class LeakyReLU(Layer):
    """``x`` for ``x > 0``, ``slope * x`` otherwise; any slope (e.g. -0.5, Launay et al.'s best for DFA).

    Parameters
    ----------
    slope : float
        The factor of the negative inputs (default 0.01, PyTorch's); any finite value.

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> nn.LeakyReLU(-0.5).forward(np.array([[-2.0, 1.0]], np.float32))[0]
    array([[1., 1.]], dtype=float32)
    """

    spec = LayerSpec("leaky_relu", {"slope": "slope"})

    rows_independent = True

    def __init__(self, slope: float = 0.01) -> None:
        self.slope = finite_float(slope, "slope")

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Any]:
        check_input(x, "LeakyReLU")
        return act.leaky_relu_forward(x, self.slope)

    def backward(self, dout: np.ndarray, cache: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        check_grad(dout, cache.shape, cache.dtype, "LeakyReLU.backward")
        return act.leaky_relu_backward(dout, cache, self.slope), {}

    def config(self) -> dict[str, Any]:
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
