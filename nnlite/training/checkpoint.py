"""Checkpoints (:func:`save`, :func:`load`); written through :func:`nnlite.training.io.atomic_write`.

A checkpoint is an ``.npz`` archive: the architecture as JSON text under ``__spec__`` and every parameter and
buffer as ``layer<i>.param.<name>`` / ``layer<i>.buffer.<name>``. No pickle is written or read. :func:`load`
refuses every file that is not such an archive with one error, :class:`CheckpointError`.
"""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .io import atomic_write

if TYPE_CHECKING:
    from ..layers import Layer
    from ..network import Sequential
    from ..rules.base import Rule

__all__ = ["FORMATS", "CheckpointError", "load", "read_extra", "save"]


def save(
    net: Sequential,
    path: str | os.PathLike,
    *,
    rule: Rule | None = None,
    extra: dict[str, np.ndarray] | None = None,
    own: bool = False,
) -> None:
    """Save ``net`` (architecture and every parameter and buffer) to an ``.npz`` file, atomically.

    A symbolic link at ``path`` is written through, unless ``own`` (a file nnlite names itself, such as the
    checkpoint :func:`nnlite.fit` keeps in its ``checkpoint_dir``), where it is refused
    (:func:`nnlite.training.io.atomic_file`).

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
    atomic_write(path, buf.getvalue(), own=own)


class CheckpointError(ValueError):
    """A file that :func:`load` cannot read as an nnlite checkpoint: truncated, empty, not a zip archive, an
    ``.npy`` file, a member missing, an array of another dtype or shape than the spec says, an unknown format.
    The message names the file and what is wrong. A ``ValueError``, so code that caught those keeps working."""


#: The ``"format"`` versions of the spec that :func:`load` reads.
FORMATS = (1,)


def load(path: str | os.PathLike, *, rule: Rule | None = None) -> Sequential:
    """Load a network saved by :func:`save`.

    With ``rule`` (a new rule of the saved kind, e.g. ``KP(lr, weight_decay)``), the saved rule state is
    restored into it, bound to the loaded network; a checkpoint saved without a rule has nothing to restore,
    and a rule of another kind is refused.

    Raises
    ------
    FileNotFoundError
        Nothing is at ``path``.
    CheckpointError
        (a ``ValueError``) The file is not a checkpoint that this nnlite wrote: a folder or special file, empty,
        an ``.npy`` file, not a zip archive, truncated or corrupt, a member missing, an object (pickled) array
        (nothing is ever unpickled), an array whose dtype differs from its layer's stated dtype or whose shape
        differs from what the spec builds, NaN/inf parameters or a negative running variance, an unknown
        ``"format"`` (:data:`FORMATS`), a malformed spec, or a rule state that does not fit. Every member's
        ``.npy`` header is checked before its data is read.
    """
    path = os.fspath(path)
    _check_file(path)
    try:
        with zipfile.ZipFile(path) as zf:
            return _load(zf, path, rule)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise CheckpointError(f"{path}: not a readable .npz checkpoint: truncated or corrupt ({exc})") from None


def read_extra(
    path: str | os.PathLike, accept: Callable[[str, tuple[int, ...], np.dtype], bool]
) -> dict[str, np.ndarray]:
    """The ``extra.<name>`` arrays that :func:`save` stored, as ``{name: array}``, the file checked as by :func:`load`.

    Every member's ``.npy`` header is read and checked against the member's real size first; then
    ``accept(name, shape, dtype)`` says whether to read it (True), skip it (False) or refuse the file (raise
    ``ValueError``), so that the caller, who knows what sizes are sensible, decides before any data is read.
    Raises ``FileNotFoundError`` or :class:`CheckpointError`.
    """
    path = os.fspath(path)
    _check_file(path)
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            keys = [n[: -len(".npy")] for n in zf.namelist() if n.startswith("extra.") and n.endswith(".npy")]
            wanted = []
            for key in keys:
                shape, dtype = _header(zf, path, key)
                try:
                    if accept(key[len("extra.") :], shape, dtype):
                        wanted.append(key)
                except ValueError as exc:
                    raise CheckpointError(f"{path}: {exc}") from None
            for key in wanted:
                out[key[len("extra.") :]] = _read(zf, path, key)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise CheckpointError(f"{path}: not a readable .npz checkpoint: truncated or corrupt ({exc})") from None
    return out


def _check_file(path: str) -> None:
    st = os.stat(path)  # FileNotFoundError when nothing is there
    if stat.S_ISDIR(st.st_mode):
        raise CheckpointError(f"{path} is a folder, not a checkpoint file")
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"{path} is not a regular file (a device, FIFO or socket); not reading it")
    with open(path, "rb") as fh:
        head = fh.read(6)
    if not head:
        raise CheckpointError(f"{path} is empty (0 bytes), not a checkpoint")
    if head == b"\x93NUMPY":
        raise CheckpointError(f"{path} is an .npy file (one array), not an .npz checkpoint written by nnlite.save")
    if not head.startswith(b"PK"):
        raise CheckpointError(f"{path} is not an .npz checkpoint (not a zip archive: it starts with {head!r})")


def _header(zf: zipfile.ZipFile, path: str, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of member ``key`` from its ``.npy`` header, checked against the member's size."""
    from ..data.npz import member_header

    if key + ".npy" not in zf.NameToInfo:
        raise CheckpointError(f"{path}: the checkpoint lacks {key}; it is incomplete or not written by nnlite.save")
    try:
        return member_header(zf, path, key)
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None


def _read(zf: zipfile.ZipFile, path: str, key: str) -> np.ndarray:
    """Member ``key`` (its header already checked), never unpickled."""
    with zf.open(key + ".npy") as fp:
        return np.lib.format.read_array(fp, allow_pickle=False)


def _read_spec(zf: zipfile.ZipFile, path: str) -> dict:
    shape, dtype = _header(zf, path, "__spec__")
    if dtype.kind != "U" or shape != ():
        raise CheckpointError(f"{path}: __spec__ must be one JSON string, got {dtype} of shape {shape}")
    try:
        spec = json.loads(str(_read(zf, path, "__spec__")))
    except ValueError as exc:
        raise CheckpointError(f"{path}: __spec__ is not valid JSON ({exc})") from None
    if not isinstance(spec, dict):
        raise CheckpointError(f"{path}: __spec__ must be a JSON object, got {type(spec).__name__}")
    fmt = spec.get("format")
    if isinstance(fmt, bool) or fmt not in FORMATS:
        raise CheckpointError(
            f"{path}: checkpoint format {fmt!r} is not one this nnlite reads ({', '.join(map(str, FORMATS))}); "
            "it was written by another version"
        )
    shape_in, layers = spec.get("input_shape"), spec.get("layers")
    if not isinstance(shape_in, list) or not all(type(s) is int and s > 0 for s in shape_in):
        raise CheckpointError(f"{path}: input_shape must be a list of positive ints, got {shape_in!r}")
    if not isinstance(layers, list) or not layers:
        raise CheckpointError(f"{path}: layers must be a non-empty list, got {type(layers).__name__}")
    for i, ls in enumerate(layers):
        if not (isinstance(ls, dict) and isinstance(ls.get("type"), str) and isinstance(ls.get("config"), dict)):
            raise CheckpointError(f"{path}: layer {i} must be an object with a string 'type' and a 'config' object")
    frozen = spec.get("frozen_units", {})
    if not isinstance(frozen, dict) or not all(
        k.isdigit() and isinstance(v, list) and all(type(u) is int for u in v) for k, v in frozen.items()
    ):
        raise CheckpointError(f"{path}: frozen_units must map block numbers to lists of unit indices")
    if not isinstance(spec.get("rule", ""), str):
        raise CheckpointError(f"{path}: rule must be a string (the rule's repr)")
    return spec


def _check_arrays(
    zf: zipfile.ZipFile, path: str, spec: dict, classes: list[type[Layer]]
) -> list[dict[str, tuple[int, ...]]]:
    """Every array the spec's layers hold is in the archive with the shape the spec builds and the layer's stated
    dtype, read from its ``.npy`` header; returns each layer's array shapes by name. Before any layer is built:
    a spec cannot ask for more than the file holds."""
    from .._validation import float_dtype

    names = []
    for i, (ls, cls) in enumerate(zip(spec["layers"], classes)):
        what = f"{path}: layer {i} ({ls['type']})"
        try:
            shapes = cls.array_shapes(ls["config"])
            dtype = float_dtype(ls["config"].get("dtype", "float32"), "dtype") if shapes else None
        except (ValueError, TypeError) as exc:
            raise CheckpointError(f"{what}: bad configuration: {exc}") from None
        for name, shape in shapes.items():
            stored, stored_dtype = _header(zf, path, f"layer{i}.{name}")
            if stored != tuple(shape):
                raise CheckpointError(
                    f"{what} {name} has shape {stored} in the file, but its configuration needs {tuple(shape)}"
                )
            if stored_dtype != dtype:
                raise CheckpointError(f"{what} {name} is {stored_dtype} in the file, but the layer is {dtype}")
        names.append(shapes)
    return names


def _load(zf: zipfile.ZipFile, path: str, rule: Rule | None) -> Sequential:
    from .. import layers as L
    from ..network import Sequential

    spec = _read_spec(zf, path)
    classes = []
    for ls in spec["layers"]:  # a layer's declared spec name; a class name in checkpoints of older nnlites
        cls = L.LIST_LAYERS.get(ls["type"]) or getattr(L, ls["type"], None)
        if cls is None or not isinstance(cls, type) or not issubclass(cls, L.Layer):
            raise CheckpointError(f"{path}: unknown layer type {ls['type']!r} in the checkpoint")
        classes.append(cls)
    arrays = _check_arrays(zf, path, spec, classes)
    layers = []
    for i, (ls, cls, names) in enumerate(zip(spec["layers"], classes, arrays)):
        what = f"{path}: layer {i} ({ls['type']})"
        try:
            layer = _build_undrawn(cls, ls["config"])
        except (ValueError, TypeError) as exc:
            raise CheckpointError(f"{what}: bad configuration: {exc}") from None
        for name in names:
            kind, k = name.split(".", 1)
            a = _read(zf, path, f"layer{i}.{name}")
            n_bad = a.size - int(np.count_nonzero(np.isfinite(a)))
            if n_bad:
                raise CheckpointError(f"{what} {name} holds {n_bad} NaN/inf values; the network would predict NaN")
            if k == "running_var" and (a < 0).any():
                raise CheckpointError(f"{what} {name} holds negative variances")
            (layer.params if kind == "param" else layer.buffers)[k][...] = a  # type: ignore[attr-defined]
        layers.append(layer)
    try:
        net = Sequential(layers, input_shape=tuple(spec["input_shape"]))
        for k, frozen in spec.get("frozen_units", {}).items():
            net.set_frozen_units(int(k), frozen)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: the spec does not describe a network: {exc}") from None
    if rule is not None:
        if "rule" not in spec:
            raise CheckpointError(f"{path}: the checkpoint holds no rule state to restore")
        saved = spec["rule"].split("(", 1)[0]
        if saved != type(rule).__name__:
            raise CheckpointError(
                f"{path}: the checkpoint holds the state of a {saved}, not of a {type(rule).__name__}"
            )
        rule.setup(net)
        keys = [n.removesuffix(".npy") for n in zf.namelist() if n.startswith("rule.") and n.endswith(".npy")]
        for key in keys:
            _header(zf, path, key)  # no object arrays, sizes as the headers say
        try:
            rule.load_state({key[len("rule.") :]: _read(zf, path, key) for key in keys})
        except (ValueError, TypeError, KeyError) as exc:
            raise CheckpointError(f"{path}: the {saved} state does not fit: {exc}") from None
    return net


def _build_undrawn(cls: type[Layer], config: dict[str, Any]) -> Layer:
    """``cls.from_config(config)`` without drawing random weights that the file's arrays replace at once: a weight
    layer is built with ``init="zeros"`` (lazily zeroed pages) and then given back its own scheme's name."""
    if not isinstance(config, dict) or "init" not in config:
        return cls.from_config(config)
    from ..layers.base import check_init

    check_init(config["init"])
    layer = cls.from_config({**config, "init": "zeros"})
    layer.init = config["init"]  # type: ignore[attr-defined]
    return layer


def _spec(net: Sequential) -> dict:
    return {
        "format": 1,
        "input_shape": list(net.input_shape),
        "layers": [{"type": _type_name(layer), "config": layer.config()} for layer in net.layers],
        "frozen_units": {str(k): v for k, v in net.frozen_units.items()},
    }


def _type_name(layer: Any) -> str:
    """A layer's type in a checkpoint: the name its class declares for layers lists (``"dense"``,
    :class:`nnlite.layers.LayerSpec`), so checkpoints, layers lists and the builders share one vocabulary; the
    class name for a layer that declares none."""
    from .. import layers as L

    spec = getattr(type(layer), "spec", None)
    if spec is not None and L.LIST_LAYERS.get(spec.name) is type(layer):
        return str(spec.name)
    return type(layer).__name__
