"""Fastfood projection (Le, Sarlos, Smola 2013): a Gaussian-like matrix in O(n_out) memory."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from nnlite.kernels import fwht

from .._validation import SeedLike
from .base import INT32_MAX, Projection, as_generator, check_dims, check_float_dtype

__all__ = ["Fastfood"]


class Fastfood(Projection):
    """Structured random projection ``V = c * S H G Pi H B``, blocks stacked to ``n_out`` rows.

    Parameters
    ----------
    n_in : int
        Size of the error (C). Inputs are zero-padded to ``d = 2**ceil(log2(n_in))``.
    n_out : int
        Size of the feedback space. ``ceil(n_out / d)`` independent blocks of ``d`` rows are stacked and the
        rows beyond ``n_out`` dropped.
    seed : None, int or numpy.random.Generator
        Seeds the draw of ``B``, ``Π``, ``G`` and ``S`` (the same seed gives the same matrix).
    dtype : float32 or float64
        All arrays and all the work are in this dtype.

    Attributes
    ----------
    d : int
        Padded input size, a power of two.
    n_blocks : int
        Number of stacked ``d x d`` blocks.
    signs : ndarray, shape (n_blocks, d)
        The paper's ``B``: random +-1 diagonals (held as ``scale * signs``, so the constant costs no pass).
    perm : ndarray, shape (n_blocks, d), int
        The paper's ``Pi``: ``(Pi v)[i] = v[perm[i]]``, i.e. ``Pi = eye(d)[perm]``.
    G : ndarray, shape (n_blocks, d)
        Gaussian diagonals, ``N(0, 1)``.
    S : ndarray, shape (n_blocks, d)
        Scaling diagonals ``s_i / ||G||_F`` with ``s_i ~ chi(d)`` (the paper's S).
    scale : float
        ``1 / sqrt(d * n_out * n_in)``, see Notes.

    Notes
    -----
    Block ``b`` is ``V_b = scale * diag(S_b) H diag(G_b) Pi_b H diag(signs_b)`` with ``H`` the unnormalised
    ``d x d`` Walsh-Hadamard matrix; the projection represents ``V = [V_0; V_1; ...][:n_out, :n_in]`` and
    ``P(e) = e @ V.T``, ``P^T(y) = y @ V`` (the exact adjoint, applying ``V_b^T = scale * B H Pi^T G H S``).

    The constant. ``H diag(signs)/sqrt(d)``, ``Pi`` and ``H/sqrt(d)`` are orthogonal, so
    ``M = H G Pi H B`` has ``M M^T = d H G^2 H`` and every row of ``M`` has squared norm ``d ||G||_F^2``.
    With ``S_ii = s_i / ||G||_F``, row ``i`` of ``S M / sqrt(d)`` has squared norm ``s_i^2 ~ chi^2_d``, the law of
    the squared norm of a row of i.i.d. ``N(0, 1)`` entries; entry by entry, ``E[g_j g_j' / ||G||^2] = delta_jj' / d``
    and ``H_ij^2 = 1`` give ``E[(S M / sqrt(d))_ik^2] = E[s_i^2] / d = 1`` for every column ``k``, and the random
    signs make the mean 0. That holds for every column, so
    it still holds for the ``n_in`` columns kept after padding (the ``d - n_in`` padded columns only multiply
    zeros). Hence the paper's ``1 / (sigma sqrt(d))`` with ``sigma = sqrt(n_out * n_in)`` gives entries of variance
    ``1 / (n_out * n_in)``, Gaussian's: ``scale = 1 / sqrt(d * n_out * n_in)``. Note the ``sqrt(d)`` (padded
    size) normalises H, while ``n_in`` (true size) sets the target variance.

    Memory: four length-``n_blocks * d`` arrays, O(n_out) (never a dense matrix). Time per row of ``e``:
    ``2 * n_blocks`` transforms of length ``d``, O(n_out log d).

    Examples
    --------
    >>> import numpy as np
    >>> from nnlite.projections import Fastfood
    >>> p = Fastfood(10, 800, seed=0)
    >>> e = np.ones((4, 10), np.float32)
    >>> p(e).shape, p.nbytes < Fastfood(10, 800, seed=0).matrix().nbytes
    ((4, 800), True)
    >>> import nnlite as nn
    >>> rule = nn.DFA(projection=Fastfood(10, 800, seed=1))  # DFA through Fastfood
    """

    def __init__(self, n_in: int, n_out: int, seed: SeedLike = None, dtype: DTypeLike = np.float32):
        n_in, n_out = check_dims(n_in, n_out)
        dt = check_float_dtype(dtype)
        rng = as_generator(seed)
        d = 1 << (n_in - 1).bit_length()
        nb = -(-n_out // d)
        self.n_in, self.n_out, self.dtype = n_in, n_out, dt
        self.d, self.n_blocks = d, nb
        signs = rng.integers(0, 2, size=(nb, d)) * 2 - 1
        # argsort of i.i.d. uniforms: one uniform random permutation per block, vectorised.
        perm = np.argsort(rng.random((nb, d)), axis=1, kind="stable")
        G = rng.standard_normal((nb, d))
        s = np.sqrt(rng.chisquare(d, size=(nb, d)))
        S = s / np.sqrt(np.sum(G * G, axis=1, keepdims=True))
        self.G = G.astype(dt)
        self.S = S.astype(dt)
        self.scale = 1.0 / math.sqrt(d * n_out * n_in)
        # The constant rides on the sign diagonal (one pass fewer over the (N, n_out) output).
        self._signs_scaled = (signs * self.scale).astype(dt)
        idx = np.int64 if nb * d > np.iinfo(np.int32).max else np.int32
        # Flat gather index over the (n_blocks * d) stacked coordinates: Z[:, i] = X[:, gather[i]].
        self._gather = (perm + (np.arange(nb) * d)[:, None]).astype(idx).ravel()

    @property
    def signs(self) -> np.ndarray:
        """The paper's B, shape (n_blocks, d): +-1 in ``dtype``."""
        return np.sign(self._signs_scaled)

    @property
    def perm(self) -> np.ndarray:
        """The paper's Pi per block, shape (n_blocks, d): each row a permutation of ``range(d)``."""
        gather: np.ndarray = self._gather
        return (gather.reshape(self.n_blocks, self.d) - (np.arange(self.n_blocks) * self.d)[:, None]).astype(
            gather.dtype
        )

    @property
    def nbytes(self) -> int:
        """Bytes of host memory the projection holds."""
        return int(self._signs_scaled.nbytes + self.G.nbytes + self.S.nbytes + self._gather.nbytes)

    name = "fastfood"

    @classmethod
    def memory(cls, n_in: int, n_out: int, dtype: DTypeLike = np.float32, **options: Any) -> dict[str, int]:
        """``d = 2^ceil(log2 n_in)``, ``n_b = ceil(n_out / d)`` blocks: three float diagonals and one gather index,
        ``n_b d (3 s + i)`` bytes with ``i = 4`` (int32) unless ``n_b d > 2^31 - 1`` (int64, 8)."""
        d = 1 << (n_in - 1).bit_length()
        padded = -(-n_out // d) * d
        s = check_float_dtype(dtype).itemsize
        return {"fastfood": padded * (3 * s + (8 if padded > INT32_MAX else 4))}

    def _forward(self, e):
        N, n_in, nb, d = e.shape[0], self.n_in, self.n_blocks, self.d
        e_pad = np.zeros((N, d), dtype=self.dtype)  # zero-pad to d
        e_pad[:, :n_in] = e
        X = np.empty((N, nb, d), dtype=self.dtype)
        np.multiply(e_pad[:, None, :], self._signs_scaled[None, :, :], out=X)  # scale * B
        fwht(X.reshape(N * nb, d))  # H
        gather: np.ndarray = self._gather
        Z = np.take(X.reshape(N, nb * d), gather, axis=1)  # Pi (C-contiguous)
        Z3 = Z.reshape(N, nb, d)
        Z3 *= self.G  # G
        fwht(Z.reshape(N * nb, d))  # H
        Z3 *= self.S  # S
        if nb * d == self.n_out:
            return Z
        return np.ascontiguousarray(Z[:, : self.n_out])

    def _adjoint(self, y):
        N, nb, d = y.shape[0], self.n_blocks, self.d
        Y = np.zeros((N, nb * d), dtype=self.dtype)
        Y[:, : self.n_out] = y
        Y3 = Y.reshape(N, nb, d)
        Y3 *= self.S  # S
        fwht(Y.reshape(N * nb, d))  # H
        Y3 *= self.G  # G
        Z = np.empty_like(Y)
        Z[:, self._gather] = Y  # Pi^T
        fwht(Z.reshape(N * nb, d))  # H
        Z3 = Z.reshape(N, nb, d)
        Z3 *= self._signs_scaled  # scale * B
        return Z3[:, :, : self.n_in].sum(axis=1)

    def __repr__(self):
        return (
            f"Fastfood(n_in={self.n_in}, n_out={self.n_out}, d={self.d}, n_blocks={self.n_blocks}, "
            f"dtype={self.dtype.name}, nbytes={self.nbytes})"
        )
