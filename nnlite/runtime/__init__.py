"""How nnlite runs, apart from the maths: threads, row-sharded execution, autotuning and the allocator setting.

- :mod:`~nnlite.runtime.threads`: BLAS thread limits cheap enough for every step, the thread count in force, and
  :func:`~nnlite.runtime.threads.parallel_map` (nnlite's one pool of its own threads).
- :mod:`~nnlite.runtime.heap`: :func:`~nnlite.runtime.heap.keep_freed_memory` (glibc's malloc keeps what a step
  frees for the next).

Nothing here imports :mod:`nnlite.rules`, and no rule imports this package: a rule declares its work (blocks that
may run concurrently), the runtime runs it. This ``__init__`` imports nothing, so that the kernels can import
:mod:`~nnlite.runtime.threads` without loading the network-level modules.
"""
