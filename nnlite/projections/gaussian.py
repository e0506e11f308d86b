"""Dense Gaussian projection: the matrix itself, products in BLAS."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .._validation import SeedLike
from ..backend import products
from .base import Projection, as_generator, check_dims, check_float_dtype

__all__ = ["Gaussian"]


class Gaussian(Projection):
    """Dense random matrix ``B = U / sqrt(n_out * n_in)``, ``U ~ N(0, 1)``.

    Parameters
    ----------
    n_in : int
        Size of the error (C).
    n_out : int
        Size of the feedback space.
    seed : None, int or numpy.random.Generator
        Source of ``U``; an int gives a reproducible matrix.
    dtype : float32 or float64
        Dtype of ``B``, of the inputs and of the outputs.

    Attributes
    ----------
    B : ndarray, shape (n_out, n_in)
        The matrix, C-contiguous.

    Notes
    -----
    ``P(e) = e @ B.T``, ``P^T(y) = y @ B``. Entry variance ``1 / (n_out * n_in)`` (Launay et al. 2020, eq. 7), so
    DFA's unified layout takes ``sqrt(n_out / l_k) * B[:l_k]``. Memory ``n_out * n_in * itemsize``.

    Examples
    --------
    >>> import numpy as np
    >>> from nnlite.projections import Gaussian
    >>> p = Gaussian(10, 32, seed=0)
    >>> e = np.ones((4, 10), np.float32)
    >>> p(e).shape, p.matrix().shape, p.nbytes
    ((4, 32), (32, 10), 1280)
    """

    def __init__(self, n_in: int, n_out: int, seed: SeedLike = None, dtype: DTypeLike = np.float32):
        n_in, n_out = check_dims(n_in, n_out)
        dt = check_float_dtype(dtype)
        rng = as_generator(seed)
        # Drawn in float64 then rounded, so float32 and float64 matrices of one seed agree to float32 precision.
        U = rng.standard_normal((n_out, n_in))
        B = (U * (1.0 / math.sqrt(n_out * n_in))).astype(dt)
        self._set(B)

    @classmethod
    def from_matrix(cls, B: np.ndarray, dtype: DTypeLike | None = None) -> Gaussian:
        """Wrap an explicit matrix (e.g. ``W2.T`` to make DFA equal BP in a test).

        Parameters
        ----------
        B : ndarray, shape (n_out, n_in), float32 or float64
        dtype : None or float dtype
            Defaults to ``B.dtype``.

        Returns
        -------
        Gaussian
            Holding a C-contiguous copy of ``B`` (later changes to ``B`` do not leak in).
        """
        B = np.asarray(B)
        if B.ndim != 2:
            raise ValueError(f"B must be 2-D of shape (n_out, n_in), got shape {B.shape}")
        if B.shape[0] < 1 or B.shape[1] < 1:
            raise ValueError(f"B must have at least one row and one column, got shape {B.shape}")
        dt = check_float_dtype(B.dtype if dtype is None else dtype)
        if not np.isfinite(B).all():
            raise ValueError("B contains NaN or inf")
        self = cls.__new__(cls)
        self._set(np.array(B, dtype=dt, order="C", copy=True))
        return self

    def _set(self, B):
        self.B = B
        self.n_out, self.n_in = (int(s) for s in B.shape)
        self.dtype = B.dtype

    @property
    def nbytes(self) -> int:
        """Bytes of host memory the projection holds."""
        return int(self.B.nbytes)

    name = "gaussian"

    @classmethod
    def memory(cls, n_in: int, n_out: int, dtype: DTypeLike = np.float32, **options: Any) -> dict[str, int]:
        """The dense matrix: ``s n_out n_in`` bytes (``s`` the dtype's itemsize)."""
        return {"gaussian": check_float_dtype(dtype).itemsize * n_in * n_out}

    def _forward(self, e):
        return products.matmul(e, self.B.T)

    def _adjoint(self, y):
        return products.matmul(y, self.B)

    def matrix(self) -> np.ndarray:
        return self.B.copy()
