"""The projection protocol: a fixed random linear map from the error space to the feedback space.

A projection represents a matrix ``B`` of shape ``(n_out, n_in)``; applied to a batch of errors ``e`` of shape
``(N, n_in)`` it returns ``P(e) = e @ B.T`` of shape ``(N, n_out)``. DFA asks one projection for the signals of all
hidden blocks at once and slices the columns; LAFS also needs the adjoint ``y @ B`` (its local readouts).

Scale convention (Launay et al. 2020, eq. 7-8): every back end represents a matrix whose entries have mean 0 and
variance ``1 / (n_out * n_in)``, i.e. ``B = U / sqrt(n_out * n_in)`` with ``U ~ N(0, 1)`` for the dense case.
DFA's ``unified`` layout then uses ``sqrt(n_out / l_k) * B[:l_k]`` for a feedback point of size ``l_k``.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import numpy as np
from numpy.typing import DTypeLike

from .._validation import as_generator
from .._validation import float_dtype as check_float_dtype

__all__ = ["INT32_MAX", "Projection", "as_generator", "check_dims", "check_float_dtype"]

#: The largest int32: index arrays past it are int64.
INT32_MAX = int(np.iinfo(np.int32).max)


def check_dims(n_in: int, n_out: int) -> tuple[int, int]:
    """Validate and return ``(n_in, n_out)`` as Python ints (both >= 1)."""
    out = []
    for name, v in (("n_in", n_in), ("n_out", n_out)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
        out.append(int(v))
    return out[0], out[1]


class Projection(abc.ABC):
    """Abstract base of the random projections.

    Attributes
    ----------
    n_in : int
        Size of the error vector (C, the number of classes for DFA).
    n_out : int
        Size of the feedback space (l_max, or the sum of the feedback points' sizes).
    dtype : numpy.dtype
        float32 or float64: inputs must have it, outputs have it.

    Notes
    -----
    Subclasses implement ``_forward(e)`` (``e @ B.T``), optionally ``_adjoint(y)`` (``y @ B``) and ``nbytes``;
    this class validates inputs (2-D, right width, matching float dtype, finite) before handing them over.

    Examples
    --------
    >>> import numpy as np
    >>> from nnlite.projections import Projection
    >>> class Doubling(Projection):  # B = 2 I (an illustration): P(e) = 2 e
    ...     def __init__(self, n):
    ...         self.n_in = self.n_out = n
    ...         self.dtype = np.dtype(np.float32)
    ...     def _forward(self, e):
    ...         return 2 * e
    ...     def _adjoint(self, y):
    ...         return 2 * y
    ...     @property
    ...     def nbytes(self):
    ...         return 0
    ...
    >>> p = Doubling(3)
    >>> p(np.ones((2, 3), np.float32)), p.has_transpose, p.matrix()
    (array([[2., 2., 2.],
           [2., 2., 2.]], dtype=float32), True, array([[2., 0., 0.],
           [0., 2., 0.],
           [0., 0., 2.]], dtype=float32))
    """

    n_in: int
    n_out: int
    dtype: np.dtype

    # ------------------------------------------------------------------ public API
    def __call__(self, e: np.ndarray) -> np.ndarray:
        """Project a batch of errors.

        Parameters
        ----------
        e : ndarray, shape (N, n_in), dtype ``self.dtype``

        Returns
        -------
        ndarray, shape (N, n_out), dtype ``self.dtype``

        Notes
        -----
        ``P(e) = e @ B.T`` with ``B`` the ``(n_out, n_in)`` matrix the projection represents.
        """
        e = self._check_input(e, self.n_in, "e")
        if e.shape[0] == 0:
            return np.zeros((0, self.n_out), dtype=self.dtype)
        return self._forward(e)

    def transpose(self, y: np.ndarray) -> np.ndarray:
        """Apply the adjoint map.

        Parameters
        ----------
        y : ndarray, shape (N, n_out), dtype ``self.dtype``

        Returns
        -------
        ndarray, shape (N, n_in), dtype ``self.dtype``

        Notes
        -----
        ``P^T(y) = y @ B``, so that ``<P(e), y> = <e, P^T(y)>`` for all ``e, y``.
        """
        y = self._check_input(y, self.n_out, "y")
        if y.shape[0] == 0:
            return np.zeros((0, self.n_in), dtype=self.dtype)
        return self._adjoint(y)

    @property
    def has_transpose(self) -> bool:
        """Whether this back end can apply ``transpose`` (LAFS's readouts need it; the OPU cannot).

        Derived: True when the subclass implements ``_adjoint``. A subclass that overrides ``_adjoint`` only to
        raise a better message sets the class attribute ``has_transpose = False`` instead (as ``OPU`` does).
        """
        return type(self)._adjoint is not Projection._adjoint

    def matrix(self) -> np.ndarray:
        """Materialise the represented matrix by projecting the identity.

        Returns
        -------
        B : ndarray, shape (n_out, n_in), dtype ``self.dtype``
            ``B[:, j] = P(unit vector j)``. Meant for tests and small sizes.
        """
        eye = np.eye(self.n_in, dtype=self.dtype)
        return np.ascontiguousarray(self(eye).T)

    @property
    @abc.abstractmethod
    def nbytes(self) -> int:
        """Bytes of the arrays the projection holds in host memory."""

    #: The back end's name (the command line's ``--projection``).
    name: ClassVar[str] = ""

    @classmethod
    def memory(cls, n_in: int, n_out: int, dtype: DTypeLike = np.float32, **options: Any) -> dict[str, int]:
        """Bytes a projection of these sizes would hold, computed without building one: ``{name: nbytes}``
        (a back end may report more than one way to run, e.g. the OPU's device and simulator). ``options`` are
        the constructor's (``nonzeros_per_row`` for :class:`Sparse`); the others ignore them."""
        raise NotImplementedError(f"{cls.__name__} does not report its memory")

    # ------------------------------------------------------------------ for subclasses
    @abc.abstractmethod
    def _forward(self, e):
        """``e @ B.T`` for a validated ``e`` of shape (N, n_in), N >= 1."""

    def _adjoint(self, y):
        raise NotImplementedError(f"{type(self).__name__} cannot apply its transpose (y @ B)")

    def _check_input(self, x, width, name):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
        if x.ndim != 2:
            raise ValueError(f"{name} must be 2-D of shape (N, {width}), got shape {x.shape}")
        if x.shape[1] != width:
            raise ValueError(f"{name} must have {width} columns (shape (N, {width})), got shape {x.shape}")
        if x.dtype != self.dtype:
            raise TypeError(f"{name} must have dtype {self.dtype} (the projection's dtype), got {x.dtype}")
        if not np.isfinite(x).all():
            raise ValueError(f"{name} contains NaN or inf")
        return x

    def __repr__(self):
        return (
            f"{type(self).__name__}(n_in={self.n_in}, n_out={self.n_out}, "
            f"dtype={self.dtype.name}, nbytes={self.nbytes})"
        )
