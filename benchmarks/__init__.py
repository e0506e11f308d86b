"""nnlite's benchmarks: the training-step suite (``python -m benchmarks``, ``nnlite bench``) and per-topic scripts.

Numba reads ``NUMBA_NUM_THREADS`` once, at import; the suite sets it here (to the largest thread count it measures,
2 unless already set) before anything imports Numba, and then selects 1 or 2 threads per measurement with
``numba.set_num_threads`` next to threadpoolctl's BLAS limit.
"""

import os
import sys

if "numba" not in sys.modules:
    os.environ.setdefault("NUMBA_NUM_THREADS", str(min(2, os.cpu_count() or 1)))
