"""PEPITA (Dellaferrera & Kreiman 2022, "Error-driven input modulation: solving the credit assignment problem
without a backward pass"): a second forward pass on the input modulated by the projected error replaces the
backward pass."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .._validation import SeedLike, as_generator, check_seed, finite_float
from .base import Grads, Rule, check_error
from .fa import load_matrices
from .forward_blocks import check_dense_blocks
from .options import Option

if TYPE_CHECKING:
    from ..network import Caches, Sequential

__all__ = ["PEPITA"]


class PEPITA(Rule):
    """Present the Error to Perturb the Input To modulate Activity: each block learns from the difference
    between its activity on the input and on the input plus a fixed random projection ``F e`` of the error.

    Parameters
    ----------
    f_scale : float
        > 0, the factor of ``F``'s entries: ``F ~ f_scale * U(-sqrt(6/d), sqrt(6/d))`` (d the input's size; the
        authors' code: 0.05).
    seed : int, Generator or None
        Seeds ``F``.

    Notes
    -----
    The paper's Algorithm 1, ``h_0 = x``, ``h_ℓ = σ_ℓ(W_ℓ h_{ℓ-1})`` (the standard pass, nnlite's forward pass),
    ``e = h_L - target`` per sample (nnlite: ``N e``, since ``e`` carries the batch mean's 1/N; for the softmax
    cross-entropy it is exactly ``softmax - onehot``)::

        h^err_0 = x + F e                              (the modulated pass, F of shape (d, C))
        h^err_ℓ = σ_ℓ(W_ℓ h^err_{ℓ-1})
        ΔW_ℓ = (h_ℓ - h^err_ℓ) ⊗ h^err_{ℓ-1}           ℓ < L
        ΔW_L = e ⊗ h^err_{L-1}

    each a mean over the batch, the update ``W_ℓ <- W_ℓ - η ΔW_ℓ`` (the optimizer's). No error is sent
    backwards and no derivative of ``σ`` is taken: a hidden block's ``(h_ℓ - h^err_ℓ)/N`` goes straight to its
    weight layer's output, as ``delta`` (the bottleneck's masks applied as ``backward_block`` applies them);
    the output block takes ``e`` through its own layers with the modulated pass's caches. The signals that
    :meth:`signals` returns, and alignment compares with BP's ``c_k``, are ``(h_k - h^err_k)/N``.

    Where the reading had to choose (the modulated first input, the output layer's error from the first pass,
    ``F``'s scale, biases with a constant input, the training pass's dropout masks applied once where the authors'
    numpy code applies them twice, dense networks only): docs/design.md, "The rules", with the authors' code
    (GiorgiaD/PEPITA) quoted there.

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> grads = nn.PEPITA(seed=1).gradients(net, caches, e, y)
    >>> [g["W"].shape for g in grads]  # one dict per block, shaped like net.params()
    [(32, 64), (32, 32), (10, 32)]
    """

    name = "pepita"
    family = "forward"
    options = (Option("f_scale", "float", None, "F's scale (0.05)", "positive", "pepita_scale"),)

    def __init__(self, f_scale: float = 0.05, seed: SeedLike = None) -> None:
        self.f_scale = finite_float(f_scale, "f_scale", minimum=0.0, strict=True)
        self.seed = check_seed(seed)
        self._F: list[np.ndarray | None] = [None]

    def _setup(self, net: Sequential) -> None:
        check_dense_blocks(net, type(self).__name__)
        d = math.prod(net.input_shape)
        a = math.sqrt(6.0 / d)
        rng = as_generator(self.seed)
        self._F = [(rng.uniform(-a, a, size=(d, net.n_outputs)) * self.f_scale).astype(net.dtype)]

    def input_projection(self, net: Sequential) -> np.ndarray:
        """``F`` of shape (d, C): the error's projection to the input, ``x + (N e) @ F.T``."""
        self.setup(net)
        F = self._F[0]
        assert F is not None
        return F

    def gradients_and_signals(
        self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None
    ) -> tuple[Grads, list[np.ndarray]]:
        """The modulated pass and every block's update (see the class); signals ``(h_k - h^err_k)/N``. Every pass
        goes through the block API (``forward_block``, ``update_block``, ``backward_block``), so an executor runs
        it as it runs the others'."""
        e = check_error(net, caches, e, y)
        F = self.input_projection(net)
        N, K = e.shape[0], net.n_blocks
        modulation = (e.reshape(N, -1) * float(N)) @ F.T
        h = net.block_input(0, caches) + net.carry_prefix(modulation.reshape(N, *net.input_shape), caches)
        grads: Grads = []
        signals: list[np.ndarray] = []
        for k in range(K):
            out, modulated = net.forward_block(k, h, caches)
            if k < K - 1:
                delta = (caches.block_outputs[k] - out) * (1.0 / N)
                signals.append(delta)
                grads += net.update_block(k, delta, modulated)
            else:
                grads += net.backward_block(k, e, modulated, need_dx=False, need_delta=False)[1]
            h = out
        return grads, signals

    def state(self) -> dict[str, np.ndarray]:
        F = self._F[0]
        return {} if F is None else {"F0": F}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        load_matrices(self._F, state, "F", "PEPITA")
