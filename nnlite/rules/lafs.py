"""Linear Aligned Feedback Systems (Gilmer et al. 2017)."""

from __future__ import annotations

from .bp import reshape_output_error
from .dfa import DFA


class LAFS(DFA):
    """Layer-wise training through fixed random readouts: DFA with each ``e`` replaced by a local error.

    Every hidden block k has the readout ``B_k`` that :class:`DFA` with the same ``projection``/``layout``/``seed``
    uses, a local prediction ``softmax(h_k @ B_k)``, and the local error ``e_k = (softmax(h_k @ B_k) - y) / N``;
    its signal is ``g_k = e_k @ B_k.T``. This is the exact gradient of the local loss ``CE(softmax(h_k @ B_k), y)``
    with respect to ``h_k``, so each block's update is the exact gradient of its own local loss.

    Notes
    -----
    The projection must support ``transpose`` (the readout ``h_k @ B_k``): Gaussian, Fastfood and Sparse do, the
    OPU does not.
    """

    name = "lafs"

    def __init__(self, projection=None, layout="unified", seed=None, parallel=False):
        super().__init__(projection, layout, seed, parallel)

    def setup(self, net):
        super().setup(net)
        if not self.projection.has_transpose:
            raise NotImplementedError(
                f"LAFS needs the transpose of its projection for the readouts h_k @ B_k, and "
                f"{type(self.projection).__name__} cannot apply it (the transpose); use Gaussian, Fastfood or Sparse"
            )

    def signals_from_errors(self, net, caches, errors):
        """``g_k = e_k @ B_k.T`` for given local errors (one (N, C) array per hidden block)."""
        self.setup(net)
        out = []
        for k, e_k in enumerate(errors):
            P = self.projection(e_k)
            out.append(self._slice(net, P, k))
        return out

    def signals(self, net, caches, e, y=None):
        return self.signals_from_errors(net, caches, self.local_errors(net, caches, y))

    def gradients_from_errors(self, net, caches, e, errors):
        """The update with chosen local errors; with every ``e_k = e`` this is exactly DFA's."""
        e = reshape_output_error(net, e)
        g = self.signals_from_errors(net, caches, errors) + [e]
        return self._local_updates(net, caches, g)

    def gradients_and_signals(self, net, caches, e, y=None):
        self.setup(net)
        e = reshape_output_error(net, e)
        g = self.signals_from_errors(net, caches, self.local_errors(net, caches, y))
        return self._local_updates(net, caches, g + [e]), g

    def __repr__(self):
        return f"LAFS(projection={self.projection!r}, layout={self.layout!r}, seed={self.seed!r})"
