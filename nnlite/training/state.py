"""What :func:`nnlite.fit` keeps at the end of every epoch so that an interrupted run resumes exactly.

One file, ``<checkpoint_dir>/model.npz``, written atomically by :func:`nnlite.training.checkpoint.save`: the network
(parameters and buffers, BatchNorm's running statistics included), the rule's state (:meth:`Rule.state`), and,
under ``extra.``, the training state: the optimizer's arrays and step count, the batch-order generator, every
layer's own generator (Dropout's masks), the :class:`~nnlite.History` so far, and the settings a resumed run
must share with the first one (batch size, optimizer, loss, rule, a digest of the training data). Because it is
one rename, the model and the state that resumes it can never disagree. :func:`nnlite.load` reads the same file as
an ordinary checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..optim import state_parameter
from . import checkpoint
from .io import json_clean

if TYPE_CHECKING:
    from ..network import Sequential
    from ..optim import Optimizer
    from ..rules.base import Rule
    from .history import History

__all__ = ["CHECKPOINT_NAME", "check_writable", "data_digest", "read_history", "restore", "save"]

#: The file :func:`nnlite.fit` writes in its ``checkpoint_dir``.
CHECKPOINT_NAME = "model.npz"
_FORMAT = 1
#: The largest training state (JSON text: settings, generators, history) a checkpoint may claim before it is read.
MAX_STATE_BYTES = 64 << 20


def _check_state_header(shape: tuple[int, ...], dtype: np.dtype) -> None:
    if shape != () or dtype.kind != "U":
        raise ValueError(f"the training state must be one string, got shape {shape} of {dtype}")
    if dtype.itemsize > MAX_STATE_BYTES:
        raise ValueError(f"the training state claims {dtype.itemsize:,} bytes, more than {MAX_STATE_BYTES:,}")


def _restore_accept(params: list) -> Any:
    """``accept`` for :func:`nnlite.checkpoint.read_extra`: the training state, the step count and one array per
    optimizer state of ``params``' shape and dtype; anything else is refused before it is read."""

    def accept(name: str, shape: tuple[int, ...], dtype: np.dtype) -> bool:
        if name == "train.state":
            _check_state_header(shape, dtype)
            return True
        if not name.startswith("optimizer."):
            return False
        key = name[len("optimizer.") :]
        if key == "t":
            if shape != () or dtype.kind not in "iu":
                raise ValueError(f"the optimizer's step count must be one integer, got shape {shape} of {dtype}")
            return True
        p = state_parameter(params, key)
        if shape != p.shape or dtype != p.dtype:
            raise ValueError(
                f"optimizer state {key!r} is {shape} of {dtype}, but its parameter is {p.shape} of {p.dtype}"
            )
        return True

    return accept


def check_writable(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if needed and check that a file can be created in it (before any training is spent);
    raises ``ValueError`` naming the folder and the reason."""
    d = Path(folder)
    if d.exists() and not d.is_dir():
        raise ValueError(f"{d} exists and is not a folder")
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".nnlite-write-test-")
        os.close(fd)
        os.remove(tmp)
    except OSError as exc:
        raise ValueError(f"cannot write into {d}: {exc.strerror or exc}") from None
    return d


def data_digest(x: np.ndarray, y: np.ndarray) -> str:
    """A digest of the training set (shape, dtype and bytes), to refuse resuming on other data."""
    h = hashlib.blake2b(digest_size=16)
    for a in (x, y):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.view(np.uint8).reshape(-1).data if a.size else b"")
    return h.hexdigest()


def layer_generators(net: Sequential) -> dict[str, np.random.Generator]:
    """The generators the layers draw from in training mode (Dropout's), by layer index."""
    return {
        str(i): g
        for i, layer in enumerate(net.layers)
        if isinstance(g := getattr(layer, "rng", None), np.random.Generator)
    }


def _optimizer_settings(optimizer: Optimizer) -> dict[str, Any]:
    names = ("lr", "momentum", "nesterov", "weight_decay", "betas", "eps", "rho")
    return {"type": type(optimizer).__name__, **{n: getattr(optimizer, n) for n in names if hasattr(optimizer, n)}}


def settings(net: Sequential, rule: Rule, loss: Any, optimizer: Optimizer, batch_size: int, digest: str) -> dict:
    """What a resumed run must share with the interrupted one (compared as JSON)."""
    return json.loads(
        json.dumps(
            {
                "network": repr(net),
                "rule": repr(rule),
                "loss": getattr(loss, "__qualname__", type(loss).__name__),
                "optimizer": _optimizer_settings(optimizer),
                "batch_size": int(batch_size),
                "data": digest,
            }
        )
    )


def save(
    path: str | os.PathLike,
    net: Sequential,
    rule: Rule,
    optimizer: Optimizer,
    order_rng: np.random.Generator,
    hist: History,
    *,
    epoch: int,
    step: int,
    run_settings: dict,
) -> None:
    """Write the checkpoint after ``epoch`` (``step`` steps in all), atomically."""
    state = {
        "format": _FORMAT,
        "epoch": int(epoch),
        "step": int(step),
        "settings": run_settings,
        "order_rng": order_rng.bit_generator.state,
        "layer_rngs": {i: g.bit_generator.state for i, g in layer_generators(net).items()},
        "history": hist.to_dict(),
    }
    extra = {"train.state": np.array(json.dumps(json_clean(state)))}
    extra.update({f"optimizer.{k}": v for k, v in optimizer.state_arrays().items()})
    checkpoint.save(net, path, rule=rule, extra=extra)


def read_history(path: str | os.PathLike) -> dict | None:
    """The history stored in the checkpoint at ``path`` (a :class:`~nnlite.History` as a dict), or None when
    there is no readable checkpoint with training state there. Headers are checked before anything is read."""

    def accept(name: str, shape: tuple[int, ...], dtype: np.dtype) -> bool:
        if name != "train.state":
            return False
        _check_state_header(shape, dtype)
        return True

    try:
        extra = checkpoint.read_extra(path, accept)
        return json.loads(str(extra["train.state"]))["history"] if "train.state" in extra else None
    except (OSError, KeyError, ValueError, TypeError):
        return None


def restore(
    path: str | os.PathLike,
    net: Sequential,
    rule: Rule,
    optimizer: Optimizer,
    order_rng: np.random.Generator,
    run_settings: dict,
) -> tuple[dict, int, int]:
    """Restore the checkpoint at ``path`` into ``net``, ``rule``, ``optimizer`` and ``order_rng``.

    Returns ``(history dict, last finished epoch, steps so far)``. Raises ``FileNotFoundError`` when there is no
    checkpoint and ``ValueError`` when it was written by another kind of run (another network, rule, optimizer,
    loss, batch size or training set: the message names what differs) or cannot be resumed exactly.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint to resume from: {path} does not exist")
    extra = checkpoint.read_extra(path, _restore_accept(net.params()))  # headers checked before reading
    if "train.state" not in extra:
        raise checkpoint.CheckpointError(f"{path} is a model checkpoint without training state; it cannot be resumed")
    try:
        state = json.loads(str(extra["train.state"]))
    except json.JSONDecodeError as exc:
        raise checkpoint.CheckpointError(f"{path} is not a readable nnlite checkpoint: {exc}") from None
    opt_arrays = {k[len("optimizer.") :]: a for k, a in extra.items() if k.startswith("optimizer.")}
    if state.get("format") != _FORMAT:
        raise ValueError(f"{path}: training state format {state.get('format')!r} is not {_FORMAT}")
    old = state["settings"]
    diff = [k for k in sorted(set(old) | set(run_settings)) if old.get(k) != run_settings.get(k)]
    if diff:
        lines = "; ".join(f"{k}: {old.get(k)!r} in the checkpoint, {run_settings.get(k)!r} now" for k in diff)
        raise ValueError(f"{path} was written by another run ({lines})")
    if getattr(rule, "seed", 0) is None and not rule.state():
        raise ValueError(
            f"{type(rule).__name__}(seed=None) draws its feedback afresh: it cannot resume exactly; build the rule "
            "with the seed the interrupted run used"
        )
    saved_net = checkpoint.load(path, rule=rule)  # the rule state too, bound to a network of this shape
    # the network: parameters and buffers, in place (the caller's arrays stay the arrays the optimizer updates)
    for dst, src in zip(net.layers, saved_net.layers):
        for group in ("params", "buffers"):
            for k, a in (getattr(src, group, None) or {}).items():
                getattr(dst, group)[k][...] = a
    for k, frozen in saved_net.frozen_units.items():
        net.set_frozen_units(k, frozen)
    rule.setup(net)
    optimizer.load_state_arrays(net.params(), opt_arrays)
    order_rng.bit_generator.state = state["order_rng"]
    gens = layer_generators(net)
    if set(gens) != set(state["layer_rngs"]):
        raise ValueError(f"{path}: the checkpoint's layer generators {sorted(state['layer_rngs'])} != {sorted(gens)}")
    for i, g in gens.items():
        g.bit_generator.state = state["layer_rngs"][i]
    return state["history"], int(state["epoch"]), int(state["step"])
