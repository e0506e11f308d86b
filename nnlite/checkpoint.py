"""Checkpoints (:func:`save`, :func:`load`) and the atomic writes that every file nnlite writes goes through.

A checkpoint is an ``.npz`` archive: the architecture as JSON text under ``__spec__`` and every parameter and
buffer as ``layer<i>.param.<name>`` / ``layer<i>.buffer.<name>``. No pickle is written or read.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .layers import Layer
    from .network import Sequential
    from .rules.base import Rule

__all__ = ["atomic_write", "json_clean", "load", "save", "write_json"]


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, fsync, then rename.

    A crash at any point leaves either the old file or the new one under ``path``, never half of one; the
    folder is created when missing. Only a regular file is ever replaced: a FIFO, a device, a socket or a folder
    at ``path`` is refused with ``ValueError``, and a symbolic link is written through (its target is replaced, the
    link stays). The new file gets the old file's permissions, or the umask's for a new file.
    """
    path = os.fspath(path)
    if os.path.islink(path):
        path = os.path.realpath(path)
    if os.path.lexists(path) and not os.path.isfile(path):
        kind = "a folder" if os.path.isdir(path) else "not a regular file (a device, FIFO or socket)"
        raise ValueError(f"{path} is {kind}; nnlite replaces only regular files")
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    if os.path.exists(path):
        mode = os.stat(path).st_mode & 0o7777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def json_clean(o: Any) -> Any:
    """``o`` with NaN/inf floats as None, NumPy scalars as Python numbers and dict keys as strings (for JSON)."""
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {str(k): json_clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [json_clean(v) for v in o]
    return o


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON (NaN as null), atomically."""
    atomic_write(path, json.dumps(json_clean(obj), indent=1).encode())


def save(
    net: Sequential,
    path: str | os.PathLike,
    *,
    rule: Rule | None = None,
    extra: dict[str, np.ndarray] | None = None,
) -> None:
    """Save ``net`` (architecture and every parameter and buffer) to an ``.npz`` file, atomically.

    With ``rule``, its state is saved too (:meth:`nnlite.rules.Rule.state`: FA's and KP's ``B_k``, frSF's and
    brSF's magnitudes and brSF's generator), with its repr, so that training can resume exactly.
    ``extra`` arrays are stored as ``extra.<name>`` beside them, in the same atomic write (:func:`nnlite.fit`
    keeps its training state there); :func:`load` ignores them.

    The file is written to a temporary file in the same directory and renamed into place, so a crash never
    leaves half a checkpoint. No pickle: the architecture is stored as JSON text.
    """
    spec = _spec(net)
    arrays = {}
    if rule is not None:
        rule.setup(net)
        spec["rule"] = repr(rule)
        arrays.update({f"rule.{k}": v for k, v in rule.state().items()})
    for k, v in (extra or {}).items():
        arrays[f"extra.{k}"] = np.asarray(v)
    arrays["__spec__"] = np.array(json.dumps(spec))
    for i, layer in enumerate(net.layers):
        for k, v in (layer.params or {}).items():
            arrays[f"layer{i}.param.{k}"] = v
        for k, v in getattr(layer, "buffers", {}).items():
            arrays[f"layer{i}.buffer.{k}"] = v
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **arrays)
    atomic_write(path, buf.getvalue())


def load(path: str | os.PathLike, *, rule: Rule | None = None) -> Sequential:
    """Load a network saved by :func:`save` (``allow_pickle=False``).

    With ``rule`` (a new rule of the saved kind, e.g. ``KP(lr, weight_decay)``), the saved rule state is
    restored into it, bound to the loaded network; a checkpoint saved without a rule has nothing to restore
    (``ValueError``), and a rule of another kind is refused.
    """
    from . import layers as L
    from .network import Sequential

    with np.load(path, allow_pickle=False) as f:
        spec = json.loads(str(f["__spec__"]))
        classes = []
        for ls in spec["layers"]:
            cls = getattr(L, ls["type"], None)
            if cls is None or not isinstance(cls, type) or not issubclass(cls, L.Layer):
                raise ValueError(f"{path}: unknown layer type {ls['type']!r} in the checkpoint")
            classes.append(cls)
        _check_arrays(path, spec, classes)  # before any layer is built: a spec cannot ask for more than the file holds
        layers = []
        for i, ls in enumerate(spec["layers"]):
            layer = classes[i].from_config(ls["config"])
            for k in list(layer.params or {}):
                a = f[f"layer{i}.param.{k}"]
                if a.shape != layer.params[k].shape:
                    raise ValueError(
                        f"{path}: layer {i} parameter {k} has shape {a.shape}, expected {layer.params[k].shape}"
                    )
                layer.params[k][...] = a
            buffers: dict[str, np.ndarray] = getattr(layer, "buffers", {})
            for k in list(buffers):
                buffers[k][...] = f[f"layer{i}.buffer.{k}"]
            layers.append(layer)
        net = Sequential(layers, input_shape=tuple(spec["input_shape"]))
        for k, frozen in spec.get("frozen_units", {}).items():
            net.set_frozen_units(int(k), frozen)
        if rule is not None:
            if "rule" not in spec:
                raise ValueError(f"{path}: the checkpoint holds no rule state to restore")
            saved = str(spec["rule"]).split("(", 1)[0]
            if saved != type(rule).__name__:
                raise ValueError(f"{path}: the checkpoint holds the state of a {saved}, not of a {type(rule).__name__}")
            rule.setup(net)
            rule.load_state({k[len("rule.") :]: f[k] for k in f.files if k.startswith("rule.")})
    return net


def _check_arrays(path: str | os.PathLike, spec: dict, classes: list[type[Layer]]) -> None:
    """Every array the spec's layers will hold is in the archive with that shape, read from its .npy header
    (checked against the member's size); raises ValueError naming the file, the layer and both shapes."""
    import zipfile

    from .data.npz import member_header

    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        for i, (ls, cls) in enumerate(zip(spec["layers"], classes)):
            try:
                shapes = cls.array_shapes(ls["config"])
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{path}: layer {i} ({ls['type']}): bad configuration: {exc}") from None
            for name, shape in shapes.items():
                key = f"layer{i}.{name}"
                if key + ".npy" not in names:
                    raise ValueError(f"{path}: layer {i} ({ls['type']}) needs {key}, which the checkpoint lacks")
                stored, _ = member_header(zf, str(path), key)
                if stored != tuple(shape):
                    raise ValueError(
                        f"{path}: layer {i} ({ls['type']}) {name} has shape {stored} in the file, "
                        f"but its configuration needs {tuple(shape)}"
                    )


def _spec(net: Sequential) -> dict:
    return {
        "format": 1,
        "input_shape": list(net.input_shape),
        "layers": [{"type": type(layer).__name__, "config": layer.config()} for layer in net.layers],
        "frozen_units": {str(k): v for k, v in net.frozen_units.items()},
    }
