"""What the direct-feedback rules share: one :class:`~nnlite.rules.feedback.DirectFeedback` of the output
vector to every hidden block, and block updates that do not depend on each other: a rule says they may run
concurrently (``Sequential.run_blocks``), and the step's executor decides whether they do."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import SeedLike, as_bool
from .base import Grads, Rule, check_error
from .feedback import DirectFeedback

if TYPE_CHECKING:
    from ..network import Caches, Sequential
    from ..projections.base import Projection

__all__ = ["ERROR_SCALES", "DirectRule", "check_error_scale", "local_errors", "local_losses", "scaled"]

#: The batch scales of a direct rule's hidden signal: ``"mean"`` (``e`` carries ``1/N``, BP's scale) or ``"sum"``.
ERROR_SCALES = ("mean", "sum")


def check_error_scale(error_scale: Any) -> str:
    """``error_scale`` if it is one of :data:`ERROR_SCALES`, else ``ValueError``."""
    if not isinstance(error_scale, str) or error_scale not in ERROR_SCALES:
        raise ValueError(f"error_scale must be one of {ERROR_SCALES}, got {error_scale!r}")
    return error_scale


def scaled(v: np.ndarray, error_scale: str) -> np.ndarray:
    """``v`` (N, ...) as the hidden blocks receive it: unchanged for ``"mean"``, ``N v`` for ``"sum"`` (the
    per-sample errors summed over the batch, as Launay et al.'s code projects ``softmax(out) - onehot(y)``).
    N is a Python float, so a float32 ``v`` stays float32."""
    return v * float(v.shape[0]) if error_scale == "sum" else v


def check_points(points: Any) -> tuple[int, ...]:
    """``bp_points`` as a sorted tuple of distinct ints (negative ones count from the top)."""
    if isinstance(points, (str, bytes)) or not isinstance(points, Sequence):
        raise TypeError(f"bp_points must be a list of feedback-point indices, got {points!r}")
    out = []
    for p in points:
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
            raise TypeError(f"bp_points must hold integers, got {p!r}")
        out.append(int(p))
    if len(set(out)) != len(out):
        raise ValueError(f"bp_points names a point twice: {list(points)}")
    return tuple(out)


def local_errors(fb: DirectFeedback, net: Sequential, caches: Caches, y: np.ndarray) -> list[np.ndarray]:
    """LAFS's local errors ``e_k = (softmax(h_k @ B_k) - onehot(y)) / N``, one (N, C) array per hidden block.

    ``e_k`` is the error of the softmax cross-entropy of the readout ``h_k @ B_k``, so it is computed by
    :func:`nnlite.softmax_cross_entropy` itself.
    """
    from ..backend import softmax_cross_entropy

    if y is None:
        raise ValueError("local errors need the labels y")
    return [softmax_cross_entropy(fb.readout(k, caches.block_outputs[k]), y)[1] for k in range(len(fb.sizes))]


def local_losses(fb: DirectFeedback, net: Sequential, caches: Caches, y: np.ndarray) -> list[float]:
    """LAFS's local losses ``L_k = CE(softmax(h_k @ B_k), y)`` (batch means), one float per hidden block."""
    from ..backend import softmax_cross_entropy

    return [softmax_cross_entropy(fb.readout(k, caches.block_outputs[k]), y)[0] for k in range(len(fb.sizes))]


class DirectRule(Rule):
    """Base of the rules whose hidden signals are fixed random projections ``g_k = v @ B_k.T`` of one vector
    (DFA, LAFS, DRTP, sDFA): a subclass says which ``v`` (:meth:`projected`).

    Parameters
    ----------
    projection : Projection, optional
        The ``B_k`` as one projection of ``v`` (:class:`~nnlite.rules.feedback.DirectFeedback`); default a
        Gaussian drawn from ``seed``.
    layout : {"unified", "independent"}
        Launay et al.'s one shared matrix (eq. 7–8) or Nøkland's independent blocks of rows.
    seed : int, Generator or None
        Seeds the default Gaussian projection's draw (unused when ``projection`` is given).
    normalize : bool
        Launay et al.'s feedback normalisation (default) or unit-variance ``B_k`` (their "no norm" row); see
        :class:`~nnlite.rules.feedback.DirectFeedback`.
    error_scale : {"mean", "sum"}
        The batch scale of the hidden signals. ``"mean"`` (default): ``v`` carries the loss's ``1/N``, every
        update on BP's scale. ``"sum"``: the per-sample vectors summed over the batch, ``N v`` (Launay et al.'s
        code projects ``softmax(out) - onehot(y)`` without ``1/N``; LAFS: its local errors without ``1/N``). The
        output block keeps ``e``, the batch mean, either way.
    bp_points : sequence of int
        The hidden feedback points (0-based; negative counts from the top, -1 the last) that get BP's signal
        instead of a projection: the ``dx`` of the block above, sent down from that block's own signal through
        its weights — where a network has no feedback point, as in the authors' code. Launay et al.'s Table 4
        code keys its feedback modules by the layer name's last digit minus one, so lin2's overwrites conv2's
        and no feedback point precedes lin2: its dense classifier ``576 -> 128 -> 10`` trains by
        backpropagation from ``e`` (``bp_points=[-1]``). Their Figure 4 code's ``Bottleneck`` subclasses
        ``Linear``, which their type check misses, so no feedback point follows lin1: lin1 trains by
        backpropagation from the signal DFA gives the bottlenecked layer (``bp_points=[0]``). Default none.
    parallel : bool
        Compute the blocks' updates concurrently (they do not depend on each other; BLAS releases the GIL):
        the blocks dealt to as many threads as BLAS has at the time of the step, each with one BLAS thread,
        instead of one block after the other with all the BLAS threads, but only where that is faster: the first
        ten steps at a thread count alternate between the two ways, timed, and the faster
        median is kept from then on (the parallel one only when at least 10 % faster). The runtime decides and
        times, in a step run by :func:`nnlite.fit` (or by the runtime's ``executor``); with one BLAS
        thread, when the step already uses the threads otherwise, or on a bare network, the blocks run in turn.
        The gradients are the same bits either way. docs/measurements.md has the measured figures.

    Examples
    --------
    >>> import nnlite as nn
    >>> from nnlite.rules.direct import DirectRule
    >>> issubclass(nn.DFA, DirectRule), issubclass(nn.LAFS, DirectRule), issubclass(nn.DRTP, DirectRule)
    (True, True, True)
    >>> rule = nn.DFA(layout="independent", error_scale="sum", bp_points=[-1], seed=1)
    >>> rule.layout, rule.error_scale, rule.bp_points
    ('independent', 'sum', (-1,))
    """

    folds_updates = True

    family = "direct"
    #: The feedback object a rule of this class holds (a learned one for DKP).
    feedback_class: type[DirectFeedback] = DirectFeedback

    def __init__(
        self,
        projection: Projection | None = None,
        layout: str = "unified",
        seed: SeedLike = None,
        parallel: bool = False,
        *,
        normalize: bool = True,
        error_scale: str = "mean",
        bp_points: Sequence[int] = (),
    ):
        self.feedback = self.feedback_class(projection, layout, seed, normalize)
        self.error_scale = check_error_scale(error_scale)
        self._projection_arg = projection
        self.parallel = as_bool(parallel, "parallel")
        self.bp_points = check_points(bp_points)

    # -- the feedback object's view ----------------------------------------------------------------------------
    @property
    def projection(self) -> Projection | None:
        """The projection (drawn at set-up when none was given)."""
        return self.feedback.projection

    @property
    def layout(self) -> str:
        return self.feedback.layout

    @property
    def seed(self) -> SeedLike:
        return self.feedback.seed

    def _setup(self, net: Sequential) -> None:
        hidden = net.n_blocks - 1
        bad = [p for p in self.bp_points if not -hidden <= p < hidden]
        if bad:
            raise ValueError(f"bp_points {bad} are not feedback points: the network has {hidden} (0 to {hidden - 1})")
        self.feedback.setup(net)

    def feedback_matrix(self, net: Sequential, k: int) -> np.ndarray:
        """``B_k`` of shape (l_k, C), materialised (for tests and inspection)."""
        self.setup(net)
        return self.feedback.matrix(k)

    # -- readouts and local errors (LAFS's; DFA exposes them for alignment) ------------------------------------
    def has_local_errors(self, net: Sequential) -> bool:
        self.setup(net)
        return self.feedback.has_transpose

    def readout(self, net: Sequential, k: int, h: np.ndarray) -> np.ndarray:
        self.setup(net)
        return self.feedback.readout(k, h)

    def local_errors(self, net: Sequential, caches: Caches, y: np.ndarray) -> list[np.ndarray]:
        self.setup(net)
        return local_errors(self.feedback, net, caches, y)

    def local_losses(self, net: Sequential, caches: Caches, y: np.ndarray) -> list[float]:
        """LAFS's local losses ``CE(softmax(h_k @ B_k), y)``, one float per hidden block."""
        self.setup(net)
        return local_losses(self.feedback, net, caches, y)

    # -- the step ----------------------------------------------------------------------------------------------
    def projected(self, net: Sequential, e: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        """The vector ``v`` (N, C) whose projections ``g_k = v @ B_k.T`` reach the hidden blocks (DFA: ``e``)."""
        raise NotImplementedError

    def gradients_and_signals(
        self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None
    ) -> tuple[Grads, list[np.ndarray]]:
        """``g_k = v @ B_k.T`` for every hidden block from one projection of ``v = projected(net, e, y)``; every
        block's update from its own signal (the output block's from ``e``), no ``dx`` product; with
        ``error_scale="sum"``, ``v`` is multiplied by N first."""
        e = check_error(net, caches, e, y)
        self.setup(net)
        g = self.feedback.signals(scaled(self.projected(net, e, y), self.error_scale))
        if not self.bp_points:
            return self._updates(net, caches, [*g, e]), g
        K = net.n_blocks
        chained = {p % (K - 1) for p in self.bp_points}  # points whose signal is the dx of the block above
        signals = [*g, e]
        exact: dict[int, Grads] = {}
        for k in range(K - 1, 0, -1):  # from the top down, so a chained block's own signal is known first
            if k - 1 in chained:
                dx, exact[k], _ = net.backward_block(k, signals[k], caches, need_dx=True, need_delta=False)
                assert dx is not None  # need_dx=True
                signals[k - 1] = g[k - 1] = dx
        rest = [k for k in range(K) if k not in exact]
        done = dict(zip(rest, self._block_updates(net, caches, rest, [signals[k] for k in rest])))
        return [gr for k in range(K) for gr in (exact[k] if k in exact else done[k])], g

    # -- the block updates -------------------------------------------------------------------------------------
    def block_update(self, net: Sequential, caches: Caches, k: int, g: np.ndarray) -> Grads:
        """Block k's gradients from the signal ``g`` at its output, no ``dx`` product."""
        return net.backward_block(k, g, caches, need_dx=False, need_delta=False)[1]

    def _updates(self, net: Sequential, caches: Caches, g: list[np.ndarray]) -> Grads:
        """Every block's gradients from the signal at its output (``g[K-1] = e``): independent updates, which the
        network may run concurrently when ``parallel``."""
        return [gr for b in self._block_updates(net, caches, list(range(len(g))), g) for gr in b]

    def _block_updates(self, net: Sequential, caches: Caches, blocks: list[int], g: list[np.ndarray]) -> list[Grads]:
        """The gradients of ``blocks``, each from its signal in ``g`` (in the same order), run by the network."""
        updates = [functools.partial(self.block_update, net, caches, k, gk) for k, gk in zip(blocks, g)]
        return list(net.run_blocks(updates, concurrent=self.parallel))

    def _repr_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "projection": self._projection_arg,
            "layout": self.layout,
            "seed": self.seed,
            "parallel": self.parallel,
        }
        if not self.feedback.normalize:
            args["normalize"] = False
        if self.error_scale != "mean":
            args["error_scale"] = self.error_scale
        if self.bp_points:
            args["bp_points"] = list(self.bp_points)
        return args
