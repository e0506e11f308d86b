"""An executor's view of a network: the same network, run another way.

:class:`NetworkView` is a :class:`~nnlite.network.Sequential` whose structure (layers, blocks, shapes, dtype and
gradient masks) is another network's, shared and never copied, and whose passes are that network's until a
subclass overrides them (:class:`~nnlite.runtime.sharded.ShardedNetwork`: row shards on threads;
:class:`~nnlite.runtime.blocks.ConcurrentBlocks`: independent block updates on threads). A rule given a view
computes what it computes on the network itself: it never learns how the step was run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from ..network import Caches, Sequential

__all__ = ["NetworkView"]

_R = TypeVar("_R")


def _shared(name: str) -> Any:
    def get(self: NetworkView) -> Any:
        return getattr(self.net, name)

    return property(get, doc=f"The network's ``{name}`` (shared).")


class NetworkView(Sequential):
    """``net`` itself, through an executor (see the module).

    Parameters
    ----------
    net : Sequential
        The network (a view's network when given a view).
    """

    layers = _shared("layers")
    blocks = _shared("blocks")
    input_shape = _shared("input_shape")
    layer_shapes = _shared("layer_shapes")
    block_shapes = _shared("block_shapes")
    dtype = _shared("dtype")
    grad_masks = _shared("grad_masks")
    weight_masks = _shared("weight_masks")

    def __init__(self, net: Sequential) -> None:  # no super().__init__: the network is net's
        if not isinstance(net, Sequential):
            raise TypeError(f"net must be a Sequential, got {type(net).__name__}")
        self.net: Sequential = net.net if isinstance(net, NetworkView) else net

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Caches]:
        return self.net.forward(x, train)

    def backward_block(self, *args: Any, **kwargs: Any) -> tuple[np.ndarray | None, list[dict[str, np.ndarray]], Any]:
        """The network's :meth:`~nnlite.network.Sequential.backward_block`, with the same arguments."""
        return self.net.backward_block(*args, **kwargs)

    def carry_block(self, k: int, v: np.ndarray, caches: Caches, *, include_weight: bool = True) -> np.ndarray:
        return self.net.carry_block(k, v, caches, include_weight=include_weight)

    def run_blocks(self, updates: Sequence[Callable[[], _R]], *, concurrent: bool = False) -> list[_R]:
        return self.net.run_blocks(updates, concurrent=concurrent)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.net!r})"
