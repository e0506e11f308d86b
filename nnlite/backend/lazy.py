"""Weight gradients handed to the update as products, not arrays: the update folded into the GEMM.

A dense layer's weight gradient is a product ``dW = dout^T x``. With plain SGD the update ``W <- (1 - lr wd) W -
lr dout^T x`` is one GEMM with ``alpha = -lr`` and ``beta = 1 - lr wd`` writing into ``W``: no gradient array,
no second pass over ``W``. With (non-Nesterov) momentum, ``v <- mu v + dout^T x`` is one GEMM with ``beta = mu``,
then one fused pass ``v <- v + wd W; W <- W - lr v`` (:func:`nnlite.kernels.momentum.momentum_apply`). Adam, RMSprop
and Nesterov momentum need the gradient itself and materialise it.

Inside :func:`defer` (the training step opens it when its optimizer folds and its rule hands over its gradients
untouched, :attr:`nnlite.rules.base.Rule.folds_updates`) :func:`nnlite.backend.dense_backward` returns a
:class:`Product` for ``dW``; anything that reads it as an array (``np.asarray``, arithmetic, the step's
``grads``, alignment) gets the computed gradient, so alignment and masks see what they saw before. Reading it
does not change the update: the update of a gradient that is still its product's value (:func:`product_of`) is
the same GEMM whether or not the value was read, so measuring alignment between a step and its commit changes
nothing, bit for bit. The value is read-only: a gradient changed in place would otherwise be ignored by that
GEMM (a changed copy, ``g * mask``, is an ordinary array and is applied as one).

The folded update sums in another order than "product, then update" (the GEMM adds ``beta W`` to its
accumulator), so the two agree to rounding, not bit for bit; a run does one or the other at every step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import products

__all__ = ["Product", "defer", "deferring", "materialize", "product_of"]

_DEFER = [0]


@contextlib.contextmanager
def defer(enabled: bool = True) -> Iterator[None]:
    """Inside the block (when ``enabled``), dense weight gradients are :class:`Product` objects."""
    _DEFER[0] += bool(enabled)
    try:
        yield
    finally:
        _DEFER[0] -= bool(enabled)


def deferring() -> bool:
    """True inside :func:`defer`."""
    return _DEFER[0] > 0


class Product:
    """The gradient ``a @ b`` (``a`` = ``dout.T``, ``b`` = the layer's input), computed when needed.

    Attributes
    ----------
    shape, dtype
        Those of the gradient (and of the parameter it belongs to).
    """

    __slots__ = ("_value", "a", "b", "dtype", "shape")

    def __init__(self, a: np.ndarray, b: np.ndarray) -> None:
        self.a, self.b = a, b
        self.shape = (a.shape[0], b.shape[1])
        self.dtype = np.result_type(a.dtype, b.dtype)
        self._value: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        """The bytes the gradient takes once computed (none until then)."""
        return 0 if self._value is None else int(self._value.nbytes)

    def value(self) -> np.ndarray:
        """The gradient as a read-only array (computed once, on the provider in force)."""
        if self._value is None:
            self._value = products.matmul(self.a, self.b)
            self._value.flags.writeable = False
        return self._value

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        v = self.value()
        return v if dtype is None else v.astype(dtype, copy=False)

    def add_to(self, c: np.ndarray, *, alpha: float, beta: float) -> None:
        """``c <- alpha (a @ b) + beta c`` in place: one GEMM, whether or not :meth:`value` was read (the same
        arithmetic either way)."""
        products.gemm(self.a, self.b, c, alpha=alpha, beta=beta)

    def __repr__(self) -> str:
        return f"Product(shape={self.shape}, dtype={self.dtype})"


def materialize(grads: Any, *, keep: bool = True) -> Any:
    """``grads`` (a list of dicts, as :meth:`nnlite.rules.base.Rule.gradients` returns) with every
    :class:`Product` replaced by its array, in place; returns ``grads``.

    With ``keep`` (a step's gradients) each array is the product's read-only :meth:`Product.value` and the product
    is remembered in ``grads.products`` (a :class:`~nnlite.rules.base.StepGrads`), so that the update still folds it
    (:func:`product_of`); without, each is a new writable array (gradients to be summed in place)."""
    side = getattr(grads, "products", None) if keep else None
    for j, g in enumerate(grads):
        for k, v in g.items():
            if isinstance(v, Product):
                if side is not None:
                    side[(j, k)] = v
                g[k] = v.value() if keep else products.matmul(v.a, v.b)
    return grads


def product_of(grads: Any, j: int, key: str) -> Product | None:
    """The product behind ``grads[j][key]``: the gradient itself when it is one, or the product whose (read-only)
    value it still is; None for any other array (a changed gradient is applied as the array it is)."""
    g = grads[j][key]
    if isinstance(g, Product):
        return g
    p = getattr(grads, "products", {}).get((j, key))
    return p if p is not None and p._value is g else None
