"""Indirect Feedback Alignment (Nøkland 2016, Fig. 1d)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import SeedLike, check_seed
from .base import Grads, Rule, check_error
from .direct import check_error_scale, scaled
from .feedback import DirectFeedback

if TYPE_CHECKING:
    from ..network import Caches, Sequential
    from ..projections.base import Projection

__all__ = ["IFA"]


class IFA(Rule):
    """Indirect Feedback Alignment: the error reaches the first hidden block only, and is carried *forward*.

    ``g_1 = e @ B_1.T`` with a fixed random ``B_1`` of shape ``(l_1, C)`` — the one-point case of
    :class:`~nnlite.rules.feedback.DirectFeedback`, so its entries have DFA's variance ``1/(l_1 C)`` — and each
    later hidden block gets ``g_k = delta_{k-1} @ W_k.T``, where ``delta_{k-1} = dL/da_{k-1}`` is block k-1's
    local gradient at its weight layer's output. The output block gets ``e``.

    Parameters
    ----------
    projection : Projection, optional
        ``B_1`` as a projection with ``n_in = C`` and ``n_out >= l_1``. Default: Gaussian from ``seed``.
    seed : int, Generator or None
        Seeds the default Gaussian projection's draw (unused when ``projection`` is given).
    normalize : bool
        As for :class:`~nnlite.rules.feedback.DirectFeedback` (False: ``B_1`` with entries of variance 1).
    error_scale : {"mean", "sum"}
        ``"sum"``: ``g_1 = (N e) @ B_1.T``, the per-sample errors summed over the batch (as for
        :class:`~nnlite.rules.direct.DirectRule`); the later hidden blocks, carried from block 1, scale with it.
        The output block keeps ``e``.

    Notes
    -----
    Nøkland defines IFA for MLPs, where ``delta_{k-1}`` has the shape of block k's input. In a conv net it has the
    shape of block k-1's convolution output, so nnlite carries it through the *linear* parts of the network:
    block k-1's layers after its weight layer (max pooling picks the same winners as the forward pass, average
    pooling averages, flatten reshapes, dropout applies the same mask; activations and batch norm are skipped),
    then block k's weight layer without bias (``delta @ W.T``, or a convolution of ``delta`` with ``W``), then
    block k's own layers after its weight layer in the same way, so that ``g_k`` lands at feedback point k (block
    k's output). In an MLP the last step is an activation, skipped, and the rule is exactly Nøkland's.

    Stability: block k's signal is block k-1's own update carried forward, so block k reinforces the change that
    block k-1 makes. With a bounded, saturating activation (tanh, as in Nøkland's experiments) this is stable;
    with unbounded ones (ReLU, leaky ReLU, ``|x|``) it feeds back on the norm of ``W_k`` and can diverge (the
    docs/measurements.md has the measured figures).

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> grads = nn.IFA(seed=1).gradients(net, caches, e, y)
    >>> [g["W"].shape for g in grads]  # one dict per block, shaped like net.params()
    [(32, 64), (32, 32), (10, 32)]
    """

    folds_updates = True

    name = "ifa"
    family = "indirect"
    in_compare = True

    def __init__(
        self,
        projection: Projection | None = None,
        seed: SeedLike = None,
        *,
        normalize: bool = True,
        error_scale: str = "mean",
    ):
        self.feedback = DirectFeedback(projection, "unified", seed, normalize)
        self.error_scale = check_error_scale(error_scale)
        self._projection_arg = projection
        self.seed = check_seed(seed)

    @property
    def projection(self) -> Projection | None:
        return self.feedback.projection

    def _setup(self, net: Sequential) -> None:
        if net.n_blocks < 2:
            raise ValueError("the network has no hidden block: there is nothing for IFA to reach")
        self.feedback.setup(net, n_points=1)

    def gradients_and_signals(
        self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None
    ) -> tuple[Grads, list[np.ndarray]]:
        e = check_error(net, caches, e, y)
        self.setup(net)
        K = net.n_blocks
        g = self.feedback.signals(scaled(e, self.error_scale))[0]
        per_block, signals = [], []
        for k in range(K - 1):
            signals.append(g)
            carry = k + 1 < K - 1
            _, grads, delta = net.backward_block(k, g, caches, need_dx=False, need_delta=carry)
            per_block.append(grads)
            if carry:
                assert delta is not None
                v = net.carry_block(k, delta, caches, include_weight=False)
                g = net.carry_block(k + 1, v, caches, include_weight=True)
        per_block.append(net.backward_block(K - 1, e, caches, need_dx=False, need_delta=False)[1])
        return [gr for b in per_block for gr in b], signals

    def _repr_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"projection": self._projection_arg, "seed": self.seed}
        if not self.feedback.normalize:
            args["normalize"] = False
        if self.error_scale != "mean":
            args["error_scale"] = self.error_scale
        return args
