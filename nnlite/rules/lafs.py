"""Linear Aligned Feedback Systems (Gilmer et al. 2017)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .base import Grads, check_error
from .direct import DirectRule, scaled

if TYPE_CHECKING:
    from ..network import Caches, Sequential

__all__ = ["LAFS"]


class LAFS(DirectRule):
    r"""Layer-wise training through fixed random readouts: DFA with each ``e`` replaced by a local error.

    Every hidden block k has the readout ``B_k`` that :class:`~nnlite.DFA` with the same
    ``projection``/``layout``/``seed`` uses, a local prediction ``softmax(h_k @ B_k)``, and the local error
    ``e_k = (softmax(h_k @ B_k) - onehot(y)) / N`` (:func:`nnlite.rules.direct.local_errors`); its signal is
    ``g_k = e_k @ B_k.T``.

    Parameters (``projection``, ``layout``, ``seed``, ``parallel``, ``normalize``, ``error_scale``) as for
    :class:`~nnlite.rules.direct.DirectRule`; ``error_scale="sum"`` projects ``N e_k``, the local errors
    without ``1/N``.

    Notes
    -----
    :math:`g_k` is the exact gradient of the local loss with respect to :math:`h_k`,

    .. math::

        L_k = \operatorname{CE}\big(\operatorname{softmax}(h_k B_k),\, y\big), \qquad
        g_k = \frac{\partial L_k}{\partial h_k} = e_k B_k^\top,

    so each block's update is the exact gradient of its own local loss. The projection must support
    ``transpose`` (the readout ``h_k @ B_k``): Gaussian, Fastfood and Sparse do, the OPU does not.

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> grads = nn.LAFS(seed=1).gradients(net, caches, e, y)
    >>> [g["W"].shape for g in grads]  # one dict per block, shaped like net.params()
    [(32, 64), (32, 32), (10, 32)]
    """

    name = "lafs"
    in_compare = True
    needs_labels = True
    needs_transpose = True

    def _setup(self, net: Sequential) -> None:
        if self.bp_points:
            raise ValueError(
                "LAFS trains every hidden block on its own local loss: bp_points applies to DFA, DRTP, sDFA"
            )
        super()._setup(net)
        if not self.feedback.has_transpose:
            raise NotImplementedError(
                f"LAFS needs the transpose of its projection for the readouts h_k @ B_k, and "
                f"{type(self.projection).__name__} cannot apply it (the transpose); use Gaussian, Fastfood or Sparse"
            )

    def signals_from_errors(self, net: Sequential, caches: Caches, errors: list[np.ndarray]) -> list[np.ndarray]:
        """``g_k = e_k @ B_k.T`` for given local errors (one (N, C) array per hidden block)."""
        self.setup(net)
        if len(errors) != len(self.feedback.sizes):
            raise ValueError(f"got {len(errors)} local errors for {len(self.feedback.sizes)} hidden blocks")
        errors = [check_error(net, caches, e_k) for e_k in errors]
        return [self.feedback.signal(self.feedback.project(e_k), k) for k, e_k in enumerate(errors)]

    def gradients_from_errors(self, net: Sequential, caches: Caches, e: np.ndarray, errors: list[np.ndarray]) -> Grads:
        """The update with chosen local errors; with every ``e_k = e`` this is exactly DFA's."""
        e = check_error(net, caches, e)
        g = self.signals_from_errors(net, caches, errors)
        return self._updates(net, caches, [*g, e])

    def gradients_and_signals(
        self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None
    ) -> tuple[Grads, list[np.ndarray]]:
        e = check_error(net, caches, e, y)
        if y is None:
            raise ValueError("LAFS needs the labels y for its local errors")
        errors = [scaled(e_k, self.error_scale) for e_k in self.local_errors(net, caches, y)]
        g = self.signals_from_errors(net, caches, errors)
        return self._updates(net, caches, [*g, e]), g
