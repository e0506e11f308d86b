"""Which executor runs a training step (:func:`executor`): the policy :func:`nnlite.fit` and ``--threads auto``'s
timed steps share."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..network import Sequential
from .blocks import BlockRunner, ConcurrentBlocks
from .sharded import ShardedNetwork, auto_shards
from .threads import blas_limit, blas_threads_now

__all__ = ["executor"]


@contextlib.contextmanager
def executor(net: Sequential, n: int, blocks: BlockRunner | None = None) -> Iterator[Sequential]:
    """Context of one training step on ``n`` rows: yields the network that runs it.

    - A :class:`~nnlite.runtime.sharded.ShardedNetwork` of :func:`~nnlite.runtime.sharded.auto_shards` shards for
      the BLAS threads in force (a shardable conv net), with BLAS held at one thread inside: a threaded product
      anywhere in the step, the rule's or the loss's, would leave an OpenBLAS thread spinning on a core a shard
      needs. A rule's concurrent blocks then run in turn (the shards use the threads).
    - Else, with ``blocks`` (one :class:`~nnlite.runtime.blocks.BlockRunner` per run, which keeps its timed trial
      from step to step), a :class:`~nnlite.runtime.blocks.ConcurrentBlocks` over ``net``: the blocks a rule
      allows to run concurrently (``DFA(parallel=True)``) run on threads where that is faster.
    - Else ``net`` itself.
    """
    shards = auto_shards(net, n, blas_threads_now())
    if shards > 1:
        with blas_limit(1):
            yield ShardedNetwork(net, shards)
    elif blocks is not None:
        yield ConcurrentBlocks(net, blocks)
    else:
        yield net
