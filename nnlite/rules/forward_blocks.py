"""Forward passes a rule runs itself, through a dense network's own blocks: DTP's and DDTP's noisy and target
activations, PEPITA's modulated pass. Each block is run by :meth:`Sequential.forward_block` (the Dense and
activation layers' ``forward``, which keep no state, with the dropout masks of the training pass whose caches are
given), so the extra passes draw nothing, change nothing of the network, and run as the executor runs blocks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..layers import ACTIVATIONS, Dense, Dropout, Flatten, Layer

if TYPE_CHECKING:
    from ..network import Caches, Sequential

__all__ = ["block_activations", "check_dense_blocks"]

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


def block_activations(net: Sequential, first: int, h: np.ndarray, caches: Caches, stop: int) -> list[np.ndarray]:
    """The outputs of blocks ``first .. stop - 1`` when block ``first`` gets the input ``h``: each block's output
    feeds the next (:meth:`Sequential.forward_block`, which an executor runs its way)."""
    outs = []
    for k in range(first, stop):
        h = net.forward_block(k, h, caches)[0]
        outs.append(h)
    return outs
