"""Experiments: one run as a pure function of its options (:mod:`~nnlite.experiments.run`), experiment specs,
the sweep runner on Dask, aggregation and the papers' tables."""
