"""Forward passes a rule runs itself, through a dense network's own blocks: DTP's and DDTP's noisy and target
activations, PEPITA's modulated pass. Each block is run by its own layers (the Dense and activation layers'
``forward``, which keep no state) with the dropout masks of the training pass whose caches are given (a Dropout
layer's ``carry``), so the extra passes draw nothing and change nothing of the network."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..layers import ACTIVATIONS, Dense, Dropout, Flatten, Layer

if TYPE_CHECKING:
    from ..network import Caches, Sequential

__all__ = ["block_activations", "block_forward", "check_dense_blocks", "prefix_carry"]

_ACTIVATION_TYPES = tuple(ACTIVATIONS.values())


def check_dense_blocks(net: Sequential, who: str) -> list[Layer | None]:
    """Refuse a network that is not a dense one; return each block's activation layer (None: no activation).

    A block must be a Dense layer followed by at most one elementwise activation and any Dropout layers; the
    layers before the first block only Dropout and Flatten (input dropout, flattening).

    Raises
    ------
    ValueError
        Naming the first layer that does not fit and ``who`` (the rule).
    """
    first = net.blocks[0][0]
    for i in range(first):
        if not isinstance(net.layers[i], (Dropout, Flatten)):
            raise ValueError(
                f"{who} runs its own forward passes through dense blocks; layer {i} ({net.layers[i]!r}) before "
                "the first block is not a Dropout or Flatten"
            )
    acts: list[Layer | None] = []
    for k, (s, e) in enumerate(net.blocks):
        if not isinstance(net.layers[s], Dense):
            raise ValueError(
                f"{who} is defined for dense networks only: block {k} starts with {net.layers[s]!r} (layer {s}), "
                "not a Dense layer"
            )
        found = [net.layers[i] for i in range(s + 1, e) if isinstance(net.layers[i], _ACTIVATION_TYPES)]
        for i in range(s + 1, e):
            layer = net.layers[i]
            if not isinstance(layer, (Dropout, *_ACTIVATION_TYPES)):
                raise ValueError(
                    f"{who} runs its own forward passes through dense blocks of Dense, one activation and Dropout; "
                    f"block {k} holds {layer!r} (layer {i})"
                )
        if len(found) > 1:
            raise ValueError(f"{who} needs at most one activation per block; block {k} has {len(found)}")
        acts.append(found[0] if found else None)
    return acts


def prefix_carry(net: Sequential, v: np.ndarray, caches: Caches) -> np.ndarray:
    """``v`` of shape ``(N, *input_shape)`` carried through the layers before the first block (input dropout with
    the pass's mask, flattening): what those linear layers make of it, in the first Dense layer's input space."""
    for i in range(net.blocks[0][0]):
        v = net.layers[i].carry(v, caches[i])
    return v


def block_forward(net: Sequential, k: int, h: np.ndarray, caches: Caches) -> tuple[np.ndarray, list[Any]]:
    """Block k's output for the input ``h`` of shape (N, D_in), and the caches of its layers.

    The Dense and activation layers run their ``forward``; a Dropout layer applies the mask of the pass that
    made ``caches`` (its ``carry``) and keeps that pass's cache, so a backward pass through these caches applies
    the same mask.
    """
    s, e = net.blocks[k]
    out: list[Any] = []
    for i in range(s, e):
        layer = net.layers[i]
        if isinstance(layer, Dropout):
            h, cache = layer.carry(h, caches[i]), caches[i]
        else:
            h, cache = layer.forward(h, True)
        out.append(cache)
    return h, out


def block_activations(net: Sequential, first: int, h: np.ndarray, caches: Caches, stop: int) -> list[np.ndarray]:
    """The outputs of blocks ``first .. stop - 1`` when block ``first`` gets the input ``h``: each block's output
    feeds the next (:func:`block_forward`)."""
    outs = []
    for k in range(first, stop):
        h = block_forward(net, k, h, caches)[0]
        outs.append(h)
    return outs
