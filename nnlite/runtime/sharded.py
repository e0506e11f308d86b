"""Row-sharded execution: a batch as contiguous row shards, one per thread on one-thread BLAS (docs/design.md, "One
training step").

:class:`ShardedNetwork` is an executor over a :class:`~nnlite.network.Sequential`: the same network (the same
layers, parameters and gradient masks, shared, never copied) with the same block API — ``forward``,
``backward_block``, ``carry_block`` and every structural attribute — so a rule given it instead of the network
computes the same thing and never learns that the step was sharded. Its forward pass returns
:class:`ShardedCaches`, which only it reads. The maths stays in the layers: each shard runs the network's own
public passes on its rows, and this module only splits, hands out and joins. The policy by which
:func:`nnlite.fit` chooses it is :func:`auto_shards`, applied by :func:`nnlite.runtime.step.executor`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import as_bool, positive_int
from ..layers import Conv2d
from ..network import Caches, Sequential
from .threads import blas_limit, parallel_map
from .view import NetworkView

__all__ = [
    "MIN_SHARD_ROWS",
    "JoinedOutputs",
    "ShardedCaches",
    "ShardedNetwork",
    "auto_shards",
    "shardable",
]

#: Fewest rows per shard that :func:`nnlite.fit` splits a training batch into (:func:`auto_shards`): below it a
#: shard's products are too small for the threads' hand-off to pay.
MIN_SHARD_ROWS = 16


def shardable(net: Sequential) -> bool:
    """Whether every layer treats a batch's rows independently (``Layer.rows_independent``), so that a batch may
    run as row shards (not BatchNorm, whose statistics couple the rows, nor Dropout, whose draws would change)."""
    return all(layer.rows_independent for layer in net.layers)


def auto_shards(net: Sequential, n: int, threads: int) -> int:
    """The shards :func:`nnlite.fit` runs a training batch of ``n`` rows in with a budget of ``threads`` BLAS
    threads: ``threads`` for a :func:`shardable` network with a convolution, as long as each shard keeps
    :data:`MIN_SHARD_ROWS` rows; else 1 (the whole batch, on threaded BLAS). Why a convolution, with both figures:
    docs/design.md, "One training step" (a conv net's step is mostly work between many small products, a dense net's a
    few large
    products that threaded BLAS splits well)."""
    if threads < 2 or not shardable(net) or not any(isinstance(l, Conv2d) for l in net.layers):
        return 1
    return max(1, min(threads, n // MIN_SHARD_ROWS))


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


class ShardedCaches(Caches):
    """The caches of a :class:`ShardedNetwork`'s forward pass.

    ``parts`` lists ``(start, stop, caches)``: each shard's rows and its network's own :class:`Caches`. As a list,
    entry i holds the shards' caches of layer i (a tuple), read by no one but the executor; ``block_outputs`` and
    ``input_shape`` are the whole batch's, as for any Caches.
    """

    def __init__(self, parts: list[tuple[int, int, Caches]], last: np.ndarray, input_shape: tuple[int, ...]) -> None:
        subs = [sub for _, _, sub in parts]
        per_layer = [tuple(sub[i] for sub in subs) for i in range(len(subs[0]))]
        super().__init__(per_layer, JoinedOutputs([sub.block_outputs for sub in subs], last), input_shape)
        self.parts = parts


def _join(parts: list[Any]) -> Any:
    """The shards' arrays joined along the rows (None when they are None)."""
    return None if parts[0] is None else np.concatenate(parts)


def _sum_grads(parts: list[list[dict[str, np.ndarray]]]) -> list[dict[str, np.ndarray]]:
    """The shards' gradients added up, in shard order (into the first shard's arrays; a product a shard handed
    over unmade is computed first)."""
    from ..backend.lazy import materialize

    total = materialize(parts[0], keep=False)
    for other in parts[1:]:
        materialize(other, keep=False)
        for mine, theirs in zip(total, other):
            for name, g in mine.items():
                g += theirs[name]
    return total


class ShardedNetwork(NetworkView):
    """``net`` run as ``shards`` contiguous row shards of near-equal size, one per thread (the caller's and
    :func:`~nnlite.runtime.threads.parallel_map`'s pool), each through the network's own passes.

    A block's gradients are the shards' added up in shard order: the same gradients as ``net`` up to the order of
    that sum. The caller sets the BLAS limit (one thread: :func:`~nnlite.runtime.step.executor` does). Everything
    but the three passes is ``net``'s own (a :class:`~nnlite.runtime.view.NetworkView`), so a rule bound to
    ``net`` takes the executor as the same network; blocks that a rule would run concurrently run in turn here
    (the shards already use the threads).

    Parameters
    ----------
    net : Sequential
        A :func:`shardable` network.
    shards : int
        At most this many shards (never more than a batch's rows; one shard runs ``net`` itself).

    Raises
    ------
    ValueError
        ``net`` is not :func:`shardable`; ``shards`` is not a positive int.
    """

    def __init__(self, net: Sequential, shards: int) -> None:
        super().__init__(net)
        self.shards = positive_int(shards, "shards")
        if self.shards > 1 and not shardable(net):
            bad = next(l for l in net.layers if not l.rows_independent)
            raise ValueError(
                f"shards={self.shards} needs layers that treat the rows independently, but {bad!r} does not "
                "(BatchNorm's statistics and Dropout's draws couple the rows): use shards=1"
            )

    def _bounds(self, n: int) -> list[tuple[int, int]] | None:
        """The ``(start, stop)`` rows of each shard of a batch of ``n`` (near-equal sizes), or None for one."""
        if self.shards == 1 or n < 2:
            return None
        shards = min(self.shards, n)
        return list(itertools.pairwise([n * j // shards for j in range(shards + 1)]))

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Caches]:
        """:meth:`Sequential.forward` of every shard of ``x``, each in its thread; the output joined, the caches
        kept apart (:class:`ShardedCaches`; a batch of one row, or one shard, gives ``net``'s own Caches)."""
        self.net.check_input(x)
        train = as_bool(train, "train")
        rows = self._bounds(x.shape[0])
        if rows is None:
            return self.net.forward(x, train)
        with blas_limit(1):
            parts = parallel_map(lambda b: self.net.forward(x[b[0] : b[1]], train), rows)
        h = np.concatenate([p[0] for p in parts])
        return h, ShardedCaches([(a, z, p[1]) for (a, z), p in zip(rows, parts)], h, x.shape)

    def backward_block(
        self,
        k: int,
        g: np.ndarray,
        caches: Caches,
        *,
        feedback: np.ndarray | None = None,
        need_dx: bool = True,
        need_delta: bool = True,
    ) -> tuple[np.ndarray | None, list[dict[str, np.ndarray]], np.ndarray | None]:
        """:meth:`Sequential.backward_block` on the shards of the forward pass; ``delta`` is joined only when
        ``need_delta`` (else None)."""
        if not isinstance(caches, ShardedCaches):
            return self.net.backward_block(k, g, caches, feedback=feedback, need_dx=need_dx, need_delta=need_delta)
        k = self._block(k)
        shape = (caches.input_shape[0], *self.block_shapes[k])
        if getattr(g, "shape", None) != shape:  # a shard's slice of a larger array would be taken silently
            raise ValueError(
                f"backward_block: g has shape {getattr(g, 'shape', type(g).__name__)}, but block {k}'s output "
                f"for this batch has shape {shape}"
            )

        def shard(part: tuple[int, int, Caches]) -> tuple:
            a, z, sub = part
            return self.net.backward_block(k, g[a:z], sub, feedback=feedback, need_dx=need_dx)

        with blas_limit(1):
            parts = parallel_map(shard, caches.parts)
        delta = _join([p[2] for p in parts]) if need_delta else None
        return _join([p[0] for p in parts]), _sum_grads([p[1] for p in parts]), delta

    def _rows_of(self, what: str, v: Any, caches: ShardedCaches) -> None:
        if not isinstance(v, np.ndarray) or v.shape[:1] != caches.input_shape[:1]:
            raise ValueError(
                f"{what}: got shape {getattr(v, 'shape', type(v).__name__)}, but the sharded forward pass had "
                f"{caches.input_shape[0]} rows"
            )

    def forward_block(self, k: int, h: np.ndarray, caches: Caches) -> tuple[np.ndarray, Caches]:
        """:meth:`Sequential.forward_block` on the shards of the forward pass: the output joined, the caches
        kept apart (a :class:`ShardedCaches` of the shards' own)."""
        if not isinstance(caches, ShardedCaches):
            return self.net.forward_block(k, h, caches)
        self._rows_of("forward_block: h", h, caches)

        def shard(part: tuple[int, int, Caches]) -> tuple[np.ndarray, Caches]:
            a, z, sub = part
            return self.net.forward_block(k, h[a:z], sub)

        with blas_limit(1):
            parts = parallel_map(shard, caches.parts)
        out = np.concatenate([p[0] for p in parts])
        subs = [(a, z, p[1]) for (a, z, _), p in zip(caches.parts, parts)]
        return out, ShardedCaches(subs, caches.block_outputs[-1], caches.input_shape)

    def update_block(self, k: int, delta: np.ndarray, caches: Caches) -> list[dict[str, np.ndarray]]:
        """:meth:`Sequential.update_block` on the shards, their gradients added up in shard order."""
        if not isinstance(caches, ShardedCaches):
            return self.net.update_block(k, delta, caches)
        self._rows_of("update_block: delta", delta, caches)

        def shard(part: tuple[int, int, Caches]) -> list[dict[str, np.ndarray]]:
            a, z, sub = part
            return self.net.update_block(k, delta[a:z], sub)

        with blas_limit(1):
            return _sum_grads(parallel_map(shard, caches.parts))

    def block_input(self, k: int, caches: Caches) -> np.ndarray:
        """:meth:`Sequential.block_input`, the shards' joined."""
        if not isinstance(caches, ShardedCaches):
            return self.net.block_input(k, caches)
        return np.concatenate([self.net.block_input(k, sub) for _, _, sub in caches.parts])

    def carry_prefix(self, v: np.ndarray, caches: Caches) -> np.ndarray:
        """:meth:`Sequential.carry_prefix` on the shards of the forward pass."""
        if not isinstance(caches, ShardedCaches):
            return self.net.carry_prefix(v, caches)
        self._rows_of("carry_prefix: v", v, caches)
        return np.concatenate([self.net.carry_prefix(v[a:z], sub) for a, z, sub in caches.parts])

    def carry_block(self, k: int, v: np.ndarray, caches: Caches, *, include_weight: bool = True) -> np.ndarray:
        """:meth:`Sequential.carry_block` on the shards of the forward pass."""
        if not isinstance(caches, ShardedCaches):
            return self.net.carry_block(k, v, caches, include_weight=include_weight)
        if not isinstance(v, np.ndarray) or v.shape[:1] != caches.input_shape[:1]:
            raise ValueError(
                f"carry_block: v has shape {getattr(v, 'shape', type(v).__name__)}, but the sharded forward "
                f"pass had {caches.input_shape[0]} rows"
            )

        def shard(part: tuple[int, int, Caches]) -> np.ndarray:
            a, z, sub = part
            return self.net.carry_block(k, v[a:z], sub, include_weight=include_weight)

        with blas_limit(1):
            return np.concatenate(parallel_map(shard, caches.parts))

    def __repr__(self) -> str:
        return f"ShardedNetwork({self.net!r}, shards={self.shards})"
