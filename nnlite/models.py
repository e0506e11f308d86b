"""Network builders: :func:`mlp` and :func:`cnn` (Launay et al.'s Table 4 network)."""

from __future__ import annotations

import inspect
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ._validation import SeedLike, as_generator, positive_int, probability
from .layers import (
    LIST_LAYERS,
    BatchNorm,
    Conv2d,
    Dense,
    Dropout,
    Flatten,
    Identity,
    Layer,
    MaxPool2d,
    activation_factory,
)
from .layers.base import check_init
from .network import Sequential

__all__ = ["LAYER_TYPES", "check_layer_entries", "cnn", "from_layers", "mlp"]


def _activation(activation: str | Callable[[], Layer]) -> Layer:
    return activation_factory(activation)()


def mlp(
    sizes: Sequence[int],
    activation: str | Callable[[], Layer] = "tanh",
    *,
    init: str = "he",
    bias: bool = True,
    dtype: DTypeLike = np.float32,
    seed: SeedLike = None,
    dropout: float = 0.0,
    input_dropout: float = 0.0,
    batch_norm: bool = False,
) -> Sequential:
    """A multilayer perceptron: Dense blocks with an activation, and a Dense output layer without one.

    Each hidden block is ``Dense -> [Dropout(dropout)] -> activation -> [BatchNorm]`` (the order of Launay et
    al.'s public code: Linear, Dropout, activation, BatchNorm1d); ``input_dropout > 0`` puts a
    ``Dropout(input_dropout)`` before the first Dense (a parameter-free prefix). Launay et al.'s Table 2 uses
    ``input_dropout=0.1`` with ``dropout`` 0.1 or 0.5 on every hidden layer.

    Parameters
    ----------
    sizes : list of int
        ``[D_in, hidden..., C]``, e.g. ``[784, 800, 800, 800, 10]``.
    activation : str or callable
        "tanh", "sigmoid", "relu", "leaky_relu" (slope 0.01), "leaky_relu:-0.5", "abs", "identity", or a
        factory returning a new Layer.
    init, bias, dtype
        Passed to every :class:`Dense`.
    seed : int, Generator or None
        Seeds the initial weights, then the dropout layers' Generators. The dropout seeds are drawn after
        every weight, so the weights are the same with dropout on or off.
    dropout : float
        Drop probability in [0, 1) after every hidden Dense (0: no Dropout layers).
    input_dropout : float
        Drop probability in [0, 1) on the input (0: none).
    batch_norm : bool
        Batch normalisation after every hidden activation; its ``gamma``/``beta`` train with the block.

    Returns
    -------
    Sequential
        Input (N, D_in), output (N, C).

    Notes
    -----
    Hidden block k: ``h_k = BN(f(Dropout(h_{k-1} @ W_k.T + b_k)))``, with ``h_0 = Dropout(x)``; the output is
    ``h_{K-1} @ W_K.T + b_K``.
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least the input and output sizes, got {sizes}")
    dropout = probability(dropout, "dropout")
    input_dropout = probability(input_dropout, "input_dropout")
    rng = as_generator(seed)
    dense = [Dense(a, b, init=init, bias=bias, dtype=dtype, rng=rng) for a, b in itertools.pairwise(sizes)]
    layers: list[Layer] = []
    if input_dropout > 0:
        layers.append(Dropout(input_dropout, seed=int(rng.integers(2**31))))
    for i, layer in enumerate(dense):
        layers.append(layer)
        if i == len(dense) - 1:
            break
        if dropout > 0:
            layers.append(Dropout(dropout, seed=int(rng.integers(2**31))))
        layers.append(_activation(activation))
        if batch_norm:
            layers.append(BatchNorm(sizes[i + 1], dtype=dtype))
    return Sequential(layers, input_shape=(dense[0].d_in,))


def cnn(
    input_shape: tuple[int, ...] = (1, 28, 28),
    n_classes: int = 10,
    *,
    activation: str | Callable[[], Layer] = "tanh",
    channels: Sequence[int] = (32, 32, 64),
    kernel_size: int = 3,
    batch_norm: bool = False,
    dropout: float = 0.0,
    init: str = "he",
    dtype: DTypeLike = np.float32,
    seed: SeedLike = None,
    input_dropout: float = 0.0,
) -> Sequential:
    """The convolutional network of Launay et al.'s Table 4: three convolutional blocks and a one-layer classifier.

    Each convolutional block is ``Conv2d(k x k, stride 1, padding k // 2)`` (spatial size kept) ``->
    [BatchNorm] -> activation -> MaxPool2d(2) -> [Dropout]``, then ``Flatten -> Dense(n_classes)``. With the
    defaults (channels 32, 32, 64; 3x3 kernels, padding 1) a 28x28x1 image goes 28 -> 14 -> 7 -> 3 (576
    features into the classifier) and a 32x32x3 image 32 -> 16 -> 8 -> 4 (1024 features). The paper gives the
    layer count, He initialisation and tanh; the filter counts, kernel size and pooling are nnlite's choice,
    made for speed (docs/measurements.md gives the measured epoch time and accuracy); the paper-sized variant is one
    argument away: ``cnn(channels=(32, 64, 64), kernel_size=5)``.

    Parameters
    ----------
    input_shape : tuple (C, H, W)
        One sample's shape; H and W must be at least 8 so that three poolings leave a pixel.
    n_classes : int
    activation : str or callable
        As for :func:`mlp` ("tanh", "relu", "leaky_relu:-0.5", ...).
    channels : tuple of int
        Filters of each convolutional layer (any number of layers; three in the paper).
    kernel_size : int
        Odd, so that padding ``k // 2`` keeps the spatial size.
    batch_norm : bool
        Batch normalisation after every convolution (before the activation); its ``gamma``/``beta`` train with
        the block.
    dropout : float
        Drop probability after every pooling (0: no Dropout layers).
    init, dtype
        Passed to every Conv2d and to the Dense classifier.
    seed : int, Generator or None
        Seeds the weights and the dropout masks (the input dropout's seed is drawn after every weight).
    input_dropout : float
        Drop probability in [0, 1) on the input image, before the first convolution (0: none).

    Returns
    -------
    Sequential
    """
    input_shape = tuple(int(s) for s in input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W), got {input_shape}")
    channels = tuple(channels)
    if not channels or any(not isinstance(c, (int, np.integer)) or c < 1 for c in channels):
        raise ValueError(f"channels must be a non-empty sequence of positive integers, got {channels}")
    if not isinstance(kernel_size, (int, np.integer)) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size!r}")
    if not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer, got {n_classes!r}")
    dropout = probability(dropout, "dropout")
    input_dropout = probability(input_dropout, "input_dropout")
    C, H, W = input_shape
    if min(H, W) < 2 ** len(channels):
        raise ValueError(
            f"input {H}x{W} is too small for {len(channels)} poolings by 2 "
            f"(needs at least {2 ** len(channels)} pixels a side)"
        )

    rng = as_generator(seed)
    layers: list[Layer] = []
    c_in = C
    for c_out in channels:
        layers.append(Conv2d(c_in, int(c_out), kernel_size, padding=kernel_size // 2, init=init, dtype=dtype, rng=rng))
        if batch_norm:
            layers.append(BatchNorm(int(c_out), dtype=dtype))
        layers.append(_activation(activation))
        layers.append(MaxPool2d(2))
        if dropout > 0:
            layers.append(Dropout(dropout, seed=int(rng.integers(2**31))))
        c_in = int(c_out)
    layers.append(Flatten())
    net = Sequential(layers, input_shape=input_shape)
    d = int(math.prod(net.layer_shapes[-1]))
    layers.append(Dense(d, int(n_classes), init=init, dtype=dtype, rng=rng))
    if input_dropout > 0:
        layers.insert(0, Dropout(input_dropout, seed=int(rng.integers(2**31))))
    return Sequential(layers, input_shape=input_shape)


# -- networks from a list of layer tables -----------------------------------------------------------------------
#: Every layer table a list may hold: its ``type`` -> (required keys, optional keys with defaults), read from the
#: layers' own :class:`~nnlite.layers.LayerSpec` and constructors (:data:`nnlite.layers.LIST_LAYERS`).
LAYER_TYPES: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    name: cls.spec.entry(cls) for name, cls in LIST_LAYERS.items() if cls.spec is not None
}


def check_layer_entries(entries: Any) -> list[dict[str, Any]]:
    """Check a list of layer tables by itself (types and keys; shapes are checked by :func:`from_layers`).

    Returns a list of new dicts with every optional key filled in; a bad entry is a ``ValueError`` (or
    ``TypeError``) naming it, e.g. ``layers[3] (dense): unknown key 'unit'; it takes units, init, bias``.
    """
    if isinstance(entries, (str, bytes, dict)) or not isinstance(entries, Sequence) or not entries:
        raise TypeError(
            f"layers must be a non-empty list of tables such as {{type = 'dense', units = 10}}, got {entries!r}"
        )
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or "type" not in entry:
            raise TypeError(f"layers[{i}] must be a table with a 'type', got {entry!r}")
        kind = entry["type"]
        if kind not in LAYER_TYPES:
            raise ValueError(f"layers[{i}]: unknown type {kind!r}; a layer is one of {', '.join(LAYER_TYPES)}")
        required, optional = LAYER_TYPES[kind]
        where = f"layers[{i}] ({kind})"
        unknown = sorted(set(entry) - {"type", *required, *optional})
        if unknown:
            takes = ", ".join([*required, *optional]) or "nothing but its type"
            raise ValueError(f"{where}: unknown key {unknown[0]!r}; it takes {takes}")
        missing = [k for k in required if k not in entry]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(repr(k) for k in missing)}")
        full = {"type": kind, **optional, **{k: v for k, v in entry.items() if k != "type"}}
        for key in ("units", "filters", "kernel"):
            if key in full:
                full[key] = positive_int(full[key], f"{where} {key}")
        if kind in ("conv2d", "maxpool2d", "avgpool2d"):
            for key in ("stride", "padding"):
                if full.get(key) is not None:
                    low = 0 if key == "padding" else 1
                    v = full[key]
                    if isinstance(v, bool) or not isinstance(v, int) or v < low:
                        raise ValueError(f"{where}: {key} must be an integer >= {low}, got {v!r}")
        if full.get("init") is not None:
            try:
                check_init(full["init"])
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
        for key in ("bias", "channels"):
            if key in full and not isinstance(full[key], bool):
                raise TypeError(f"{where}: {key} must be true or false, got {full[key]!r}")
        if kind == "dropout":
            full["p"] = probability(full["p"], f"{where} p")
        if kind == "leaky_relu" and (isinstance(full["slope"], bool) or not isinstance(full["slope"], (int, float))):
            raise TypeError(f"{where}: slope must be a number, got {full['slope']!r}")
        out.append(full)
    return out


def _layer_of(entry: dict[str, Any], shape: tuple[int, ...], init: str, dtype: DTypeLike, rng: Any) -> Layer | None:
    """The layer of a checked table on an input of ``shape``, from its class's :class:`LayerSpec` (None for a
    dropout, built later)."""
    cls = LIST_LAYERS[entry["type"]]
    spec = cls.spec
    assert spec is not None
    if spec.input == "flat" and len(shape) != 1:
        raise ValueError(f"needs a flat input, got {shape}: put {{type = 'flatten'}} before it")
    if spec.input == "image" and len(shape) != 3:
        raise ValueError(f"needs an input of shape (C, H, W), got {shape}")
    if cls is Dropout:
        return None
    kwargs = {param: entry[key] for key, param in spec.keys.items()}
    if spec.from_shape is not None:
        kwargs[spec.from_shape] = shape[0]
    params = inspect.signature(cls.__init__).parameters
    if "init" in kwargs and kwargs["init"] is None:
        kwargs["init"] = init
    for name, value in (("dtype", dtype), ("rng", rng)):
        if name in params:
            kwargs[name] = value
    return cls(**kwargs)


def from_layers(
    entries: Sequence[Mapping[str, Any]],
    input_shape: tuple[int, ...],
    *,
    init: str = "he",
    dtype: DTypeLike = np.float32,
    seed: SeedLike = None,
) -> Sequential:
    """A network from a list of layer tables, each layer's input shape inferred from the one before.

    Parameters
    ----------
    entries : list of dict
        Tables with a ``type`` (:data:`LAYER_TYPES`): ``{"type": "conv2d", "filters": 32, "kernel": 5,
        "padding": 2}``, ``{"type": "maxpool2d", "kernel": 3, "stride": 2}``, ``{"type": "dense", "units":
        128}``, ``{"type": "dropout", "p": 0.5, "channels": True}`` (whole channels, PyTorch's ``Dropout2d``),
        ``{"type": "batchnorm"}`` (its features from the input: C of (C, H, W), D of (D,)), ``{"type":
        "flatten"}``, and the activations by name (``{"type": "leaky_relu", "slope": 0.5}``). A weight layer may
        name its own ``init`` (:data:`nnlite.layers.INITS`, e.g. ``"uniform"``, PyTorch's default for weights and
        biases) and ``bias``.
    input_shape : tuple
        One sample's shape, ``(D,)`` or ``(C, H, W)``.
    init : str
        The weight layers' initialisation where an entry names none.
    dtype, seed
        As for :func:`mlp`: the weights are drawn in order from one Generator, then the dropout seeds.

    Raises
    ------
    ValueError, TypeError
        A bad table, or a layer whose input does not fit (``layers[4] (dense): needs a flat input, got (64, 3,
        3): put {type = "flatten"} before it``), naming the entry.
    """
    full = check_layer_entries(entries)
    shape = tuple(int(s) for s in input_shape)
    rng = as_generator(seed)
    layers: list[Layer] = []
    dropouts: list[tuple[int, dict[str, Any]]] = []
    for i, entry in enumerate(full):
        where = f"layers[{i}] ({entry['type']})"
        weight_init = entry.get("init") or init
        try:
            layer = _layer_of(entry, shape, weight_init, dtype, rng)
            if layer is None:  # a dropout: its seed is drawn after every weight
                if entry["channels"] and len(shape) != 3:
                    raise ValueError(f"channels = true drops whole channels of a (C, H, W) input, got {shape}")
                dropouts.append((len(layers), entry))
                layer = Identity()  # replaced below, once every weight is drawn
            shape = tuple(int(s) for s in layer.output_shape(shape))
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"{where}: {exc}") from None
        if min(shape) < 1:
            raise ValueError(f"{where}: its output would be empty, {shape}")
        layers.append(layer)
    for at, entry in dropouts:  # drawn after every weight, as mlp() and cnn() do
        kw = {"channels": True} if entry["channels"] else {}
        layers[at] = Dropout(entry["p"], seed=int(rng.integers(2**31)), **kw)
    if not any(layer.is_weight for layer in layers):
        raise ValueError("layers holds no dense or conv2d layer: a network needs at least one weight layer")
    return Sequential(layers, input_shape=tuple(int(s) for s in input_shape))
