"""Difference target propagation (Lee, Zhang, Fischer & Bengio 2015, "Difference target propagation") and its
difference reconstruction loss (Meulemans, Carzaniga, Suykens, Sacramento & Grewe 2020, "A theoretical framework
for target propagation"): every hidden block learns towards a target that learned feedback mappings carry down."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import SeedLike, as_generator, check_seed, finite_float
from ..layers import init_weight
from .base import Grads, Rule, RuleStep, check_error
from .fa import load_matrices
from .forward_blocks import block_activations, check_dense_blocks
from .options import Option

if TYPE_CHECKING:
    from ..layers import Layer
    from ..network import Caches, Sequential

__all__ = ["DDTP", "DTP"]


class DTP(Rule):
    """Difference target propagation: each hidden block trains on the distance to its own target, the targets
    carried down from the top hidden block by learned feedback mappings ``g_i`` with the difference correction;
    ``g_i`` learns to invert the block above it.

    Parameters
    ----------
    feedback_lr : float
        The learning rate (plain SGD) of the feedback mappings' ``V_i`` and ``c_i``, > 0.
    noise : float
        σ > 0, the standard deviation of the Gaussian corruption in the reconstruction loss.
    target_step : float
        η̂ > 0, the step of the first target along the per-sample gradient; with η̂ = 1 the top hidden block's
        update is BP's (a test).
    seed : int, Generator or None
        Seeds ``V_i`` (Glorot's uniform scheme; ``c_i = 0``) and then the stream of noise.

    Notes
    -----
    Lee et al.'s symbols, layer i = nnlite's block i - 1: ``h_i = f_i(h_{i-1})`` the hidden blocks' outputs,
    ``h_{M-1}`` the last hidden one, the output layer M trained on the global loss L (by its own gradient, ``e``).
    Targets (their Algorithm 1)::

        ĥ_{M-1} = h_{M-1} - η̂ ∂ℓ/∂h_{M-1}                 (ℓ: the sample's loss, through the output block)
        ĥ_{i-1} = h_{i-1} + g_i(ĥ_i) - g_i(h_i),          g_i(h) = s̄_{i-1}(V_i h + c_i)

    and layer i < M trains on ``L_i = (1/2N) Σ_n ||h_i - ĥ_i||²``: its block gets the signal
    ``∂L_i/∂h_i = (h_i - ĥ_i)/N`` at its output and backpropagates it through its own layers only
    (``backward_block``, no ``dx``). These signals are what :meth:`signals` returns and alignment compares with
    BP's ``c_k``. ``g_i`` (i = 2..M-1) learns, by its own SGD, Lee et al.'s reconstruction loss::

        L^inv_i = (1/2N) Σ_n ||g_i(f_i(h_{i-1} + ε)) - (h_{i-1} + ε)||²,    ε ~ N(0, σ² I)

    The choices where the reading had to choose:

    - The top: Lee et al.'s Algorithm 1 (the first target at the last hidden layer, by a gradient step through
      the output layer; the output layer on the global loss), as the authors of the framework also run it
      (``LeeDTPNetwork`` in meulemansalex/theoretical_framework_for_target_propagation, lib/networks.py). Their
      own ``DTPNetwork`` targets the network's output instead and trains the output layer on its target too.
    - ``∂ℓ/∂h`` is the per-sample gradient: nnlite's ``e`` carries the batch mean's 1/N (docs/design.md,
      "Conventions"), so the rule steps by ``N dx``, and a target does not depend on the batch size. The
      authors' code steps along
      the gradient of the batch-mean loss (``compute_output_target``; Adam, and ``lr/target_stepsize``, absorb
      the scale there).
    - ½ and the batch mean in ``L_i``, so that the signal is on BP's scale; the authors' code has the batch mean
      without ½ (``compute_forward_gradients``: ``2 f'(a)(h - ĥ)``): their learning rate is twice ours.
    - ``s̄``, the feedback nonlinearity, is the activation of the block whose output ``g_i`` rebuilds (Lee et al.:
      tanh forward and back; the framework's configs: ``fb_activation='tanh'`` on tanh networks); a block
      without one gives a linear ``g_i``.
    - The reconstruction loss: ½ and the batch mean of the squared norm (Lee et al.'s norm). The authors' DTP
      code scales ``F.mse_loss`` (a mean over units too) by ``1/σ²``: a constant factor on the feedback lr.
    - Feedback training: one plain SGD step on each ``V_i, c_i`` per training step, from that step's activations
      and the forward weights before the step (Algorithm 1's order; the framework's ``train_parallel`` trains
      the feedback on the same mini-batch before the forward update), the noise drawn independently per
      mapping. No feedback pre-training epochs, no feedback weight decay (the authors' ``epochs_fb``,
      ``feedback_wd``). The update is the step's change (:meth:`step`) and :meth:`commit` applies exactly
      that step's, so measuring alignment never changes the rule.
    - Dense networks only (blocks of Dense, one activation and Dropout: a dropout mask is the training pass's in
      every extra pass); neither paper defines convolutional DTP, so convolutions are refused.

    ``V_i``, ``c_i`` and the noise generator are :meth:`state`: a checkpoint resumes bit for bit.

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> grads = nn.DTP(seed=1).gradients(net, caches, e, y)
    >>> [g["W"].shape for g in grads]  # one dict per block, shaped like net.params()
    [(32, 64), (32, 32), (10, 32)]
    """

    name = "dtp"
    family = "target"
    options = (
        Option("feedback_lr", "float", None, "SGD lr of the feedback g_k (dtp 0.05, ddtp 0.01)", "positive",
               "dtp_feedback_lr"),
        Option("noise", "float", None, "noise σ (default 0.1)", "positive", "dtp_noise"),
        Option("target_step", "float", None, "η̂, the top target's step (default 1: BP's scale)", "positive",
               "dtp_target_step"),
    )  # fmt: skip

    def __init__(
        self, feedback_lr: float = 0.05, noise: float = 0.1, target_step: float = 1.0, seed: SeedLike = None
    ) -> None:
        self.feedback_lr = finite_float(feedback_lr, "feedback_lr", minimum=0.0, strict=True)
        self.noise = finite_float(noise, "noise", minimum=0.0, strict=True)
        self.target_step = finite_float(target_step, "target_step", minimum=0.0, strict=True)
        self.seed = check_seed(seed)
        self._V: list[np.ndarray | None] = []
        self._c: list[np.ndarray | None] = []
        self._acts: list[Layer | None] = []
        self._rng = np.random.default_rng(0)

    # -- set-up and the feedback mappings --------------------------------------------------------------------
    def _setup(self, net: Sequential) -> None:
        self._acts = check_dense_blocks(net, type(self).__name__)
        if net.n_blocks < 2:
            raise ValueError(f"{type(self).__name__} needs at least one hidden block; the network has none")
        rng = as_generator(self.seed)
        l = net.feedback_sizes
        self._V = [None] + [
            init_weight((l[k - 1], l[k]), l[k], l[k - 1], "glorot", rng, net.dtype) for k in range(1, len(l))
        ]
        self._c = [None] + [np.zeros(l[k - 1], dtype=net.dtype) for k in range(1, len(l))]
        self._rng = rng

    def mappings(self, net: Sequential) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """Per hidden block k, ``(V_k, c_k)`` of the mapping ``g_k`` from block k's output to block k-1's
        (``V_k`` of shape (l_{k-1}, l_k)); None for block 0. The arrays themselves: writing them changes ``g_k``."""
        self.setup(net)
        out: list[tuple[np.ndarray, np.ndarray] | None] = [None]
        for V, c in zip(self._V[1:], self._c[1:]):
            assert V is not None and c is not None
            out.append((V, c))
        return out

    def _g(self, k: int, h: np.ndarray) -> tuple[np.ndarray, Any]:
        """``g_k(h) = s̄(h @ V_k.T + c_k)`` and the activation's cache (None without one)."""
        V, c = self._V[k], self._c[k]
        assert V is not None and c is not None
        a = h @ V.T
        a += c
        act = self._acts[k - 1]
        return (a, None) if act is None else act.forward(a, True)

    def _g_backward(self, k: int, d: np.ndarray, cache: Any) -> np.ndarray:
        """``∂/∂a`` of ``g_k`` given ``d = ∂/∂g_k(h)``."""
        act = self._acts[k - 1]
        return d if act is None else act.backward(d, cache)[0]

    # -- the step ----------------------------------------------------------------------------------------------
    def target_differences(self, net: Sequential, caches: Caches, e: np.ndarray) -> list[np.ndarray]:
        """``ĥ_k - h_k`` for every hidden block k, shape ``(N, *block_shape)`` (``e`` checked, not the labels)."""
        e = check_error(net, caches, e)
        self.setup(net)
        return self._differences(net, caches, self._top_step(net, caches, e)[0])

    def _top_step(self, net: Sequential, caches: Caches, e: np.ndarray) -> tuple[np.ndarray, Grads]:
        """``ĥ_T - h_T = -η̂ N dx`` (``dx = ∂L/∂h_T`` through the output block) and the output block's gradients."""
        dx, grads, _ = net.backward_block(net.n_blocks - 1, e, caches, need_dx=True, need_delta=False)
        assert dx is not None
        return dx * (-self.target_step * float(e.shape[0])), grads

    def _differences(self, net: Sequential, caches: Caches, top: np.ndarray) -> list[np.ndarray]:
        """``ĥ_{k-1} - h_{k-1} = g_k(h_k + (ĥ_k - h_k)) - g_k(h_k)`` from the top down."""
        h = caches.block_outputs
        diffs = [top]
        for k in range(net.n_blocks - 2, 0, -1):
            diffs.append(self._g(k, h[k] + diffs[-1])[0] - self._g(k, h[k])[0])
        return diffs[::-1]

    def step(self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None) -> RuleStep:
        """Every block's gradients from its local loss (the output block's from ``e``), the signals
        ``(h_k - ĥ_k)/N``; the step's change is the feedback mappings' update (and the noise stream past its
        draws), applied by :meth:`commit`."""
        e = check_error(net, caches, e, y)
        self.setup(net)
        top, out_grads = self._top_step(net, caches, e)
        scale = -1.0 / e.shape[0]
        signals = [d * scale for d in self._differences(net, caches, top)]
        grads = [
            gr
            for k, g in enumerate(signals)
            for gr in net.backward_block(k, g, caches, need_dx=False, need_delta=False)[1]
        ]
        grads += out_grads
        rng = copy.deepcopy(self._rng)  # the stream moves on in commit only: measuring draws the same noise
        updates = [(dV, dc) for _, dV, dc in self.reconstructions(net, caches, rng)]
        return RuleStep(grads, signals, (updates, rng.bit_generator.state))

    def _commit(self, net: Sequential, step: RuleStep) -> None:
        """``V_k <- V_k - η_g ∂L^inv/∂V_k``, ``c_k`` likewise, with the step's own update; the noise generator
        moves past that step's draws."""
        self.setup(net)
        updates, rng_state = step.change
        for k, (dV, dc) in enumerate(updates, start=1):
            V, c = self._V[k], self._c[k]
            assert V is not None and c is not None
            V -= self.feedback_lr * dV
            c -= self.feedback_lr * dc
        self._rng.bit_generator.state = rng_state

    # -- the reconstruction losses -----------------------------------------------------------------------------
    def reconstructions(
        self, net: Sequential, caches: Caches, rng: SeedLike = None
    ) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """For every ``g_k`` (k = 1..T), its reconstruction loss on the batch of ``caches`` and the loss's
        gradients w.r.t. ``V_k`` and ``c_k``, the noise drawn from ``rng`` (a seed or a Generator, in the order
        k = 1..T) and not from the rule's own stream, which this leaves as it is."""
        self.setup(net)
        rng = as_generator(rng)
        h = caches.block_outputs
        out = []
        for k in range(1, net.n_blocks - 1):
            eps = rng.standard_normal(h[k - 1].shape, dtype=net.dtype)
            eps *= self.noise
            out.append(self._reconstruction(net, caches, k, h[k - 1] + eps, eps))
        return out

    def _reconstruction(
        self, net: Sequential, caches: Caches, k: int, corrupted: np.ndarray, eps: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """DTP's ``L^inv_k``: ``r = g_k(f_k(h_{k-1} + ε))`` against ``h_{k-1} + ε``."""
        u = net.forward_block(k, corrupted, caches)[0]
        r, cache = self._g(k, u)
        diff = r - corrupted
        return self._loss_and_grads(k, diff, [(u, cache, 1.0)], 1.0)

    def _loss_and_grads(
        self, k: int, diff: np.ndarray, paths: list[tuple[np.ndarray, Any, float]], scale: float
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """``(scale/2N) Σ ||diff||²`` and its gradients w.r.t. ``V_k`` and ``c_k``, where ``diff`` holds
        ``sign * g_k(u)`` for every ``(u, cache, sign)`` of ``paths``."""
        N = diff.shape[0]
        d = diff * (scale / N)
        dV, dc = None, None
        for u, cache, sign in paths:
            da = self._g_backward(k, d if sign > 0 else -d, cache)
            gV, gc = da.T @ u, da.sum(axis=0)
            dV, dc = (gV, gc) if dV is None else (dV + gV, dc + gc)
        assert dV is not None and dc is not None
        return 0.5 * scale * float(np.vdot(diff, diff)) / N, dV, dc

    # -- state ---------------------------------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        out = {f"V{k}": V for k, V in enumerate(self._V) if V is not None}
        out.update({f"c{k}": c for k, c in enumerate(self._c) if c is not None})
        out["rng"] = np.array(json.dumps(self._rng.bit_generator.state))
        return out

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        state = dict(state)
        who = type(self).__name__
        if "rng" not in state:
            raise ValueError(f"{who} state must hold its noise generator 'rng', got {sorted(state)}")
        rng_state: Any = json.loads(str(state.pop("rng")))
        load_matrices(self._V, {k: v for k, v in state.items() if k.startswith("V")}, "V", who)
        load_matrices(self._c, {k: v for k, v in state.items() if not k.startswith("V")}, "c", who)
        self._rng.bit_generator.state = rng_state


class DDTP(DTP):
    """DTP whose feedback mappings learn the difference reconstruction loss of Meulemans et al. (2020): ``g_i``
    learns to rebuild a corrupted ``h_{i-1}`` from the top through the difference-corrected path, the one the
    targets take.

    Parameters
    ----------
    feedback_lr, noise, target_step, seed
        As :class:`DTP`.

    Notes
    -----
    Targets and forward updates are :class:`DTP`'s. Meulemans et al.'s difference reconstruction loss for ``g_i``
    (i = 2..M-1), the corruption carried up to the top hidden block and back down by the difference mappings
    ``g^diff_j(x) = g_j(x) + h_{j-1} - g_j(h_j)``, ``ε ~ N(0, σ² I)``::

        L^rec_i = (1/(2σ²N)) Σ_n ||g^diff_i ∘ ... ∘ g^diff_{M-1}(f_{M-1} ∘ ... ∘ f_i(h_{i-1} + ε)) - (h_{i-1} + ε)||²

    minimised w.r.t. ``V_i, c_i`` only, the other mappings held (the authors' ``DTPDRLNetwork`` /
    ``DTPDRLLayer.compute_feedback_gradients``, which take the gradient of that layer's feedback parameters
    only). Where the reading had to choose, besides :class:`DTP`'s: what nnlite names ``ddtp`` is the paper's
    DTP with the difference reconstruction loss ("DTPDRL", layer-wise ``g_i``); the paper's DDTP proper, whose
    feedback goes directly from the output to every layer (DDTP-linear, DDTP-RHL), is not implemented. The
    ``1/σ²`` is the authors' code's (``scale = 1/sigma**2`` times ``F.mse_loss``, which also averages over the
    units, where nnlite sums them): the loss, whose residual is of the order of the noise, and the feedback
    learning rate then do not depend on σ (hence a default lr other than DTP's). No regulariser of the mappings:
    the authors' configs add a feedback weight decay (``feedback_wd``).

    A subclass, not a ``variant`` option of :class:`DTP`: the registry names one class per rule, so ``--rule ddtp``
    needs no flag of its own, and the two differ in the reconstruction loss only (``_reconstruction``).

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> grads = nn.DDTP(seed=1).gradients(net, caches, e, y)
    >>> [g["W"].shape for g in grads]  # one dict per block, shaped like net.params()
    [(32, 64), (32, 32), (10, 32)]
    """

    name = "ddtp"

    def __init__(
        self, feedback_lr: float = 0.01, noise: float = 0.1, target_step: float = 1.0, seed: SeedLike = None
    ) -> None:
        super().__init__(feedback_lr, noise, target_step, seed)

    def _reconstruction(
        self, net: Sequential, caches: Caches, k: int, corrupted: np.ndarray, eps: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """The difference reconstruction of ``h_{k-1} + ε`` from the top hidden block."""
        h, top = caches.block_outputs, net.n_blocks - 1
        t = block_activations(net, k, corrupted, caches, top)[-1]
        for j in range(top - 1, k, -1):
            t = h[j - 1] + (self._g(j, t)[0] - self._g(j, h[j])[0])
        r1, c1 = self._g(k, t)
        r2, c2 = self._g(k, h[k])
        diff = (r1 - r2) - eps  # = h_{k-1} + g_k(t) - g_k(h_k) - (h_{k-1} + ε)
        return self._loss_and_grads(k, diff, [(t, c1, 1.0), (h[k], c2, -1.0)], 1.0 / self.noise**2)
