"""A reading's input normalisation on any data set: the authors' constants where they published them, otherwise the
data's own per-channel training statistics, for built-in and ``.npz`` data alike.

A spec that normalises its inputs (``input_mean``/``input_std`` in a reading, as Launay et al.'s code does for
CIFAR-10) and runs on another data set (``--dataset``) gets that data set's constants (:func:`constants`), written
into each run's options: the record holds the constants that ran, and the report prints them with where they came
from (:func:`source`), never the spec's unused ones.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["AUTHORS", "constants", "source"]

#: The per-channel constants the authors' code publishes (lightonai/principled-dfa-training, mltools/data.py
#: NORMALIZATION): CIFAR-10 and MNIST.
AUTHORS: dict[str, tuple[list[float], list[float]]] = {
    "cifar10": ([0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010]),
    "mnist": ([0.1307], [0.3081]),
}

_COMPUTED: dict[tuple[str, float], tuple[list[float], list[float]]] = {}


def _key(dataset: str) -> tuple[str, float]:
    """A data set's cache key: a file's by its path and modification time (a replaced file is read again)."""
    try:
        return dataset, os.stat(dataset).st_mtime
    except OSError:
        return dataset, 0.0


def constants(dataset: str, data_root: str | None = None) -> tuple[list[float], list[float]]:
    """``(mean, std)`` per input channel for ``dataset``: the authors' (:data:`AUTHORS`) or, for any other data
    set, the training set's own mean and standard deviation per channel, after the scaling to [0, 1] that
    :func:`nnlite.data.load` applies (one channel for flat data), rounded to 4 decimals as published constants are.

    Raises
    ------
    ValueError, FileNotFoundError
        The data set cannot be loaded (as :func:`nnlite.data.load` says).
    """
    if dataset in AUTHORS:
        mean, std = AUTHORS[dataset]
        return list(mean), list(std)
    key = _key(dataset)
    if key not in _COMPUTED:
        from ..data import load

        ds = load(dataset, root=data_root, flatten=False, download=False)
        x = np.asarray(ds.x_train, dtype=np.float64)
        axes = (0, 2, 3) if x.ndim == 4 else None  # per channel of images; flat data is one channel
        means, stds = np.atleast_1d(x.mean(axis=axes)), np.atleast_1d(x.std(axis=axes))
        _COMPUTED[key] = ([round(float(m), 4) for m in means], [round(float(s), 4) for s in stds])
    mean, std = _COMPUTED[key]
    return list(mean), list(std)


def source(dataset: Any) -> str:
    """Where :func:`constants` takes ``dataset``'s constants from, in a sentence for the report."""
    if dataset in AUTHORS:
        return f"the authors' constants for {dataset} (mltools/data.py NORMALIZATION)"
    return f"{dataset}'s own training set: its per-channel mean and standard deviation (no published constants)"
