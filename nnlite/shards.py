"""Sharded steps: a batch as row shards, one per thread on one-thread BLAS (:meth:`nnlite.Sequential.forward`'s
``shards``; docs/design.md §3). The maths stays in the layers: each shard runs the same forward and backward
passes on its rows, and this module only splits, hands out and joins.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .runtime.threads import blas_limit, blas_threads_now, parallel_map
from ._validation import positive_int

if TYPE_CHECKING:
    from .network import Caches, Sequential

__all__ = ["MIN_SHARD_ROWS", "JoinedOutputs", "auto_shards", "bounds", "join", "step", "sum_grads"]

#: Fewest rows per shard that :func:`nnlite.fit` splits a training batch into (:meth:`Sequential.auto_shards`):
#: below it a shard's products are too small for the threads' hand-off to pay.
MIN_SHARD_ROWS = 16


class JoinedOutputs(Sequence):
    """The block outputs of a sharded forward pass: block k's is the shards' joined along the rows, made on first
    access (most rules never read a hidden block's output), then kept."""

    def __init__(self, parts: list[Sequence[np.ndarray]], last: np.ndarray) -> None:
        self._parts = parts
        self._joined: list[np.ndarray | None] = [None] * (len(parts[0]) - 1) + [last]

    def __len__(self) -> int:
        return len(self._joined)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self[i] for i in range(len(self))[k]]
        out = self._joined[k]
        if out is None:
            out = self._joined[k] = np.concatenate([p[k] for p in self._parts])
        return out


def join(parts: list[Any]) -> Any:
    """The shards' arrays joined along the rows (None when they are None)."""
    return None if parts[0] is None else np.concatenate(parts)


def sum_grads(parts: list[list[dict[str, np.ndarray]]]) -> list[dict[str, np.ndarray]]:
    """The shards' gradients added up, in shard order (into the first shard's arrays)."""
    total = parts[0]
    for other in parts[1:]:
        for mine, theirs in zip(total, other):
            for name, g in mine.items():
                g += theirs[name]
    return total


def auto_shards(net: Sequential, n: int, threads: int) -> int:
    """:meth:`nnlite.Sequential.auto_shards`."""
    from .layers import Conv2d

    if threads < 2 or not net.shardable or not any(isinstance(l, Conv2d) for l in net.layers):
        return 1
    return max(1, min(threads, n // MIN_SHARD_ROWS))


@contextlib.contextmanager
def step(net: Sequential, n: int) -> Iterator[int]:
    """:meth:`nnlite.Sequential.sharded_step`."""
    shards = auto_shards(net, n, blas_threads_now())
    if shards == 1:
        yield 1
        return
    with blas_limit(1):
        yield shards


def bounds(net: Sequential, n: int, shards: Any) -> list[tuple[int, int]] | None:
    """The ``(start, stop)`` rows of each shard of a batch of ``n`` (near-equal sizes), or None for one."""
    shards = positive_int(shards, "shards")
    if shards == 1 or n < 2:
        return None
    if not net.shardable:
        bad = next(l for l in net.layers if not l.rows_independent)
        raise ValueError(
            f"shards={shards} needs layers that treat the rows independently, but {bad!r} does not "
            "(BatchNorm's statistics and Dropout's draws couple the rows): use shards=1"
        )
    shards = min(shards, n)
    cuts = [n * j // shards for j in range(shards + 1)]
    return list(itertools.pairwise(cuts))


def forward(net: Sequential, x: np.ndarray, train: bool, rows: list[tuple[int, int]]) -> tuple[np.ndarray, Caches]:
    """The forward pass of every shard of ``x``, each in its thread; the output joined, the caches kept apart."""
    from .network import Caches

    with blas_limit(1):
        parts = parallel_map(lambda b: net._forward_rows(x[b[0] : b[1]], train), rows)
    h = np.concatenate([p[0] for p in parts])
    subs = [p[1] for p in parts]
    per_layer = [tuple(sub[i] for sub in subs) for i in range(len(net.layers))]
    outputs = JoinedOutputs([sub.block_outputs for sub in subs], h)
    return h, Caches(per_layer, outputs, x.shape, [(a, z, sub) for (a, z), sub in zip(rows, subs)])


def backward_block(
    net: Sequential,
    k: int,
    g: np.ndarray,
    caches: Caches,
    feedback: np.ndarray | None,
    need_dx: bool,
    need_delta: bool,
) -> tuple[np.ndarray | None, list[dict[str, np.ndarray]], np.ndarray | None]:
    """:meth:`nnlite.Sequential.backward_block` on the shards of a sharded forward pass."""
    shape = (caches.input_shape[0], *net.block_shapes[k])
    if getattr(g, "shape", None) != shape:  # a shard's slice of a larger array would be taken silently
        raise ValueError(
            f"backward_block: g has shape {getattr(g, 'shape', type(g).__name__)}, but block {k}'s output "
            f"for this batch has shape {shape}"
        )

    def shard(part: tuple[int, int, Caches]) -> tuple:
        a, z, sub = part
        return net._backward_block_rows(k, g[a:z], sub, feedback, need_dx)

    assert caches.shards is not None
    with blas_limit(1):
        parts = parallel_map(shard, caches.shards)
    dx = join([p[0] for p in parts])
    delta = join([p[2] for p in parts]) if need_delta else None
    return dx, sum_grads([p[1] for p in parts]), delta


def carry_block(net: Sequential, k: int, v: np.ndarray, caches: Caches, include_weight: bool) -> np.ndarray:
    """:meth:`nnlite.Sequential.carry_block` on the shards of a sharded forward pass."""
    if not isinstance(v, np.ndarray) or v.shape[:1] != caches.input_shape[:1]:
        raise ValueError(
            f"carry_block: v has shape {getattr(v, 'shape', type(v).__name__)}, but the sharded forward "
            f"pass had {caches.input_shape[0]} rows"
        )

    def shard(part: tuple[int, int, Caches]) -> np.ndarray:
        a, z, sub = part
        return net.carry_block(k, v[a:z], sub, include_weight=include_weight)

    assert caches.shards is not None
    with blas_limit(1):
        return np.concatenate(parallel_map(shard, caches.shards))
