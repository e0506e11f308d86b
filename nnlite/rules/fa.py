"""Feedback Alignment (Lillicrap et al. 2016), and the base of the rules that carry the signal back block by block
through a matrix ``B_k`` of ``W_k``'s shape (sign symmetry, Kolen–Pollack)."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

import numpy as np

from .._validation import SeedLike, as_generator, check_seed
from .base import Grads, Rule, check_error
from .bp import chain

if TYPE_CHECKING:
    from ..network import Caches, Sequential

__all__ = ["FA", "FeedbackChain"]


class FeedbackChain(Rule):
    """Base of the FA family: BP's chain with ``B_k`` in place of ``W_k`` in every ``dx`` product.

    A subclass implements :meth:`current_feedbacks`, the ``B_k`` of this step (``None`` for block 0, whose ``dx``
    is never computed); alignment measures the angle between each ``W_k`` and ``B_k``.

    Notes
    -----
    ``delta_k = (delta_{k+1} @ B_{k+1}) * f'(a_k)``, ``dW_k = delta_k.T @ h_{k-1}``.
    """

    folds_updates = True

    family = "chain"

    @abc.abstractmethod
    def current_feedbacks(self, net: Sequential) -> list[np.ndarray | None]:
        """``B_k`` for every block, as used by the next backward pass."""

    def gradients_and_signals(
        self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None
    ) -> tuple[Grads, list[np.ndarray]]:
        e = check_error(net, caches, e, y)
        self.setup(net)
        return chain(net, caches, e, self.current_feedbacks(net))

    def weight_feedbacks(self, net: Sequential) -> list[np.ndarray | None] | None:
        self.setup(net)
        return self.current_feedbacks(net)


class FA(FeedbackChain):
    r"""Feedback Alignment: as BP, but each block's ``dx`` product uses a fixed random ``B_k`` of ``W_k``'s shape.

    Parameters
    ----------
    seed : int, Generator or None
        Seeds the feedback matrices, drawn at set-up with the same scheme as each ``W_k``
        (:meth:`Dense.new_feedback`, or a random kernel of the same shape for a convolution).
    feedbacks : list of ndarray, optional
        Explicit ``B_k`` per block (``None`` entries for the first block, whose ``dx`` is never computed).
        ``FA(feedbacks=[None] + [W_2, W_3, ...])`` gives exactly BP's gradients.

    Notes
    -----
    .. math::

        \delta_k = (\delta_{k+1} B_{k+1}) \odot f'(a_k), \qquad \Delta W_k \propto -\delta_k^\top h_{k-1}.

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> grads = nn.FA(seed=1).gradients(net, caches, e, y)
    >>> [g["W"].shape for g in grads]  # one dict per block, shaped like net.params()
    [(32, 64), (32, 32), (10, 32)]
    """

    name = "fa"
    in_compare = True

    def __init__(self, seed: SeedLike = None, feedbacks: list[np.ndarray | None] | None = None):
        self.seed = check_seed(seed)
        self._given = given_feedbacks(feedbacks)
        self._B: list[np.ndarray | None] = []

    def _setup(self, net: Sequential) -> None:
        self._B = initial_feedbacks(net, self.seed, self._given)

    def current_feedbacks(self, net: Sequential) -> list[np.ndarray | None]:
        return self._B

    def feedbacks(self, net: Sequential) -> list[np.ndarray | None]:
        """The fixed ``B_k`` of every block (``None`` for block 0), drawn at set-up."""
        self.setup(net)
        return self._B

    def state(self) -> dict[str, np.ndarray]:
        return {f"B{k}": B for k, B in enumerate(self._B) if B is not None}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        load_matrices(self._B, state, "B", type(self).__name__)

    def __repr__(self) -> str:
        fb = "" if self._given is None else ", feedbacks=[...]"
        return f"{type(self).__name__}(seed={self.seed!r}{fb})"


def given_feedbacks(feedbacks: object) -> list[np.ndarray | None] | None:
    """``feedbacks`` as a list of arrays (``None`` allowed for block 0), or None; ``TypeError`` for anything else
    (checked again against the network's weights at set-up, by :func:`initial_feedbacks`)."""
    if feedbacks is None:
        return None
    if isinstance(feedbacks, (str, bytes, np.ndarray)) or not isinstance(feedbacks, (list, tuple)):
        raise TypeError(
            f"feedbacks must be a list with one entry per block (None for block 0, then arrays of W_k's shape), "
            f"got {type(feedbacks).__name__}"
        )
    for k, B in enumerate(feedbacks):
        if not (B is None or isinstance(B, np.ndarray)):
            raise TypeError(f"feedback {k} must be a numpy array (or None for block 0), got {type(B).__name__}")
    return list(feedbacks)


def initial_feedbacks(
    net: Sequential, seed: SeedLike, given: list[np.ndarray | None] | None
) -> list[np.ndarray | None]:
    """Random ``B_k`` drawn with each ``W_k``'s scheme from ``seed`` (``None`` for block 0), or the ``given`` ones
    checked against the weights' shapes (copied, so that a rule that updates them leaves the caller's arrays)."""
    shapes = [net.weight_layer(k).params["W"].shape for k in range(net.n_blocks)]
    if given is None:
        rng = as_generator(seed)
        return [None] + [net.weight_layer(k).new_feedback(rng) for k in range(1, net.n_blocks)]
    if len(given) != net.n_blocks:
        raise ValueError(f"feedbacks must list one entry per block ({net.n_blocks}), got {len(given)}")
    out: list[np.ndarray | None] = [None]
    for k in range(1, net.n_blocks):
        B = given[k]
        if B is None or B.shape != shapes[k]:
            raise ValueError(f"feedback {k} must have shape {shapes[k]}, got {None if B is None else B.shape}")
        if B.dtype != net.dtype:
            raise TypeError(f"feedback {k} is {B.dtype}, but the network is {net.dtype}")
        out.append(B)
    return out


def load_matrices(target: list[np.ndarray | None], state: dict[str, np.ndarray], prefix: str, who: str) -> None:
    """Copy ``state[prefix + k]`` into ``target[k]`` for every non-None entry, checking names and shapes."""
    want = {f"{prefix}{k}" for k, B in enumerate(target) if B is not None}
    if set(state) != want:
        raise ValueError(f"{who} state must hold {sorted(want)}, got {sorted(state)}")
    for k, B in enumerate(target):
        if B is not None:
            a = np.asarray(state[f"{prefix}{k}"])
            if a.shape != B.shape:
                raise ValueError(f"{who} state {prefix}{k} has shape {a.shape}, expected {B.shape}")
            if a.dtype != B.dtype:
                raise ValueError(f"{who} state {prefix}{k} is {a.dtype}, expected {B.dtype}")
            target[k] = a.astype(B.dtype, copy=True)
