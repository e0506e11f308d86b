"""Local error signals (Nøkland & Eidnes 2019, "Training neural networks with local error signals"): every hidden
block trains on a loss of its own, through a learned classifier and a similarity-matching loss."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import backend as dispatch
from .._validation import SeedLike, as_generator, check_seed, finite_float
from ..backend.conv import conv2d_backward, conv2d_forward
from ..ops import similarity as sim
from ..ops.losses import one_hot
from .base import Rule, RuleStep, check_error
from .options import Option

if TYPE_CHECKING:
    from ..network import Caches, Sequential

__all__ = ["LOCAL_LOSSES", "Local"]

#: The local losses: the learned classifier's cross-entropy, similarity matching, or their mix.
LOCAL_LOSSES = ("pred", "sim", "predsim")


class Local(Rule):
    """Local error signals: every hidden block k trains on its own loss ``L_k`` only; the output block on ``e``.

    Parameters
    ----------
    local_loss : {"pred", "sim", "predsim"}
        The local loss (default ``"predsim"``, the authors' default ``--loss-sup``).
    beta : float
        β in [0, 1], the similarity loss's share of ``"predsim"`` (default 0.99, the authors' ``--beta``).
    classifier_lr : float
        η_c >= 0, the plain-SGD learning rate of the rule's own parameters (the classifiers and the similarity
        layers), applied by :meth:`commit` (default 0.1; 0 freezes them).
    seed : int, Generator or None
        Seeds the similarity layers.
    classifiers : list of ndarray, optional
        The initial classifier weights ``W_k^c`` of shape (C, d_k), one per hidden block (copied); default zeros,
        as the authors' code (``decoder_y.weight.data.zero_()``).

    Notes
    -----
    Symbols of the paper: ``h_k`` the output of hidden block k (feedback point k), ``y`` the one-hot labels.

    - ``pred``: ``L_pred = CE(softmax(W_k^c p_k + b_k^c), y)`` of a learned linear classifier on ``p_k`` =
      ``h_k`` flattened, or for a conv block ``h_k`` average-pooled first (the code's ``avg_pool``: windows
      doubled in height then width until at most 4096 features remain, zero padding counted,
      :func:`nnlite.ops.similarity.classifier_pool`).
    - ``sim``: ``L_sim = || S(NeuralNet(h_k)) - S(y) ||_F^2 / N^2``, ``S`` the batch's adjusted cosine-similarity
      matrix (rows centred, unit norm: :func:`nnlite.ops.similarity.similarity_matrix`). As in the code
      (``linear_loss``, ``conv_loss``), ``NeuralNet`` is a learned layer without bias: a dense ``l_k x l_k`` layer,
      or for a conv block a 3x3 convolution (stride 1, padding 1) from the block's channels to as many, whose
      feature maps (when more than 3 channels and H > 1) enter ``S`` by their per-channel spatial standard
      deviation (the code's ``similarity_matrix``; not ``--bio``'s identity).
    - ``predsim``: ``L_k = (1 - β) L_pred + β L_sim``. A deviation, stated: the authors' code also scales the
      output layer's loss by (1 - β); nnlite trains the output block on ``e`` unscaled (at β = 0.99 under SGD the
      output step is 100 times the authors').

    The feedback point's shape decides which form a block gets: a ``(C, H, W)`` output the pooling and the 3x3
    layer, a flat one (a dense block, or a conv block that ends in ``Flatten``) the dense layer and no pooling.

    The signal at feedback point k is ``g_k = dL_k/dh_k`` (the signals alignment reports), and block k's
    gradients are its local backpropagation; nothing crosses a block (the code's ``detach``). The classifiers'
    and similarity layers' gradients of the same ``L_k`` are the step's change (:meth:`step`), applied by
    :meth:`commit` to exactly that step with plain SGD at ``classifier_lr`` — the authors train them with the network's
    optimizer (Adam); nnlite keeps the network's optimizer to ``net.params()``. Biases start at 0 (PyTorch draws
    them). nnlite's block ends after its pooling and dropout: the losses see that output, where the authors'
    VGG pools after the local loss and their dropout follows it. :meth:`readout` is the classifier, so
    alignment's readout accuracy and local-error angle are the classifier's.

    Examples
    --------
    >>> import nnlite as nn
    >>> d = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 32, 10], seed=0)
    >>> x, y = d.x_train[:16], d.y_train[:16]
    >>> out, caches = net.forward(x, train=True)
    >>> loss, e = nn.softmax_cross_entropy(out, y)
    >>> grads = nn.Local("predsim", seed=1).gradients(net, caches, e, y)
    >>> [g["W"].shape for g in grads]  # one dict per block, shaped like net.params()
    [(32, 64), (32, 32), (10, 32)]
    """

    name = "local"
    family = "local"
    needs_labels = True
    options = (
        Option("local_loss", "str", None, "pred, sim or predsim", LOCAL_LOSSES, "local_loss"),
        Option("beta", "float", None, "β of predsim (default 0.99)", "probability", "local_beta",
               when=("local_loss", ("predsim",))),
        Option("classifier_lr", "float", None, "its heads' SGD lr (0.1)", "nonnegative", "local_lr"),
    )  # fmt: skip

    def __init__(
        self,
        local_loss: str = "predsim",
        beta: float = 0.99,
        classifier_lr: float = 0.1,
        seed: SeedLike = None,
        classifiers: Sequence[np.ndarray] | None = None,
    ):
        if not isinstance(local_loss, str) or local_loss not in LOCAL_LOSSES:
            raise ValueError(f"local_loss must be one of {LOCAL_LOSSES}, got {local_loss!r}")
        self.local_loss = local_loss
        self.beta = finite_float(beta, "beta", minimum=0.0)
        if self.beta > 1.0:
            raise ValueError(f"beta must be in [0, 1], got {self.beta}")
        self.classifier_lr = finite_float(classifier_lr, "classifier_lr", minimum=0.0)
        self.seed = check_seed(seed)
        if classifiers is not None and (isinstance(classifiers, np.ndarray) or not isinstance(classifiers, Sequence)):
            raise TypeError(f"classifiers must be a list of arrays (C, d_k), got {type(classifiers).__name__}")
        self._given = None if classifiers is None else [np.array(W, copy=True) for W in classifiers]
        self._heads: list[dict[str, np.ndarray]] = []
        self._pools: list[tuple[int, int, int, int] | None] = []

    @property
    def _pred(self) -> bool:
        return self.local_loss != "sim"

    @property
    def _sim(self) -> bool:
        return self.local_loss != "pred"

    def _weights(self) -> tuple[float, float]:
        """The shares of ``L_pred`` and ``L_sim`` in ``L_k`` (Python floats)."""
        if self.local_loss == "predsim":
            return 1.0 - self.beta, self.beta
        return (1.0, 0.0) if self._pred else (0.0, 1.0)

    # -- set-up: the rule's own parameters ----------------------------------------------------------------------
    def _setup(self, net: Sequential) -> None:
        hidden = net.n_blocks - 1
        if hidden < 1:
            raise ValueError("the network has no hidden block: there is no local loss to train")
        if self._given is not None and len(self._given) != hidden:
            raise ValueError(f"classifiers holds {len(self._given)} matrices for {hidden} hidden blocks")
        rng, dt, C = as_generator(self.seed), np.dtype(net.dtype), net.n_outputs
        heads, pools = [], []
        for k in range(hidden):
            shape = tuple(net.block_shapes[k])
            pool = sim.classifier_pool(shape) if len(shape) == 3 else None
            d = math.prod(shape) if pool is None else self._pooled_size(shape, pool)
            head: dict[str, np.ndarray] = {}
            if self._pred:
                W = np.zeros((C, d), dt) if self._given is None else self._given[k]
                if W.shape != (C, d) or W.dtype != dt:
                    raise ValueError(f"classifiers[{k}] must be {dt} of shape {(C, d)}, got {W.dtype} {W.shape}")
                head["W"], head["b"] = np.ascontiguousarray(W), np.zeros(C, dt)
            if self._sim:
                S_shape = (shape[0], shape[0], 3, 3) if len(shape) == 3 else (d, d)
                bound = 1.0 / math.sqrt(math.prod(S_shape[1:]))  # PyTorch's default: U(-1/sqrt(fan_in), ...)
                head["S"] = rng.uniform(-bound, bound, S_shape).astype(dt)
            heads.append(head)
            pools.append(pool)
        self._heads, self._pools = heads, pools

    @staticmethod
    def _pooled_size(shape: tuple[int, ...], pool: tuple[int, int, int, int]) -> int:
        C, H, W = shape
        kh, kw, ph, pw = pool
        return C * ((H + 2 * ph - kh) // kh + 1) * ((W + 2 * pw - kw) // kw + 1)

    # -- the local losses ---------------------------------------------------------------------------------------
    def _classifier_input(self, k: int, h: np.ndarray) -> np.ndarray:
        """``p_k``: ``h_k`` average-pooled (conv blocks) and flattened, (N, d_k)."""
        pool = self._pools[k]
        p = h if pool is None else sim.avgpool_padded(h, *pool)
        return p.reshape(h.shape[0], -1)

    def _block_loss(
        self, k: int, h: np.ndarray, y: np.ndarray, Ry: np.ndarray | None
    ) -> tuple[float, np.ndarray, dict[str, np.ndarray]]:
        """``L_k``, ``g_k = dL_k/dh_k`` (h's shape) and the gradients of block k's classifier and similarity
        layer."""
        head, (wp, ws), N = self._heads[k], self._weights(), h.shape[0]
        loss, g, grads = 0.0, np.zeros_like(h), {}
        if self._pred:
            p = self._classifier_input(k, h)
            lp, ek = dispatch.softmax_cross_entropy(p @ head["W"].T + head["b"], y)
            ek = ek * wp
            grads["W"], grads["b"] = ek.T @ p, ek.sum(axis=0)
            dp = ek @ head["W"]
            pool = self._pools[k]
            g += (
                dp.reshape(h.shape)
                if pool is None
                else sim.avgpool_padded_backward(dp.reshape(N, -1, *_hw(h, pool)), h.shape, *pool)
            )
            loss += wp * lp
        if self._sim:
            assert Ry is not None
            S = head["S"]
            if h.ndim == 4:
                z, cache = conv2d_forward(h, S, None, 1, 1)
            else:
                z = h.reshape(N, -1) @ S.T
            x, fcache = sim.similarity_features(z)
            R, rcache = sim.similarity_matrix(x)
            ls, dR = sim.similarity_loss(R, Ry)
            dz = sim.similarity_features_backward(sim.similarity_matrix_backward(dR * ws, rcache), fcache)
            if h.ndim == 4:
                dh, grads["S"], _ = conv2d_backward(dz, cache, S, need_db=False)
                assert dh is not None
            else:
                dh, grads["S"] = (dz @ S).reshape(h.shape), dz.T @ h.reshape(N, -1)
            g += dh
            loss += ws * ls
        return loss, g, grads

    def _labels(self, net: Sequential, y: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """``y`` checked against the classes, and ``S(y)`` when the similarity loss needs it."""
        if y is None:
            raise ValueError("local error signals need the labels y (local classifiers and similarity targets)")
        C = net.n_outputs
        if y.size and (int(y.min()) < 0 or int(y.max()) >= C):
            raise ValueError(f"labels y must be in [0, {C}), got min {int(y.min())} and max {int(y.max())}")
        Ry = sim.similarity_matrix(one_hot(y, C, net.dtype))[0] if self._sim else None
        return y, Ry

    def local_losses(self, net: Sequential, caches: Caches, y: np.ndarray) -> list[float]:
        """``L_k`` for every hidden block (batch means), one float each."""
        self.setup(net)
        y, Ry = self._labels(net, y)
        return [self._block_loss(k, caches.block_outputs[k], y, Ry)[0] for k in range(len(self._heads))]

    # -- the step ----------------------------------------------------------------------------------------------
    def step(self, net: Sequential, caches: Caches, e: np.ndarray, y: np.ndarray | None = None) -> RuleStep:
        """``g_k = dL_k/dh_k`` for every hidden block, each block's gradients from its own ``g_k`` (the output
        block's from ``e``), no ``dx`` product; the step's change is the heads' gradients (see Notes)."""
        e = check_error(net, caches, e, y)
        self.setup(net)
        y, Ry = self._labels(net, y)
        g, heads = [], []
        for k in range(len(self._heads)):
            _, gk, hg = self._block_loss(k, caches.block_outputs[k], y, Ry)
            g.append(gk)
            heads.append(hg)
        updates = [
            lambda k=k, gk=gk: net.backward_block(k, gk, caches, need_dx=False, need_delta=False)[1]
            for k, gk in enumerate([*g, e])
        ]
        grads = [gr for block in net.run_blocks(updates, concurrent=False) for gr in block]
        return RuleStep(grads, g, heads)

    def _commit(self, net: Sequential, step: RuleStep) -> None:
        """``θ <- θ - η_c dL_k/dθ`` for every classifier and similarity layer θ, with the step's own gradients."""
        self.setup(net)
        if self.classifier_lr == 0.0:
            return
        for head, hg in zip(self._heads, step.change):
            for name, grad in hg.items():
                dispatch.sgd_update(head[name], grad, None, lr=self.classifier_lr)

    # -- readouts: the classifiers ------------------------------------------------------------------------------
    def has_local_errors(self, net: Sequential) -> bool:
        return self._pred

    def readout(self, net: Sequential, k: int, h: np.ndarray) -> np.ndarray:
        """The classifier's logits ``W_k^c p_k + b_k^c``, (N, C)."""
        self.setup(net)
        if not self._pred:
            raise NotImplementedError("local_loss 'sim' has no classifier")
        head = self._heads[k]
        return self._classifier_input(k, h) @ head["W"].T + head["b"]

    def local_errors(self, net: Sequential, caches: Caches, y: np.ndarray) -> list[np.ndarray]:
        """``e_k = (softmax(W_k^c p_k + b_k^c) - y) / N``, the classifier's error, (N, C) per hidden block."""
        self.setup(net)
        return [
            dispatch.softmax_cross_entropy(self.readout(net, k, caches.block_outputs[k]), y)[1]
            for k in range(len(self._heads))
        ]

    def classifier(self, net: Sequential, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Block k's classifier ``(W_k^c, b_k^c)``, copies."""
        self.setup(net)
        return self._heads[k]["W"].copy(), self._heads[k]["b"].copy()

    # -- state --------------------------------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        return {f"{name}{k}": a for k, head in enumerate(self._heads) for name, a in head.items()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        want = self.state()
        if set(state) != set(want):
            raise ValueError(f"Local state must hold {sorted(want)}, got {sorted(state)}")
        for key, a in want.items():
            b = np.asarray(state[key])
            if b.shape != a.shape or b.dtype != a.dtype:
                raise ValueError(f"Local state {key} is {b.dtype} {b.shape}, expected {a.dtype} {a.shape}")
            a[...] = b

    def __repr__(self) -> str:
        given = "" if self._given is None else ", classifiers=[...]"
        return (
            f"Local(local_loss={self.local_loss!r}, beta={self.beta!r}, classifier_lr={self.classifier_lr!r}, "
            f"seed={self.seed!r}{given})"
        )


def _hw(h: np.ndarray, pool: tuple[int, int, int, int]) -> tuple[int, int]:
    """The pooled map's height and width."""
    kh, kw, ph, pw = pool
    return (h.shape[2] + 2 * ph - kh) // kh + 1, (h.shape[3] + 2 * pw - kw) // kw + 1
