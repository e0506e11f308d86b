"""One run of an experiment: a pure, deterministic function of its options.

A run's options are the fields of :class:`nnlite.config.RunConfig` — ``nnlite train``'s flags by their Python
names (``rule``, ``hidden``, ``lr``, ``no_normalize``, ``bottleneck``, ...), and ``layers`` and
``final_alignment`` (how many test samples the alignment against BP is measured on at the end, default 128, 0 for
none; Launay et al. report it on 128 samples) — with TOML/JSON values (lists for ``hidden``, ``channels`` and
``layers``, ``[K, N]`` for ``bottleneck``, booleans for switches). They are checked by the config itself, the
same checks the command line runs, so a spec row means exactly what the command line means, and an unknown
option or a bad value is an error naming it. ``threads`` defaults to 1 here (one BLAS thread, so that a run
gives the same bits wherever it runs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import __version__
from ..alignment import measure, measure_as_run
from ..config import RunConfig, build, fit_config, options
from ..config import builders as _build
from ..config.schema import ConfigError

__all__ = ["RUN_OPTIONS", "config_of", "run"]

#: Every option a run accepts (the fields of :class:`nnlite.config.RunConfig`).
RUN_OPTIONS: tuple[str, ...] = tuple(sorted(o.name for o in options()))


def config_of(options: Mapping[str, Any]) -> RunConfig:
    """The :class:`~nnlite.config.RunConfig` of ``options`` (``threads`` defaulting to 1).

    Raises
    ------
    ConfigError
        An unknown option (the message lists the known ones), a value of the wrong kind, or a combination the
        command line refuses too, naming the option.
    """
    try:
        return RunConfig.from_mapping({"threads": 1, **options})
    except ConfigError as exc:
        raise ConfigError(f"bad run options {dict(options)!r}: {exc}", exc.fields) from None


# -- data, loaded once per process ------------------------------------------------------------------------------
_DATA: dict[tuple, Any] = {}


def _data(config: RunConfig) -> Any:
    key: tuple[Any, ...] = (config.dataset, config.data_root, config.standardize, _build._flat_input(config))
    key += (config.dtype, config.input_mean, config.input_std)
    if key not in _DATA:
        _DATA.clear()  # one data set at a time per worker: sweeps are grouped by data set
        _DATA[key] = _build.load_data(config.replace(train_size=None))[0]
    ds = _DATA[key]
    return (ds, *_build.subset(config, ds, ds.x_train, ds.y_train))


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def run(options: Mapping[str, Any]) -> dict[str, Any]:
    """Train one network as ``nnlite train`` would with ``options`` and return what was measured.

    Returns
    -------
    dict
        ``options`` (as given), ``rule_repr``, ``n_classes`` (the network's outputs), ``steps`` (the optimizer
        steps of the epochs trained),
        ``test_acc``/``test_loss``/``train_acc``/``train_loss`` of the last epoch, ``stopped`` (None, or where a
        non-finite loss stopped training), ``seconds`` (training time),
        ``history`` (:meth:`nnlite.History.to_dict`), ``final_alignment`` (:class:`nnlite.Alignment` as a dict on
        the first ``final_alignment`` test samples, with ``n_samples`` and ``mode``, the ``alignment_mode``, and
        ``by_mode``: both measurements side by side, ``"one-pass"`` and ``"authors"`` (:func:`nnlite.alignment.
        measure_as_run`); None when 0) and ``nnlite`` (version).

    Notes
    -----
    Deterministic: the same options give the same bits (one BLAS thread unless ``threads`` says otherwise). The
    data set is loaded once per process and kept.
    """
    config = config_of(options)
    built = build(config, _data(config))
    ran: dict[str, Any] = {}
    hist = fit_config(built, record=ran)
    net, rule, test = built.net, built.rule, built.test
    final = None
    n_align = config.final_alignment
    if n_align and hist.stopped is None:
        x, y = test[0][:n_align], test[1][:n_align]
        by_mode = {}  # both measurements, side by side: the configured one is final_alignment
        by_mode["authors"] = measure_as_run(net, rule, built.loss, x, y).to_dict()  # rule eval, BP train mode
        out, caches = net.forward(x, train=True)
        _, e = built.loss(out.reshape(out.shape[0], -1), y)
        by_mode["one-pass"] = measure(net, rule, caches, e, y).to_dict()
        final = {**by_mode[config.alignment_mode], "n_samples": int(x.shape[0]), "mode": config.alignment_mode}
        final["by_mode"] = by_mode
    rule.close()

    def last(xs: list[float]) -> float | None:
        return _finite(float(xs[-1])) if xs else None

    return {
        "options": dict(options),
        "rule_repr": repr(rule),
        "n_classes": int(net.n_outputs),
        "steps": len(hist.epoch) * math.ceil(built.train[0].shape[0] / config.batch_size),
        "test_acc": last(hist.test_acc),
        "best_test_acc": _finite(float(max(hist.test_acc))) if hist.test_acc else None,
        "test_loss": last(hist.test_loss),
        "train_acc": last(hist.train_acc),
        "train_loss": last(hist.train_loss),
        "stopped": hist.stopped,
        "seconds": float(np.sum(hist.seconds)),
        "history": hist.to_dict(),
        "final_alignment": final,
        "blas_threads_chosen": ran.get("blas_threads_chosen"),
        "gemm_chosen": ran.get("gemm_chosen"),
        "nnlite": __version__,
    }
