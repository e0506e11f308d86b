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

__all__ = ["CHECKPOINT_NAME", "check_state", "check_writable", "data_digest", "read_history", "restore", "save"]

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


def settings(
    net: Sequential,
    rule: Rule,
    loss: Any,
    optimizer: Optimizer,
    batch_size: int,
    digest: str,
    seed: Any = None,
) -> dict:
    """What a resumed run must share with the interrupted one (compared as JSON): the network, the rule, the loss,
    the optimizer's settings, the batch size, the training data's digest and the run's seed (an integer seed; a
    Generator or None is recorded as None, and then the batch order restored from the checkpoint decides)."""
    return json.loads(
        json.dumps(
            {
                "network": repr(net),
                "rule": repr(rule),
                "loss": getattr(loss, "__qualname__", type(loss).__name__),
                "optimizer": _optimizer_settings(optimizer),
                "batch_size": int(batch_size),
                "data": digest,
                "seed": int(seed) if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) else None,
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
    checkpoint.save(net, path, rule=rule, extra=extra, own=True)


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


_HISTORY_LISTS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds", "alignment")
_FIX = "the checkpoint was damaged or edited: resume from an intact copy, or start the run again"


def _bad(path: Any, field: str, what: str, fix: str = _FIX) -> checkpoint.CheckpointError:
    return checkpoint.CheckpointError(f"{path}: training state field {field!r} {what}; {fix}")


def _count(path: Any, state: dict, field: str) -> int:
    v = state.get(field)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise _bad(path, field, f"must be a non-negative integer, got {v!r}")
    return v


def _generator_state(path: Any, field: str, value: Any, like: np.random.Generator) -> None:
    """``value`` must be a state ``like``'s bit generator takes (set on a fresh one, never on ``like``)."""
    probe = type(like.bit_generator)()
    try:
        probe.state = value
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise _bad(path, field, f"is not a {type(probe).__name__} state ({exc})") from None


def _check_history(path: Any, h: Any, epoch: int) -> None:
    if not isinstance(h, dict) or not set(h) <= {*_HISTORY_LISTS, "stopped", "rule"}:
        raise _bad(path, "history", "must be a table of the History's fields")
    for key in _HISTORY_LISTS:
        if not isinstance(h.get(key, []), list):
            raise _bad(path, f"history.{key}", "must be a list")
    stopped = h.get("stopped")
    if stopped is not None and not isinstance(stopped, dict):
        raise _bad(path, "history.stopped", "must be null or a table")
    if not isinstance(h.get("rule", ""), str):
        raise _bad(path, "history.rule", "must be a string")
    done = h.get("epoch", [])
    if done != list(range(1, epoch + 1)) and not (stopped is not None and done == list(range(1, epoch))):
        raise _bad(
            path, "epoch", f"is {epoch}, but the history records epochs {done[:3]}{'...' if len(done) > 3 else ''}"
        )
    for key in ("train_loss", "train_acc", "seconds"):
        values = h.get(key, [])
        if len(values) != len(done) or not all(v is None or isinstance(v, (int, float)) for v in values):
            raise _bad(path, f"history.{key}", f"must hold {len(done)} numbers, one per recorded epoch")
    for key in ("test_loss", "test_acc"):
        values = h.get(key, [])
        if len(values) not in (0, len(done)) or not all(v is None or isinstance(v, (int, float)) for v in values):
            raise _bad(path, f"history.{key}", f"must hold none or {len(done)} numbers")
    if not all(isinstance(a, dict) for a in h.get("alignment", [])):
        raise _bad(path, "history.alignment", "must be a list of tables")


def check_state(
    path: Any,
    state: Any,
    run_settings: dict,
    net: Sequential,
    order_rng: np.random.Generator,
    *,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
) -> None:
    """Check a checkpoint's training state field by field before anything of it is used: ``format``; ``epoch``
    (at least 1, at most ``epochs``) and ``step`` (``epoch * steps_per_epoch`` for a run that was not stopped,
    within the epoch for one that was; not checked when ``steps_per_epoch`` is None); ``settings`` equal to
    ``run_settings``; the generators' states; the history against the epoch.

    Raises
    ------
    CheckpointError
        Naming the file, the field, and what to do.
    """
    if not isinstance(state, dict):
        raise _bad(path, "train.state", "must be a table")
    if state.get("format") != _FORMAT:
        raise _bad(path, "format", f"is {state.get('format')!r}, not {_FORMAT}", "it was written by another nnlite")
    epoch, step = _count(path, state, "epoch"), _count(path, state, "step")
    if epoch < 1:
        raise _bad(path, "epoch", f"is {epoch}; a checkpoint is written after an epoch, the first being 1")
    if epochs is not None and epoch > epochs:
        raise _bad(
            path, "epoch", f"is {epoch}, past this run's last epoch ({epochs})", f"resume with --epochs {epoch} or more"
        )
    old = state.get("settings")
    if not isinstance(old, dict):
        raise _bad(path, "settings", "must be a table")
    diff = [k for k in sorted(set(old) | set(run_settings)) if old.get(k) != run_settings.get(k)]
    if diff:
        lines = "; ".join(f"{k}: {old.get(k)!r} in the checkpoint, {run_settings.get(k)!r} now" for k in diff)
        raise checkpoint.CheckpointError(
            f"{path} was written by another run ({lines}); resume with the settings it was started with, or "
            "start a new run in another folder"
        )
    history: dict = state.get("history")  # type: ignore[assignment]  # checked just below
    _check_history(path, history, epoch)
    stopped = history.get("stopped") is not None
    if steps_per_epoch is not None:
        full = epoch * steps_per_epoch
        if (not stopped and step != full) or (stopped and not full - steps_per_epoch <= step <= full):
            raise _bad(path, "step", f"is {step}, but {epoch} epoch(s) of {steps_per_epoch} steps make {full}")
    _generator_state(path, "order_rng", state.get("order_rng"), order_rng)
    gens, saved = layer_generators(net), state.get("layer_rngs")
    if not isinstance(saved, dict) or set(saved) != set(gens):
        got = sorted(saved) if isinstance(saved, dict) else saved
        raise _bad(path, "layer_rngs", f"must hold the generators of layers {sorted(gens)}, got {got!r}")
    for i, g in gens.items():
        _generator_state(path, f"layer_rngs.{i}", saved[i], g)


def restore(
    path: str | os.PathLike,
    net: Sequential,
    rule: Rule,
    optimizer: Optimizer,
    order_rng: np.random.Generator,
    run_settings: dict,
    *,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
) -> tuple[dict, int, int]:
    """Restore the checkpoint at ``path`` into ``net``, ``rule``, ``optimizer`` and ``order_rng``.

    The training state is checked like any input before anything is restored (:func:`check_state`): every field's
    type and range, the epoch within the run's ``epochs``, the step count against ``steps_per_epoch``, the history
    against the epoch, and every setting that decides the result against ``run_settings`` (the seed included).

    Returns ``(history dict, last finished epoch, steps so far)``. Raises ``FileNotFoundError`` when there is no
    checkpoint and :class:`~nnlite.training.checkpoint.CheckpointError` (a ``ValueError``) naming the file, the
    field and what to do when the state is damaged, edited, or was written by another kind of run.
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
    check_state(path, state, run_settings, net, order_rng, epochs=epochs, steps_per_epoch=steps_per_epoch)
    opt_arrays = {k[len("optimizer.") :]: a for k, a in extra.items() if k.startswith("optimizer.")}
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
    for i, g in gens.items():
        g.bit_generator.state = state["layer_rngs"][i]
    return state["history"], int(state["epoch"]), int(state["step"])
