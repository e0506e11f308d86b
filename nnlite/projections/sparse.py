"""Sparse random projection (Crafton et al. 2019, sparse DFA): k nonzeros per row, CSR."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .._validation import SeedLike
from .base import INT32_MAX, Projection, as_generator, check_dims, check_float_dtype

__all__ = ["Sparse"]

# Rows of the (n, N) product copied per block when laying it out as (N, n): a blocked transpose reads the cache
# better than one np.ascontiguousarray(T.T) on large outputs.
_TRANSPOSE_BLOCK = 512

# Rows handled per chunk when drawing the column subsets (bounds the transient (chunk, n_in) buffer).
_CHUNK_ELEMENTS = 1 << 22


class Sparse(Projection):
    """Random sparse matrix with exactly ``k`` Gaussian nonzeros per row.

    Parameters
    ----------
    n_in, n_out, seed, dtype
        As for :class:`~nnlite.projections.Gaussian`.
    nonzeros_per_row : int
        ``k``, in ``[1, n_in]``. ``k = 1`` is Crafton et al.'s single-connection feedback.

    Attributes
    ----------
    B : scipy.sparse.csr_matrix, shape (n_out, n_in)
        Sorted column indices (int32), values of dtype ``dtype``.
    k : int

    Notes
    -----
    Row ``i`` has its ``k`` columns drawn uniformly without replacement, and values ``U / sqrt(k * n_out)``,
    ``U ~ N(0, 1)``. An entry is nonzero with probability ``k / n_in``, so (zeros included)
    ``E[B_ij] = 0`` and ``Var[B_ij] = (k / n_in) / (k * n_out) = 1 / (n_out * n_in)``, Gaussian's.
    ``P(e) = e @ B.T`` and ``P^T(y) = y @ B`` are sparse products: O(N * n_out * k).
    Memory ``nbytes = data + indices + indptr``: ``n_out * k * (itemsize + 4) + (n_out + 1) * 4``.

    Examples
    --------
    >>> import numpy as np
    >>> from nnlite.projections import Sparse
    >>> p = Sparse(10, 32, nonzeros_per_row=1, seed=0)
    >>> (p.matrix() != 0).sum(axis=1)[:5], p(np.ones((4, 10), np.float32)).shape
    (array([1, 1, 1, 1, 1]), (4, 32))
    """

    def __init__(
        self, n_in: int, n_out: int, nonzeros_per_row: int, seed: SeedLike = None, dtype: DTypeLike = np.float32
    ):
        import scipy.sparse as sp

        n_in, n_out = check_dims(n_in, n_out)
        dt = check_float_dtype(dtype)
        k = nonzeros_per_row
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"nonzeros_per_row must be an int, got {type(k).__name__}")
        if not 1 <= k <= n_in:
            raise ValueError(f"nonzeros_per_row must be in [1, n_in={n_in}], got {k}")
        k = int(k)
        rng = as_generator(seed)
        idx = np.int64 if n_out * k >= np.iinfo(np.int32).max else np.int32
        cols = np.empty((n_out, k), dtype=idx)
        chunk = max(1, _CHUNK_ELEMENTS // n_in)
        for start in range(0, n_out, chunk):
            stop = min(n_out, start + chunk)
            keys = rng.random((stop - start, n_in))
            # The k smallest of n_in i.i.d. uniform keys: a uniform k-subset of the columns.
            sub = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < n_in else np.argsort(keys, axis=1)
            cols[start:stop] = np.sort(sub, axis=1)
        vals = (rng.standard_normal((n_out, k)) * (1.0 / math.sqrt(k * n_out))).astype(dt)
        indptr = np.arange(0, n_out * k + 1, k, dtype=idx)
        self.B = sp.csr_matrix((vals.ravel(), cols.ravel(), indptr), shape=(n_out, n_in))
        self.n_in, self.n_out, self.dtype, self.k = n_in, n_out, dt, k

    @property
    def nbytes(self) -> int:
        """Bytes of host memory the projection holds."""
        B = self.B
        return int(B.data.nbytes + B.indices.nbytes + B.indptr.nbytes)

    name = "sparse"

    @classmethod
    def memory(cls, n_in: int, n_out: int, dtype: DTypeLike = np.float32, **options: Any) -> dict[str, int]:
        """CSR with ``k = nonzeros_per_row`` (default 1): ``n_out k (s + i) + (n_out + 1) i`` bytes, ``i = 8`` when
        ``max(n_out k, n_out, n_in) > 2^31 - 1`` (SciPy's index dtype), else 4."""
        k = int(options.get("nonzeros_per_row", 1))
        i = 8 if max(n_out * k, n_out, n_in) > INT32_MAX else 4
        return {"sparse": n_out * k * (check_float_dtype(dtype).itemsize + i) + (n_out + 1) * i}

    def _forward(self, e):
        # B @ e.T: CSR times dense, (n_out, N), laid out as a C-contiguous (N, n_out).
        return _c_transpose(self.B @ np.ascontiguousarray(e.T), self.dtype)

    def _adjoint(self, y):
        # B.T @ y.T: B.T is a CSC view of B (no copy), (n_in, N), laid out as (N, n_in).
        return _c_transpose(self.B.T @ np.ascontiguousarray(y.T), self.dtype)

    def matrix(self) -> np.ndarray:
        return self.B.toarray()

    def __repr__(self):
        return (
            f"Sparse(n_in={self.n_in}, n_out={self.n_out}, nonzeros_per_row={self.k}, "
            f"dtype={self.dtype.name}, nbytes={self.nbytes})"
        )


def _c_transpose(T, dtype):
    """C-contiguous ``T.T`` in ``dtype``, copied in blocks of rows of ``T`` (shape (n, N) -> (N, n))."""
    n, N = T.shape
    out = np.empty((N, n), dtype=dtype)
    for r in range(0, n, _TRANSPOSE_BLOCK):
        out[:, r : r + _TRANSPOSE_BLOCK] = T[r : r + _TRANSPOSE_BLOCK].T
    return out
