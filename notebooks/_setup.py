"""The set-up cell every teaching notebook shares: ``from _setup import start, fashion_mnist, key_numbers``.

This is not part of nnlite and holds nothing of the engine: no layer, rule, optimizer, training loop or measurement
(those come from ``nnlite``; ``tests/test_notebooks.py`` checks this file as it checks the notebooks). It does
three chores:

- :func:`start` limits BLAS to one thread (for the small networks of the notebooks one thread is faster than two,
  and the run time stays steady on a shared machine) and puts the checkout's root first on ``sys.path``, so that
  the notebooks import the ``nnlite`` and the ``benchmarks`` beside them (``benchmarks/`` is not installed);
- :func:`fashion_mnist` loads Fashion-MNIST through ``nnlite.data.load`` and draws a seeded training subset;
- :func:`key_numbers` shows a notebook's key results and stores them in a machine-readable output, which
  ``tests/test_notebooks.py`` compares between the committed notebook and a fresh execution, within the tolerance
  given here.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

#: The MIME type of the key-number outputs (a JSON object: ``{"tol": float, "values": {name: number}}``).
KEY_NUMBERS_MIME = "application/vnd.nnlite.key-numbers+json"


def start(blas_threads: int = 1) -> Path:
    """Limit BLAS to ``blas_threads`` threads and put the checkout's root first on ``sys.path``.

    Call it before ``import nnlite``, so that the notebook runs the library of the checkout it sits in (not some
    other installed copy). Returns the root.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(blas_threads, user_api="blas")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return ROOT


def fashion_mnist(
    n_train: int, *, seed: int, images: bool = False, n_test: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardized Fashion-MNIST: a random training subset of ``n_train`` images and the first ``n_test`` test ones.

    Parameters
    ----------
    n_train : int
        Size of the training subset, drawn without replacement with ``numpy.random.default_rng(seed)``.
    seed : int
        Seeds the subset (required: every draw of the notebooks is seeded).
    images : bool
        False: flat (N, 784) vectors standardized per pixel; True: (N, 1, 28, 28) images standardized per channel.
    n_test : int, optional
        How many test images (default all 10 000).

    Returns
    -------
    x, y, xt, yt : float32 inputs and int64 labels of the training subset and of the test set

    Notes
    -----
    Read through ``nnlite.data.load("fashion-mnist")``: Debian's ``dataset-fashion-mnist`` package
    (``/usr/share/datasets/fashion-mnist``), ``$NNLITE_DATA``, the nnlite cache, or a download (see the README).
    """
    import nnlite

    d = nnlite.data.load("fashion-mnist", standardize=True, flatten=not images)
    subset = np.random.default_rng(seed).choice(d.x_train.shape[0], n_train, replace=False)
    n_test = d.x_test.shape[0] if n_test is None else n_test
    return d.x_train[subset], d.y_train[subset], d.x_test[:n_test], d.y_test[:n_test]


def key_numbers(tol: float, **values: float) -> None:
    """Show the key numbers of a result and record them for ``tests/test_notebooks.py``.

    The test executes the notebook afresh and checks that every number recorded here is within ``tol`` (absolute)
    of the committed notebook's, so committed outputs that the current library no longer produces fail CI.
    ``tol=0`` asks for equality (counts, bytes, FLOPs). Timings are never recorded: they vary from run to run.
    """
    from IPython.display import display

    if not (math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    clean = {}
    for name, v in values.items():
        v = float(v) if isinstance(v, (float, np.floating)) else int(v)
        if not math.isfinite(v):
            raise ValueError(f"key number {name} is {v}")
        clean[name] = v
    width = max(len(n) for n in clean)
    text = "\n".join(
        f"{n:<{width}}  {v:.4f}" if isinstance(v, float) else f"{n:<{width}}  {v}" for n, v in clean.items()
    )
    bound = "exact" if tol == 0 else f"± {tol:g}"
    display(
        {KEY_NUMBERS_MIME: {"tol": float(tol), "values": clean}, "text/plain": f"key numbers ({bound}):\n{text}"},
        raw=True,
    )
