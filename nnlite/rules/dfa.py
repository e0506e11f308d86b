"""Direct Feedback Alignment (Nøkland 2016), with Launay et al.'s unified feedback matrix."""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .bp import reshape_output_error

LAYOUTS = ("unified", "independent")


class DirectFeedback:
    """The fixed random ``B_k`` of DFA and LAFS, held as one projection of the error, sliced per feedback point.

    ``B_k`` has shape ``(l_k, C)``; the signal at feedback point k is ``g_k = e @ B_k.T``.

    - ``unified`` (Launay et al., eq. 7–8): one projection ``B`` of shape ``(l_max, C)`` with entries of variance
      ``1/(l_max C)`` (``U / sqrt(l_max C)``) and ``B_k = sqrt(l_max / l_k) B[:l_k]``. Memory ``l_max C``.
    - ``independent`` (Nøkland): rows ``[o_k, o_k + l_k)`` of one projection of ``sum(l_k)`` outputs, rescaled so
      that ``B_k``'s entries have the same variance ``1/(l_k C)``. Memory ``sum(l_k) C``.

    Parameters
    ----------
    projection : Projection, optional
        Any back end of :mod:`nnlite.projections` with ``n_in = C`` and enough outputs (``l_max`` for unified,
        ``sum(l_k)`` for independent) whose entries have variance ``1/(n_out C)``. Default: a
        :class:`~nnlite.projections.Gaussian` drawn from ``seed`` on first use.
    layout : {"unified", "independent"}
    seed : int, Generator or None
    """

    def __init__(self, projection=None, layout="unified", seed=None):
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        self.projection = projection
        self.layout = layout
        self.seed = seed
        self._net_key = None

    # -- set-up ----------------------------------------------------------------------------------------------
    def setup(self, net):
        """Lay the feedback points of ``net`` out on the projection (drawing it on first use)."""
        sizes = net.feedback_sizes
        key = (tuple(sizes), net.n_outputs, np.dtype(net.dtype).str)
        if self._net_key == key:
            return
        if self._net_key is not None:
            raise ValueError(
                f"this rule was set up for feedback sizes {self._net_key[0]} and "
                f"{self._net_key[1]} outputs, not {tuple(sizes)} and {net.n_outputs}; "
                "use a new rule per network"
            )
        if not sizes:
            raise ValueError("the network has no hidden block: there is nothing for direct feedback to reach")
        C = net.n_outputs
        if self.layout == "unified":
            need = max(sizes)
            offsets = [0] * len(sizes)
        else:
            need = sum(sizes)
            offsets = [sum(sizes[:k]) for k in range(len(sizes))]
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
        self.sizes, self.offsets = sizes, offsets
        # Python floats: a NumPy float64 scale would promote float32 signals.
        self.scales = [math.sqrt(p.n_out / l) for l in sizes]
        self._net_key = key

    def _slice(self, net, P, k):
        """Signal at feedback point k from the projected ``P`` (N, n_out), reshaped to the block's shape."""
        o, l, s = self.offsets[k], self.sizes[k], self.scales[k]
        g = P[:, o : o + l] * s
        return g.reshape((P.shape[0],) + net.block_shapes[k])

    def feedback_matrix(self, net, k):
        """``B_k`` of shape (l_k, C), materialised (for tests and inspection)."""
        self.setup(net)
        C = net.n_outputs
        P = self.projection(np.eye(C, dtype=net.dtype))  # (C, n_out) = B.T
        o, l = self.offsets[k], self.sizes[k]
        return np.ascontiguousarray(P[:, o : o + l].T * self.scales[k])

    def readout(self, net, k, h):
        """Local logits ``h_k @ B_k`` of shape (N, C) from the block output ``h`` (N, ...)."""
        self.setup(net)
        n = h.shape[0]
        o, l = self.offsets[k], self.sizes[k]
        padded = np.zeros((n, self.projection.n_out), dtype=h.dtype)
        padded[:, o : o + l] = h.reshape(n, l)
        return self.projection.transpose(padded) * self.scales[k]

    def local_errors(self, net, caches, y):
        """LAFS's local errors ``e_k = (softmax(h_k @ B_k) - onehot(y)) / N``, one (N, C) array per hidden block."""
        from ..ops.losses import one_hot, softmax

        if y is None:
            raise ValueError("local errors need the labels y")
        C = net.n_outputs
        errs = []
        for k in range(net.n_blocks - 1):
            h = caches.block_outputs[k]
            z = self.readout(net, k, h)
            e_k = softmax(z)
            e_k -= one_hot(y, C, z.dtype)
            e_k *= 1.0 / h.shape[0]
            errs.append(e_k)
        return errs

    def local_losses(self, net, caches, y):
        """LAFS's local losses ``L_k = CE(softmax(h_k @ B_k), y)`` (batch means), one float per hidden block."""
        from ..ops.losses import softmax_cross_entropy

        return [
            softmax_cross_entropy(self.readout(net, k, caches.block_outputs[k]), y)[0] for k in range(net.n_blocks - 1)
        ]


class DFA(DirectFeedback):
    """Direct Feedback Alignment: every hidden block gets ``g_k = e @ B_k.T`` straight from the output error.

    Parameters
    ----------
    projection, layout, seed
        See :class:`DirectFeedback`.
    parallel : bool
        Compute the blocks' updates concurrently in threads, one BLAS thread each (they do not depend on each
        other; BLAS releases the GIL).

    Notes
    -----
    One projection of ``e`` per step gives every hidden signal; no block computes a ``dx`` product.
    ``delta_k = (e @ B_k.T) * f'(a_k)``, ``dW_k = delta_k.T @ h_{k-1}``; the output block gets ``e``.
    """

    name = "dfa"

    def __init__(self, projection=None, layout="unified", seed=None, parallel=False):
        super().__init__(projection, layout, seed)
        self.parallel = bool(parallel)
        self._pool = None

    def signals(self, net, caches, e, y=None):
        """``g_k = e @ B_k.T`` for every hidden block, shape (N, *block_shape)."""
        self.setup(net)
        P = self.projection(e.reshape(e.shape[0], -1))
        return [self._slice(net, P, k) for k in range(net.n_blocks - 1)]

    def gradients(self, net, caches, e, y=None):
        return self.gradients_and_signals(net, caches, e, y)[0]

    def gradients_and_signals(self, net, caches, e, y=None):
        e = reshape_output_error(net, e)
        g = self.signals(net, caches, e, y)
        return self._local_updates(net, caches, g + [e]), g

    def _local_updates(self, net, caches, g):
        K = net.n_blocks

        def block(k):
            return net.backward_block(k, g[k], caches, need_dx=False)[1]

        if self.parallel and K > 1:
            from threadpoolctl import threadpool_limits

            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=min(K, os.cpu_count() or 1))
            # The workers are the parallelism: each runs single-threaded BLAS, or the two levels of threads
            # oversubscribe the cores (measured 1.37x slower than sequential DFA on 2 cores without the limit).
            with threadpool_limits(limits=1, user_api="blas"):
                per_block = list(self._pool.map(block, range(K)))
        else:
            per_block = [block(k) for k in range(K)]
        return [gr for b in per_block for gr in b]

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_pool"] = None
        return d

    def __repr__(self):
        return (
            f"DFA(projection={self.projection!r}, layout={self.layout!r}, seed={self.seed!r}, parallel={self.parallel})"
        )
