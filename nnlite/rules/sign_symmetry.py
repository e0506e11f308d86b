"""Sign-concordant feedback (Liao, Leibo & Poggio 2016; Xiao, Chen, Liao & Poggio 2019): FA whose ``B_k`` has the
signs of the current ``W_k``.

Definitions as published (and as Sanfiz & Akrout 2021 state them): ``B_k = s_k sign(W_k)`` (uSF),
``B_k = |M_k| ∘ sign(W_k)`` with ``M_k`` redrawn at every step (brSF) or drawn once (frSF). ``sign(B_k) ==
sign(W_k)`` wherever ``W_k != 0``, at every step, for all three (a test pins it).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import SeedLike, as_generator, check_seed, finite_float
from ..layers.base import fans_of
from .base import RuleStep
from .fa import FeedbackChain, initial_feedbacks, load_matrices

if TYPE_CHECKING:
    from ..network import Sequential

__all__ = ["BRSF", "FRSF", "USF"]


class USF(FeedbackChain):
    """Uniform sign-concordant feedback (uSF): ``B_k = s_k sign(W_k)``, recomputed from the current ``W_k`` at
    every step.

    Parameters
    ----------
    scale : "glorot", float or None
        ``s_k``. ``"glorot"`` (default): ``sqrt(2 / (fan_in + fan_out))`` of each ``W_k`` (Xiao et al.'s scaling,
        the standard deviation of a Glorot-normal weight, which keeps the backward signal from exploding); a
        positive number: that ``s`` for every block; None: no scaling (``B_k = sign(W_k)``).

    Notes
    -----
    ``delta_k = (delta_{k+1} @ (s_{k+1} sign(W_{k+1}))) * f'(a_k)``. With every entry of ``W_k`` equal to
    ``±c`` and ``scale=c``, ``B_k = W_k`` and uSF is BP.

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> grads = nn.USF().gradients(net, caches, e, y)
    >>> [g["W"].shape for g in grads]  # one dict per block, shaped like net.params()
    [(32, 64), (32, 32), (10, 32)]
    """

    name = "usf"

    def __init__(self, scale: float | str | None = "glorot"):
        if isinstance(scale, str):
            if scale != "glorot":
                raise ValueError(f"scale must be 'glorot', a positive number or None, got {scale!r}")
        elif scale is not None:
            scale = finite_float(scale, "scale", minimum=0.0, strict=True)
        self.scale = scale
        self._s: list[float] = []

    def _setup(self, net: Sequential) -> None:
        self._s = []
        for k in range(net.n_blocks):
            if self.scale == "glorot":
                fan_in, fan_out = fans_of(net.weight_layer(k).params["W"].shape)
                self._s.append(math.sqrt(2.0 / (fan_in + fan_out)))
            else:
                self._s.append(1.0 if self.scale is None else float(self.scale))

    def current_feedbacks(self, net: Sequential) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = [None]
        for k in range(1, net.n_blocks):
            B = np.sign(net.weight_layer(k).params["W"])
            B *= self._s[k]
            out.append(B)
        return out


class FRSF(FeedbackChain):
    """Fixed random-magnitude sign-concordant feedback (frSF): ``B_k = |M_k| ∘ sign(W_k)``, ``M_k`` drawn once
    (with ``W_k``'s initialisation scheme), the signs taken from the current ``W_k`` at every step.

    Parameters
    ----------
    seed : int, Generator or None
        Seeds the magnitudes ``M_k``.

    Notes
    -----
    ``delta_k = (delta_{k+1} @ (|M_{k+1}| ∘ sign(W_{k+1}))) * f'(a_k)``. (biotorch's frSF multiplies by ``M``,
    not ``|M|``, and re-applies ``sign(W)`` to the stored product at every step, so its signs alternate; nnlite
    implements the published definition.)

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> grads = nn.FRSF(seed=1).gradients(net, caches, e, y)
    >>> [g["W"].shape for g in grads]  # one dict per block, shaped like net.params()
    [(32, 64), (32, 32), (10, 32)]
    """

    name = "frsf"

    def __init__(self, seed: SeedLike = None):
        self.seed = check_seed(seed)
        self._M: list[np.ndarray | None] = []

    def _setup(self, net: Sequential) -> None:
        self._M = [None if M is None else np.abs(M) for M in initial_feedbacks(net, self.seed, None)]

    def magnitudes(self, net: Sequential) -> list[np.ndarray | None]:
        """``|M_k|`` per block (None for block 0)."""
        self.setup(net)
        return self._M

    def current_feedbacks(self, net: Sequential) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = [None]
        for k in range(1, net.n_blocks):
            M = self._M[k]
            assert M is not None
            out.append(M * np.sign(net.weight_layer(k).params["W"]))
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {f"M{k}": M for k, M in enumerate(self._M) if M is not None}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        load_matrices(self._M, state, "M", type(self).__name__)


class BRSF(FRSF):
    """Batchwise random-magnitude sign-concordant feedback (brSF): ``B_k = |M_k| ∘ sign(W_k)`` with ``M_k`` redrawn
    after every step from ``W_k``'s initialisation scheme (seeded: the same seed gives the same sequence).

    Parameters
    ----------
    seed : int, Generator or None
        Seeds the stream of magnitudes.

    Notes
    -----
    The redraw happens in :meth:`commit` (called by :func:`nnlite.fit` after each update), so every step's
    backward pass, and any alignment measured on that step, sees one ``M_k``.

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> grads = nn.BRSF(seed=1).gradients(net, caches, e, y)
    >>> [g["W"].shape for g in grads]  # one dict per block, shaped like net.params()
    [(32, 64), (32, 32), (10, 32)]
    """

    name = "brsf"

    def _setup(self, net: Sequential) -> None:
        self._rng = as_generator(self.seed)
        self._draw(net)

    def _draw(self, net: Sequential) -> None:
        self._M = [None] + [np.abs(net.weight_layer(k).new_feedback(self._rng)) for k in range(1, net.n_blocks)]

    def _commit(self, net: Sequential, step: RuleStep) -> None:
        self.setup(net)
        self._draw(net)

    def state(self) -> dict[str, np.ndarray]:
        return {**super().state(), "rng": np.array(json.dumps(self._rng.bit_generator.state))}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        state = dict(state)
        if "rng" not in state:
            raise ValueError(f"BRSF state must hold its generator 'rng', got {sorted(state)}")
        rng_state: Any = json.loads(str(state.pop("rng")))
        super().load_state(state)
        self._rng.bit_generator.state = rng_state
