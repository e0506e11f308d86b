"""The fixed random feedback matrices ``B_k`` of the direct-feedback rules (DFA, LAFS, IFA, and the rules that
project another vector than ``e``), laid out once on one projection.

Symbols (Launay et al. 2020, §3.2, eq. 7–8): ``C`` classes (the size of the error), ``l_k`` units at hidden
feedback point k, ``l_max`` the projection's number of outputs (``max_k l_k`` when nnlite draws it). ``B_k`` has
shape ``(l_k, C)`` and the signal at feedback point k is ``g_k = e @ B_k.T``.

- ``unified`` (eq. 7–8; the default): one matrix ``B = U / sqrt(l_max C)``, ``U ~ N(0, 1)`` of shape
  ``(l_max, C)``, and ``B_k = sqrt(l_max / l_k) B[:l_k]``: every ``B_k`` has entries of variance ``1 / (l_k C)``.
  Memory ``l_max C``.
- ``independent`` (Nøkland 2016): rows ``[o_k, o_k + l_k)`` of one projection of ``sum_k l_k`` outputs, rescaled
  the same way (``sqrt(n_out / l_k)``, ``n_out`` its number of outputs), so the per-entry variance is also
  ``1 / (l_k C)``. Memory ``sum_k l_k C``.

Every projection back end represents a matrix with entries of variance ``1 / (n_out n_in)``
(:mod:`nnlite.projections.base`), so the scale ``sqrt(n_out / l_k)`` applies to all of them. IFA is the case of
one feedback point (block 1 only).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .._validation import SeedLike, as_bool, check_seed

if TYPE_CHECKING:
    from ..network import Sequential
    from ..projections.base import Projection

__all__ = ["LAYOUTS", "DirectFeedback"]

LAYOUTS = ("unified", "independent")


class DirectFeedback:
    """The ``B_k`` of the first ``n_points`` hidden feedback points of a network, as one projection of ``C`` inputs.

    Parameters
    ----------
    projection : Projection, optional
        Any back end of :mod:`nnlite.projections` with ``n_in = C`` and at least ``l_max = max_k l_k``
        (unified) or ``sum_k l_k`` (independent) outputs. Default: a :class:`~nnlite.projections.Gaussian`
        drawn from ``seed`` at :meth:`setup`.
    layout : {"unified", "independent"}
        Launay et al.'s one shared matrix (eq. 7–8) or Nøkland's independent blocks of rows.
    seed : int, Generator or None
        Seeds the default projection.
    normalize : bool
        True (default): Launay et al.'s normalisation, every ``B_k`` with entries of variance ``1/(l_k C)``.
        False: ``B = U`` with ``U ~ N(0, 1)`` and ``B_k = B[:l_k]``, without the ``1/sqrt(l_max C)`` and
        ``sqrt(l_max / l_k)`` factors (Table 2's "no norm" row): every ``B_k`` has entries of variance 1.

    Attributes
    ----------
    sizes : list of int
        ``l_k`` per feedback point (this and the others are set by :meth:`setup`).
    offsets : list of int
        First row of ``B_k`` in the projection (0 for every k in the unified layout).
    scales : list of float
        ``sqrt(n_out / l_k)`` (Python floats: a NumPy float64 would promote float32 signals).
    """

    def __init__(
        self,
        projection: Projection | None = None,
        layout: str = "unified",
        seed: SeedLike = None,
        normalize: bool = True,
    ):
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        from ..projections import Projection

        if projection is not None and not isinstance(projection, Projection):
            # no string dispatch in the library: names become objects in the CLI (cli/build.py)
            raise TypeError(
                f"projection must be None (a Gaussian drawn from seed) or a Projection object, e.g. "
                f"nnlite.projections.Gaussian(n_in, n_out), Fastfood, Sparse or OPU; got {type(projection).__name__} "
                f"{projection!r}"
            )
        self.projection = projection
        self.layout = layout
        self.seed = check_seed(seed)
        self.normalize = as_bool(normalize, "normalize")
        self.sizes: list[int] = []
        self.offsets: list[int] = []
        self.scales: list[float] = []
        self.shapes: list[tuple[int, ...]] = []

    def setup(self, net: Sequential, n_points: int | None = None) -> None:
        """Lay out feedback points ``0 .. n_points - 1`` of ``net`` (default: every hidden one) on the projection,
        drawing the default projection. Called once per rule, by the rule's own set-up."""
        sizes = net.feedback_sizes if n_points is None else net.feedback_sizes[:n_points]
        if not sizes:
            raise ValueError("the network has no hidden block: there is nothing for direct feedback to reach")
        C = net.n_outputs
        if self.layout == "unified":
            need, offsets = max(sizes), [0] * len(sizes)
        else:
            need, offsets = sum(sizes), [sum(sizes[:k]) for k in range(len(sizes))]
        if self.projection is None:
            from ..projections import Gaussian

            self.projection = Gaussian(C, need, seed=self.seed, dtype=net.dtype)
        p = self.projection
        if p.n_in != C:
            raise ValueError(f"the projection takes {p.n_in} inputs but the network has {C} outputs")
        if p.n_out < need:
            raise ValueError(
                f"the {self.layout} layout needs a projection with at least {need} outputs "
                f"(feedback sizes {sizes}), got {p.n_out}"
            )
        if np.dtype(p.dtype) != np.dtype(net.dtype):
            raise TypeError(f"the projection is {np.dtype(p.dtype)} but the network is {np.dtype(net.dtype)}")
        self.sizes, self.offsets = list(sizes), offsets
        if self.normalize:
            self.scales = [math.sqrt(p.n_out / l_k) for l_k in sizes]
        else:  # undo the projection's own 1/sqrt(n_out C): entries of variance 1, no per-layer rescaling
            self.scales = [math.sqrt(p.n_out * C)] * len(sizes)
        self.shapes = [tuple(s) for s in net.block_shapes[: len(sizes)]]

    @property
    def projection_(self) -> Projection:
        """The projection, drawn (after :meth:`setup`)."""
        if self.projection is None:
            raise RuntimeError("the feedback has not been set up for a network yet")
        return self.projection

    # -- the maths ---------------------------------------------------------------------------------------------
    def project(self, v: np.ndarray) -> np.ndarray:
        """``v @ B.T`` for the whole projection, shape (N, n_out), from ``v`` (N, C) (or (N, ...) flattened)."""
        return self.projection_(v.reshape(v.shape[0], -1))

    def signal(self, P: np.ndarray, k: int) -> np.ndarray:
        """``g_k = v @ B_k.T`` from the projected ``P = project(v)``, in block k's output shape (N, ...)."""
        o, l_k = self.offsets[k], self.sizes[k]
        g = P[:, o : o + l_k] * self.scales[k]
        return g.reshape((P.shape[0], *self.shapes[k]))

    def signals(self, v: np.ndarray) -> list[np.ndarray]:
        """``g_k = v @ B_k.T`` for every feedback point, from one projection of ``v`` (N, C)."""
        P = self.project(v)
        return [self.signal(P, k) for k in range(len(self.sizes))]

    def matrix(self, k: int) -> np.ndarray:
        """``B_k`` of shape (l_k, C), materialised (for tests and inspection)."""
        p = self.projection_
        P = p(np.eye(p.n_in, dtype=p.dtype))  # (C, n_out) = B.T
        o, l_k = self.offsets[k], self.sizes[k]
        return np.ascontiguousarray(P[:, o : o + l_k].T * self.scales[k])

    @property
    def has_transpose(self) -> bool:
        """Whether the projection can apply ``y @ B`` (the readouts need it; the OPU cannot)."""
        return self.projection_.has_transpose

    def readout(self, k: int, h: np.ndarray) -> np.ndarray:
        """Local logits ``h_k @ B_k`` of shape (N, C) from block k's output ``h`` (N, ...)."""
        p = self.projection_
        n = h.shape[0]
        o, l_k = self.offsets[k], self.sizes[k]
        padded = np.zeros((n, p.n_out), dtype=h.dtype)
        padded[:, o : o + l_k] = h.reshape(n, l_k)
        return p.transpose(padded) * self.scales[k]
