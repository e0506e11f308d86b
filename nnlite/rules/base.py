"""The rule interface: what every training rule implements, and what it gets for free.

A rule says which signal ``g_k`` arrives at each hidden feedback point; the blocks turn the signals into
gradients by local backpropagation (``Sequential.backward_block``). A rule implements one method,
:meth:`Rule.gradients_and_signals`; :meth:`Rule.gradients` and :meth:`Rule.signals` derive from it. A rule binds
to one network the first time it sees it (drawing its feedback matrices then) and refuses a network of another
shape afterwards.

Optional capability: a rule with local errors and random readouts (DFA, LAFS) overrides
:meth:`Rule.local_errors` and :meth:`Rule.readout`; :func:`nnlite.alignment.measure` asks
:meth:`Rule.has_local_errors` instead of testing a rule's class.
"""

from __future__ import annotations

import abc
import inspect
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from ..network import Caches, Sequential

__all__ = ["Grads", "Rule", "RuleStep", "StepGrads", "check_error", "network_key", "reshape_output_error"]

#: One dict of gradients per layer with parameters, matching ``net.params()``.
Grads = list[dict[str, np.ndarray]]


class StepGrads(list):
    """A step's gradients (a list of dicts matching ``net.params()``) that carry their step's own change: handing
    them to :meth:`Rule.after_step` commits exactly that step, whatever was computed in between. (The change lives
    here, not a reference to the step, so that a step and its gradients make no reference cycle: a step's arrays
    are freed as soon as the last reference goes, not at the next garbage collection.)"""

    def __init__(self, grads: Any = (), change: Any = None) -> None:
        super().__init__(grads)
        self.change = change
        self.committed = False
        #: The products behind gradients read as arrays (:func:`nnlite.backend.lazy.materialize`).
        self.products: dict[tuple[int, str], Any] = {}


class RuleStep:
    """What a rule makes of one batch (:meth:`Rule.step`): the gradients, the signal at every hidden feedback
    point, and the rule's own pending change (learned feedback, heads, inverse mappings; None for a rule that
    learns nothing), bound to this step. :meth:`Rule.commit` applies exactly this change, once."""

    def __init__(self, grads: Grads, signals: list[np.ndarray], change: Any = None) -> None:
        if not isinstance(grads, StepGrads) or (change is not None and grads.change is not change):
            grads = StepGrads(grads, change)
        self.grads: StepGrads = grads
        self.signals = signals

    @property
    def change(self) -> Any:
        return self.grads.change

    @property
    def committed(self) -> bool:
        return self.grads.committed

    @committed.setter
    def committed(self, value: bool) -> None:
        self.grads.committed = value


def network_key(net: Sequential) -> tuple:
    """What a rule depends on in a network: block output shapes, weight shapes and dtype."""
    return (
        tuple(net.block_shapes),
        tuple(net.weight_layer(k).params["W"].shape for k in range(net.n_blocks)),
        np.dtype(net.dtype).str,
    )


def reshape_output_error(net: Sequential, e: np.ndarray) -> np.ndarray:
    """``e`` in the network's output shape (it is (N, C) for every builder here)."""
    shape = (e.shape[0], *net.block_shapes[-1])
    return e if e.shape == shape else e.reshape(shape)


def check_error(net: Sequential, caches: Caches, e: Any, y: Any = None) -> np.ndarray:
    """Check the output error ``e`` (and the labels ``y``) against ``net`` and the batch of ``caches``; return
    ``e`` in the network's output shape. Every rule calls it first, before any product.

    Parameters
    ----------
    net : Sequential
    caches : Caches
        From ``net.forward(x, train=True)`` on a batch of N samples.
    e : ndarray, shape ``(N, *output_shape)`` or (N, n_outputs), the network's dtype
    y : ndarray of int, shape (N,), optional

    Raises
    ------
    TypeError
        ``e`` is not an array of the network's dtype, ``y`` not an integer array, or ``caches`` not a forward
        pass's caches.
    ValueError
        ``e`` or ``y`` of another shape than the batch and the network's output (both shapes named), or caches
        of another network.
    """
    block_outputs = getattr(caches, "block_outputs", None)
    if block_outputs is None or not hasattr(caches, "input_shape"):
        raise TypeError(f"caches must be the Caches of net.forward(x, train=True), got {type(caches).__name__}")
    if len(caches) != len(net.layers) or len(block_outputs) != net.n_blocks:
        raise ValueError(
            f"caches hold {len(caches)} layers and {len(block_outputs)} blocks, but the network has "
            f"{len(net.layers)} layers and {net.n_blocks} blocks: they come from another network"
        )
    N = caches.input_shape[0]
    shape = (N, *net.block_shapes[-1])
    if not isinstance(e, np.ndarray):
        raise TypeError(f"e must be a numpy array, got {type(e).__name__}")
    if e.shape != shape and e.shape != (N, net.n_outputs):
        raise ValueError(
            f"e has shape {e.shape}, but the network's output for this batch of {N} samples has shape {shape}"
        )
    if e.dtype != net.dtype:
        raise TypeError(f"e is {e.dtype}, but the network is {net.dtype}")
    if y is not None:
        if not isinstance(y, np.ndarray) or y.dtype.kind not in "iu":
            got = y.dtype if isinstance(y, np.ndarray) else type(y).__name__
            raise TypeError(f"labels y must be an integer numpy array, got {got}")
        if y.shape != (N,):
            raise ValueError(f"labels y have shape {y.shape}, but the batch has {N} samples: expected ({N},)")
    return e if e.shape == shape else e.reshape(shape)


class Rule(abc.ABC):  # noqa: B024 (a rule writes gradients_and_signals or step: __new__ checks)
    """Base class of the training rules.

    Subclasses implement :meth:`gradients_and_signals` (a rule that learns nothing of its own), or :meth:`step`
    and :meth:`commit` (a rule with a learned feedback: the step returns its pending change, the commit applies
    it), and :meth:`_setup` when they hold state that depends on the network (feedback matrices); their
    constructor arguments are stored under the same names as attributes
    (or returned by :meth:`_repr_args`), so that ``repr(rule)`` shows every argument and ``eval`` of it builds an
    equal rule.

    Examples
    --------
    >>> import nnlite as nn
    >>> class HalfBP(nn.rules.Rule):  # BP's updates, halved: a rule writes gradients_and_signals
    ...     name = "half-bp"
    ...     def gradients_and_signals(self, net, caches, e, y=None):
    ...         grads, signals = nn.BP().gradients_and_signals(net, caches, e, y)
    ...         return [{k: g * 0.5 for k, g in d.items()} for d in grads], signals
    ...
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 10], seed=0)
    >>> train = (d.x_train, d.y_train)
    >>> hist = nn.fit(net, HalfBP(), nn.softmax_cross_entropy, nn.Adam(1e-3), train, epochs=1, progress=False)
    >>> hist.rule, hist.epoch
    ('half-bp', [1])
    """

    #: True when the rule hands the blocks' weight gradients over as the layers made them (no arithmetic on
    #: them in :meth:`step`): a training step whose optimizer folds its update into the product
    #: (:attr:`nnlite.optim.Optimizer.folds`) then gets dense weight gradients as products
    #: (:class:`nnlite.backend.lazy.Product`) and applies each in one GEMM.
    folds_updates: ClassVar[bool] = False

    #: Short lower-case name (the CLI's and History's name of the rule).
    name: ClassVar[str] = ""
    #: Whether the hidden signals read the labels (DRTP's target, LAFS's local errors).
    needs_labels: ClassVar[bool] = False
    #: Whether the feedback projection must apply its transpose (LAFS's readouts; not the OPU).
    needs_transpose: ClassVar[bool] = False
    #: Whether ``nnlite compare`` trains this rule when ``--rules`` is not given.
    in_compare: ClassVar[bool] = False
    #: The registry's family: "chain" (BP's chain, the FA family), "direct" (one projection to every hidden
    #: block), or what else the rule is ("indirect", "local", "target", "forward").
    family: ClassVar[str] = "other"
    #: The options the rule exposes to the command line, RunConfig, specs and ``compare``
    #: (:class:`~nnlite.rules.options.Option`, each a constructor parameter), declared next to its equations.
    options: ClassVar[tuple[Any, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__ and "gradients_and_signals" not in cls.__dict__:
            # a rule that writes its step (DKP over DirectRule's core): its gradients are its step's, bound to it
            cls.gradients_and_signals = Rule.gradients_and_signals  # type: ignore[method-assign]

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls.gradients_and_signals is Rule.gradients_and_signals and cls.step is Rule.step:
            raise TypeError(f"Can't instantiate {cls.__name__}: it implements neither gradients_and_signals nor step")
        return super().__new__(cls)

    _bound: tuple | None = None

    # -- binding ---------------------------------------------------------------------------------------------
    def setup(self, net: Sequential) -> None:
        """Bind the rule to ``net`` (once; drawing what it needs), or check that ``net`` has the bound shape.

        Raises
        ------
        ValueError
            The rule was bound to a network of another shape (use a new rule per network), or ``net`` does not
            suit the rule (e.g. no hidden block for a direct-feedback rule).
        """
        key = network_key(net)
        if self._bound == key:
            return
        if self._bound is not None:
            raise ValueError(
                f"this {type(self).__name__} rule was set up for a network with block shapes {list(self._bound[0])} "
                f"and weights {list(self._bound[1])}, not {list(key[0])} and {list(key[1])}; use a new rule per network"
            )
        self._setup(net)
        self._bound = key

    def _setup(self, net: Sequential) -> None:
        """Draw and check what the rule needs for ``net`` (called once, by :meth:`setup`)."""

    # -- the one method a rule implements ---------------------------------------------------------------------
    def gradients_and_signals(
        self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None
    ) -> tuple[Grads, list[np.ndarray]]:
        """Gradients of every parameter and the signal at every hidden feedback point, from one pass.

        Parameters
        ----------
        net : Sequential
        caches : Caches
            From ``net.forward(x, train=True)``.
        e : ndarray, shape (N, C)
            The output error ``dL/d(logits)``, in the network's dtype; checked against the network's output and
            the batch by :func:`check_error` (``ValueError`` naming both shapes).
        y : ndarray of int, shape (N,), optional
            Labels (rules with local errors need them).

        Returns
        -------
        grads : list of dict
            Matching ``net.params()``.
        signals : list of ndarray
            ``g_k`` of shape ``(N, *block_shape)`` for every hidden block k.

        A rule with a learned feedback implements :meth:`step` instead; this is then its step's gradients and
        signals (its change is not applied: only :meth:`commit` applies a change).
        """
        s = self.step(net, caches, e, y)
        from ..backend.lazy import materialize

        return materialize(s.grads), s.signals

    def step(self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None) -> RuleStep:
        """The rule's whole step on one batch, as a :class:`RuleStep`: gradients, signals and the rule's own
        pending change, bound to this step. Computing a step changes nothing of the rule (alignment may compute
        one on any batch at any moment); :meth:`commit` applies it. The default wraps
        :meth:`gradients_and_signals` with no change."""
        grads, signals = self.gradients_and_signals(net, caches, e, y)
        return RuleStep(grads, signals)

    def commit(self, net: Sequential, step: RuleStep) -> None:
        """Apply ``step``'s own change (after the optimizer has applied its gradients), once: a second commit of
        the same step is a no-op. Rules whose feedback changes between steps (KP learns ``B_k``, DKP its direct
        ``B_k``, Local its heads, DTP its inverse mappings, brSF redraws) do it in :meth:`_commit`."""
        if step.committed:
            return
        step.committed = True
        self._commit(net, step)

    def _commit(self, net: Sequential, step: RuleStep) -> None:
        """What :meth:`commit` does to the rule (default: nothing)."""

    def gradients(self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None) -> Grads:
        """Gradients of every parameter, a list of dicts matching ``net.params()``."""
        return self.gradients_and_signals(net, caches, e, y)[0]

    def signals(self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None) -> list[np.ndarray]:
        """The signal ``g_k`` at every hidden feedback point, shape ``(N, *block_shape)``."""
        return self.gradients_and_signals(net, caches, e, y)[1]

    # -- optional: local errors and readouts ---------------------------------------------------------------------
    def has_local_errors(self, net: Sequential) -> bool:
        """Whether :meth:`local_errors` and :meth:`readout` are available for ``net``."""
        return False

    def local_errors(self, net: Sequential, caches: Caches, y: np.ndarray) -> list[np.ndarray]:
        """Per hidden block, the local error ``e_k`` of shape (N, C) (rules with readouts only)."""
        raise NotImplementedError(f"{type(self).__name__} has no local errors")

    def readout(self, net: Sequential, k: int, h: np.ndarray) -> np.ndarray:
        """Local logits ``h_k @ B_k`` of shape (N, C) (rules with readouts only)."""
        raise NotImplementedError(f"{type(self).__name__} has no readouts")

    # -- optional: what happens between steps, weight feedback, state --------------------------------------------
    def after_step(self, net: Sequential, grads: Grads) -> None:
        """Commit the step whose gradients ``grads`` are (the list :meth:`gradients` or :meth:`step` returned):
        :meth:`commit` of that step, for a loop of one's own (``grads = rule.gradients(...)``;
        ``optimizer.step(params, grads)``; ``rule.after_step(net, grads)``). Whatever was computed in between
        (alignment on another batch) changes nothing.

        Raises
        ------
        ValueError
            ``grads`` is not a step's own list (a copy, say) and the rule learns from its step.
        """
        if isinstance(grads, StepGrads) or not self.learns_from_step:
            step = RuleStep(grads, [])
        else:
            raise ValueError(
                f"{type(self).__name__}.after_step needs the gradients this rule returned for the step (the "
                "list of its gradients or step, not a copy): what it learns comes from that step"
            )
        self.commit(net, step)

    #: Whether :meth:`commit` needs the step's change (a rule that overrides :meth:`step` to return one).
    @property
    def learns_from_step(self) -> bool:
        return type(self).step is not Rule.step

    def weight_feedbacks(self, net: Sequential) -> list[np.ndarray | None] | None:
        """The matrices ``B_k`` used in place of ``W_k`` for ``dx`` (the FA family; None for block 0), or None for
        rules that do not carry the signal back through feedback weights. Alignment measures the angle
        between each ``W_k`` and ``B_k``."""
        return None

    def state(self) -> dict[str, np.ndarray]:
        """The arrays that make up the rule's state after set-up (saved with checkpoints to resume training)."""
        return {}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state` returned (the rule must be set up for the same network shape first)."""
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, got {sorted(state)}")

    # -- resources and representation --------------------------------------------------------------------------
    def close(self) -> None:
        """Release what the rule holds besides arrays (an OPU's device, say). The rule stays usable."""

    def _repr_args(self) -> dict[str, Any]:
        """The constructor's arguments, by name (default: the attributes named like the parameters)."""
        params = inspect.signature(type(self).__init__).parameters
        return {n: getattr(self, n) for n in params if n != "self" and hasattr(self, n)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._repr_args().items())
        return f"{type(self).__name__}({args})"
