"""Optimizers. Each ``step(params, grads)`` updates the arrays of ``params`` in place and keeps their dtype.

``params`` and ``grads`` are lists of dicts with matching keys (``net.params()`` and a rule's ``gradients``).
State (momenta, moments) is allocated on the first step, in the parameters' dtype.

The update equations are :mod:`nnlite.ops.updates`; :mod:`nnlite.backend` runs each as one fused pass
per parameter array when the parameter, its gradient and its state are C-contiguous arrays of one dtype.
"""

from __future__ import annotations

import copy
import math
import weakref
from typing import Any

import numpy as np

from . import backend as dispatch
from ._validation import finite_float
from .backend.lazy import Product, product_of
from .kernels.momentum import momentum_apply

#: One dict of arrays per layer with parameters (``net.params()``, a rule's gradients).
Params = list[dict[str, np.ndarray]]


def _check_pos(name: str, v: Any, allow_zero: bool = False) -> float:
    """``v`` as a Python float ``> 0`` (``>= 0`` with ``allow_zero``); TypeError for a non-number (bool included)."""
    v = finite_float(v, name)
    if v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'} and finite, got {v}")
    return v


def _check_decay(name: str, v: Any) -> float:
    """``v`` as a Python float in ``[0, 1)`` (a moving-average coefficient: Adam's betas, RMSprop's rho)."""
    v = finite_float(v, name)
    if not 0 <= v < 1:
        raise ValueError(f"{name} must be in [0, 1), got {v:g}")
    return v


def _check_bool(name: str, v: Any) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {v!r}")
    return bool(v)


def state_parameter(params: Params, name: str) -> np.ndarray:
    """The parameter that the optimizer state array ``name`` (``"<j>.<key>.<state>"``, as
    :meth:`Optimizer.state_arrays` names it) belongs to; ValueError when it names none of ``params``."""
    parts = name.split(".")
    if (
        len(parts) != 3
        or not parts[0].isdigit()
        or int(parts[0]) >= len(params)
        or parts[1] not in params[int(parts[0])]
    ):
        raise ValueError(f"optimizer state {name!r} matches no parameter of this network")
    return params[int(parts[0])][parts[1]]


class Optimizer:
    """Base class: ``step(params, grads)`` updates ``params`` in place; ``state`` is allocated on the first step.

    Its Parameters are those the optimizers share, documented here once (each optimizer's page shows them).

    Parameters
    ----------
    lr : float
        The learning rate, a finite number ``> 0`` (``fit``'s ``lr_schedule`` changes it from epoch to epoch).
    eps : float
        Added to the root of the second moment before dividing by it, a finite number ``> 0``: it bounds the step
        where a gradient's running magnitude is near 0.
    """

    #: The learning rate (``fit``'s ``lr_schedule`` sets it at the start of every epoch).
    lr: float

    def __init__(self) -> None:
        self.state: list[dict[str, dict[str, np.ndarray]]] = []
        self.t = 0

    def _pairs(self, params, grads):
        if not isinstance(grads, (list, tuple)) or not isinstance(params, (list, tuple)):
            raise TypeError(
                f"params and grads must be lists of dicts of arrays, got {type(params).__name__} and "
                f"{type(grads).__name__}"
            )
        if len(params) != len(grads):
            raise ValueError(f"got {len(grads)} gradient dicts for {len(params)} parameter dicts")
        for j, (p, g) in enumerate(zip(params, grads)):
            if not isinstance(g, dict):
                raise TypeError(f"gradients[{j}] must be a dict of arrays like params[{j}], got {type(g).__name__}")
            if p.keys() != g.keys():
                raise ValueError(f"gradient keys {sorted(g)} do not match parameter keys {sorted(p)}")
            for k in p:
                gk = g[k]
                if not isinstance(gk, (np.ndarray, Product)):
                    raise TypeError(f"gradient {k!r} must be a numpy array, got {type(gk).__name__}")
                if gk.shape != p[k].shape:
                    raise ValueError(f"gradient {k!r} has shape {gk.shape}, parameter has {p[k].shape}")
                if gk.dtype != p[k].dtype:
                    raise TypeError(f"gradient {k!r} is {gk.dtype}, its parameter is {p[k].dtype}")
                yield p, g, k

    def _init_state(self, params, names):
        self.state = [{k: {n: np.zeros_like(v) for n in names} for k, v in p.items()} for p in params]
        self._bind(params)

    def _bind(self, params):
        # weak references, not ids: once a network is collected, another's new arrays may take its arrays' ids
        self._bound = [{k: weakref.ref(v) for k, v in p.items()} for p in params]

    def _is_bound(self, params) -> bool:
        bound = getattr(self, "_bound", None)
        if bound is None or len(bound) != len(params):
            return False
        return all(b.keys() == p.keys() and all(b[k]() is p[k] for k in p) for b, p in zip(bound, params))

    def __getstate__(self) -> dict[str, Any]:
        # weak references do not pickle; an unpickled optimizer with state is bound to no network until
        # load_state_arrays binds it (its parameters are not the arrays it was set up for anyway)
        d = dict(self.__dict__)
        d.pop("_bound", None)
        return d

    def _check_bound(self, params):
        """A stateful optimizer updates the arrays it was set up for: another network's would get its momenta."""
        if self.state and not self._is_bound(params):
            raise ValueError(
                f"this {type(self).__name__} holds state for another network's parameters; "
                "use a new optimizer for each network"
            )

    def fresh(self) -> Optimizer:
        """A copy with the same settings and no state (no momenta, step count 0, bound to no network): what a
        new optimizer built with the same arguments would be."""
        new = copy.copy(self)
        new.state, new.t = [], 0
        new.__dict__.pop("_bound", None)
        return new

    # -- state, for checkpoints ------------------------------------------------------------------------------------
    def state_arrays(self) -> dict[str, np.ndarray]:
        """The optimizer's state as flat arrays ``"<j>.<key>.<name>"`` (e.g. ``"0.W.v"``), plus ``"t"``."""
        out = {f"{j}.{k}.{n}": a for j, d in enumerate(self.state) for k, s in d.items() for n, a in s.items()}
        out["t"] = np.array(self.t, dtype=np.int64)
        return out

    def load_state_arrays(self, params: Params, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_arrays` for ``params`` (the parameters it will update from now on): every array must
        have its parameter's shape and dtype; raises ValueError naming what differs."""
        arrays = dict(arrays)
        if "t" not in arrays:
            raise ValueError("optimizer state lacks its step count 't'")
        t = int(np.asarray(arrays.pop("t")))
        state: list[dict[str, dict[str, np.ndarray]]] = [{k: {} for k in p} for p in params]
        for name, a in arrays.items():
            p = state_parameter(params, name)
            parts = name.split(".")
            if a.shape != p.shape or a.dtype != p.dtype:
                raise ValueError(
                    f"optimizer state {name!r} is {a.dtype}{list(a.shape)}, its parameter is {p.dtype}{list(p.shape)}"
                )
            state[int(parts[0])][parts[1]][parts[2]] = np.array(a, copy=True)
        if arrays:
            names = {n for d in state for s in d.values() for n in s}
            if any(set(s) != names for d in state for s in d.values()):
                raise ValueError(f"optimizer state is incomplete: every parameter needs {sorted(names)}")
            self.state = state
        else:
            self.state = []
        self.t = t
        self._bind(params)

    #: True when :meth:`step` takes a :class:`~nnlite.backend.lazy.Product` gradient into its product (a GEMM
    #: writing the update), not as an array; the training step then hands dense weight gradients over unmade.
    folds = False

    def step(self, params: Params, grads: Params) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.

    Parameters
    ----------
    momentum : float
        ``mu``, a finite number ``>= 0``; 0 (the default) keeps no velocity at all.
    nesterov : bool
        Nesterov's momentum (needs ``momentum > 0``).
    weight_decay : float
        ``wd``, the L2 penalty's coefficient added to every gradient, a finite number ``>= 0``.

    Notes
    -----
    ``g <- g + wd * p``; ``v <- mu v + g``; ``p <- p - lr v`` (or ``p <- p - lr (g + mu v)`` with Nesterov).

    A gradient handed over as a :class:`~nnlite.backend.lazy.Product` ``A^T B`` (a dense layer's, in a training
    step) is folded into its GEMM: without momentum ``p <- (1 - lr wd) p - lr A^T B`` is one GEMM writing into
    ``p``; with momentum ``v <- mu v + A^T B`` is one GEMM, then one pass ``v <- v + wd p; p <- p - lr v``. Nesterov
    momentum computes the gradient first.

    Examples
    --------
    One step on one parameter array, in place (``params`` is ``net.params()``, ``grads`` a rule's gradients):

    >>> import numpy as np
    >>> import nnlite as nn
    >>> params = [{"W": np.array([1.0, -2.0], dtype=np.float32)}]
    >>> grads = [{"W": np.array([0.5, -0.5], dtype=np.float32)}]
    >>> opt = nn.SGD(lr=0.1, momentum=0.9)
    >>> opt.step(params, grads)
    >>> params[0]["W"]
    array([ 0.95, -1.95], dtype=float32)
    >>> opt.state[0]["W"]["v"]  # the velocity, made on the first step
    array([ 0.5, -0.5], dtype=float32)
    """

    def __init__(self, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__()
        self.lr = _check_pos("lr", lr)
        self.momentum = _check_pos("momentum", momentum, allow_zero=True)
        self.weight_decay = _check_pos("weight_decay", weight_decay, allow_zero=True)
        self.nesterov = _check_bool("nesterov", nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("Nesterov momentum needs momentum > 0")

    @property
    def folds(self) -> bool:  # type: ignore[override]
        """True unless Nesterov: the update folds into the weight-gradient products."""
        return not self.nesterov

    def step(self, params: Params, grads: Params) -> None:
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        list(self._pairs(params, grads))  # everything checked before anything changes
        self._check_bound(params)
        if mu and not self.state:
            self._init_state(params, ("v",))
        self.t += 1
        for j, (p, g) in enumerate(zip(params, grads)):
            for k in p:
                v = self.state[j][k]["v"] if mu else None
                prod = product_of(grads, j, k)
                if prod is not None and not self.nesterov and p[k].flags.c_contiguous:
                    if v is None:
                        prod.add_to(p[k], alpha=-lr, beta=1.0 - lr * wd)
                    else:
                        prod.add_to(v, alpha=1.0, beta=mu)
                        momentum_apply(p[k], v, lr=lr, weight_decay=wd)
                    continue
                gk = np.asarray(g[k])
                dispatch.sgd_update(p[k], gk, v, lr=lr, momentum=mu, weight_decay=wd, nesterov=self.nesterov)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015).

    Parameters
    ----------
    betas : pair of float
        ``(b1, b2)``, the decay of the first and second moments' running averages, each in ``[0, 1)``.

    Notes
    -----
    ``m <- b1 m + (1-b1) g``; ``v <- b2 v + (1-b2) g^2``; ``p <- p - lr_t m / (sqrt(v) + eps)`` with
    ``lr_t = lr sqrt(1-b2^t) / (1-b1^t)``.

    Examples
    --------
    Adam's first step moves every parameter by about ``lr``, whatever its gradient's size:

    >>> import numpy as np
    >>> import nnlite as nn
    >>> params = [{"W": np.array([1.0, 1.0], dtype=np.float32)}]
    >>> grads = [{"W": np.array([100.0, -0.01], dtype=np.float32)}]
    >>> nn.Adam(lr=0.1).step(params, grads)
    >>> params[0]["W"].round(4)
    array([0.9, 1.1], dtype=float32)
    """

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__()
        self.lr = _check_pos("lr", lr)
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2) of numbers in [0, 1), got {betas!r}")
        b1, b2 = _check_decay("betas[0]", betas[0]), _check_decay("betas[1]", betas[1])
        self.betas, self.eps = (b1, b2), _check_pos("eps", eps)

    def step(self, params: Params, grads: Params) -> None:
        list(self._pairs(params, grads))
        self._check_bound(params)
        if not self.state:
            self._init_state(params, ("m", "v"))
        self.t += 1
        b1, b2 = self.betas
        lr_t = self.lr * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        for j, (p, g) in enumerate(zip(params, grads)):
            for k in p:
                s, gk = self.state[j][k], np.asarray(g[k])
                dispatch.adam_update(p[k], gk, s["m"], s["v"], lr_t=lr_t, beta1=b1, beta2=b2, eps=self.eps)


class RMSprop(Optimizer):
    """RMSprop (Tieleman & Hinton 2012).

    Parameters
    ----------
    rho : float
        The decay of the squared gradients' running average, in ``[0, 1)``.

    Notes
    -----
    ``s <- rho s + (1-rho) g^2``; ``p <- p - lr g / (sqrt(s) + eps)``.

    Examples
    --------
    The first step divides the gradient by ``sqrt(1 - rho) |g|``: here ``0.1 / sqrt(0.1) = 0.316...`` per entry.

    >>> import numpy as np
    >>> import nnlite as nn
    >>> params = [{"W": np.zeros(2, dtype=np.float32)}]
    >>> grads = [{"W": np.array([4.0, -0.5], dtype=np.float32)}]
    >>> nn.RMSprop(lr=0.1, rho=0.9).step(params, grads)
    >>> params[0]["W"].round(4)
    array([-0.3162,  0.3162], dtype=float32)
    """

    def __init__(self, lr: float = 1e-3, rho: float = 0.9, eps: float = 1e-8):
        super().__init__()
        self.lr = _check_pos("lr", lr)
        self.rho = _check_decay("rho", rho)
        self.eps = _check_pos("eps", eps)

    def step(self, params: Params, grads: Params) -> None:
        list(self._pairs(params, grads))
        self._check_bound(params)
        if not self.state:
            self._init_state(params, ("s",))
        self.t += 1
        rho = self.rho
        for j, (p, g) in enumerate(zip(params, grads)):
            for k in p:
                s, gk = self.state[j][k]["s"], np.asarray(g[k])
                dispatch.rmsprop_update(p[k], gk, s, lr=self.lr, rho=rho, eps=self.eps)


class StepDecay:
    """A step-decay learning-rate schedule: the lr is multiplied by ``factor`` after each of ``epochs`` (PyTorch's
    ``MultiStepLR``; biotorch: ``StepDecay((50, 75), 0.1)``). :func:`nnlite.fit` applies it (``lr_schedule=``).

    Parameters
    ----------
    epochs : sequence of int
        Positive epoch counts, the milestones: after that many finished epochs the lr drops.
    factor : float
        The multiplier, ``> 0`` (default 0.1).

    Notes
    -----
    In epoch ``t`` (1-based) the optimizer's lr is ``lr_0 * factor^m(t)``, ``m(t) = #{e in epochs : e < t}``
    (computed as repeated products, as PyTorch does), where ``lr_0`` is the optimizer's ``lr`` when ``fit``
    starts; ``fit`` puts ``lr_0`` back when it returns. A resumed run computes the same lr for every epoch, so it
    stays bit-identical. Only the optimizer's ``lr`` decays (not KP's feedback lr).

    Examples
    --------
    The lr of each epoch for an initial lr of 0.1, divided by 10 after epochs 2 and 3:

    >>> import nnlite as nn
    >>> schedule = nn.StepDecay([2, 3], factor=0.1)
    >>> [round(schedule.lr(0.1, epoch), 6) for epoch in (1, 2, 3, 4)]
    [0.1, 0.1, 0.01, 0.001]
    """

    def __init__(self, epochs: Any, factor: float = 0.1):
        if isinstance(epochs, (str, bytes)) or not hasattr(epochs, "__iter__"):
            raise TypeError(f"epochs must be a sequence of positive integers, got {epochs!r}")
        out = []
        for e in epochs:
            if isinstance(e, (bool, np.bool_)) or not isinstance(e, (int, np.integer)) or e < 1:
                raise ValueError(f"epochs must be positive integers, got {epochs!r}")
            out.append(int(e))
        self.epochs = tuple(sorted(out))
        self.factor = _check_pos("factor", factor)

    def lr(self, lr0: float, epoch: int) -> float:
        """The lr in force during ``epoch`` (1-based) for the initial ``lr0``."""
        lr = float(lr0)
        for e in self.epochs:
            if e < epoch:
                lr *= self.factor
        return lr

    def __repr__(self) -> str:
        return f"StepDecay(epochs={list(self.epochs)!r}, factor={self.factor!r})"
