"""The matrix-product provider in force, and the choice of one by measurement.

Every dense and im2col product of nnlite goes through :func:`matmul` / :func:`gemm`, on the provider in force
(:func:`current`; NumPy's own BLAS unless a run or ``with using(name):`` says otherwise). A run's provider is
decided once, before its first step (:func:`resolve`): an explicit name (``--gemm NAME``, ``gemm=`` in a spec)
wins, then the environment variable ``NNLITE_GEMM``, then ``auto``: :func:`choose` times the network's own
products on every installed provider at the run's thread count and keeps the fastest, and keeps NumPy's BLAS unless
another is measured at least :data:`MARGIN` faster, so the choice never picks what it did not measure faster. The
choice is cached per machine, thread count, dtype, shapes and library versions (``~/.cache/nnlite/gemm.json``), so
a machine measures once; the run records the provider's name and version, and a resume applies the recorded one.

Two providers give the same products up to rounding (the equality tests check every layout the layers use); one
provider at one thread count gives the same run bit for bit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import statistics
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from . import blas
from .blas import KNOWN, Provider, ProviderUnavailable

__all__ = [
    "ENV",
    "KNOWN",
    "MARGIN",
    "Provider",
    "ProviderUnavailable",
    "available",
    "choose",
    "current",
    "decide",
    "gemm",
    "matmul",
    "resolve",
    "run_provider",
    "step_shapes",
    "set_current",
    "using",
]

#: The environment variable that forces a provider (a name of :data:`KNOWN`) where a run leaves it at ``auto``.
ENV = "NNLITE_GEMM"
#: Another provider replaces NumPy's BLAS only when its median time is at most this fraction of NumPy's.
MARGIN = 0.97

_CURRENT: list[Provider] = []


def current() -> Provider:
    """The provider products run on now (NumPy's BLAS unless set)."""
    if not _CURRENT:
        _CURRENT.append(blas.load("numpy"))
    return _CURRENT[-1]


def set_current(provider: Provider | str) -> Provider:
    """Make ``provider`` (or the one named so) the process's provider; returns it."""
    p = blas.load(provider) if isinstance(provider, str) else provider
    current()
    _CURRENT[0] = p
    del _CURRENT[1:]
    return p


@contextlib.contextmanager
def using(provider: Provider | str) -> Iterator[Provider]:
    """Run the block's products on ``provider`` (a :class:`Provider` or a name); the previous one after it."""
    p = blas.load(provider) if isinstance(provider, str) else provider
    current()
    _CURRENT.append(p)
    try:
        yield p
    finally:
        _CURRENT.pop()


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` on the provider in force (:meth:`Provider.matmul`)."""
    return current().matmul(a, b, out)


def gemm(a: np.ndarray, b: np.ndarray, c: np.ndarray, *, alpha: float = 1.0, beta: float = 0.0) -> None:
    """``c <- alpha a @ b + beta c`` in place on the provider in force (:meth:`Provider.gemm`)."""
    current().gemm(a, b, c, alpha=alpha, beta=beta)


def available() -> list[str]:
    """The providers installed here (``numpy`` always), in :data:`KNOWN`'s order."""
    out = []
    for name in KNOWN:
        try:
            blas.load(name)
        except (ProviderUnavailable, OSError, AttributeError):
            continue
        out.append(name)
    return out


def _cache_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "nnlite", "gemm.json")


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return "unknown"
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown")
    flags = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("flags")), "")
    return f"{model} [{hashlib.sha256(flags.encode()).hexdigest()[:12]}]"


def _key(shapes: Sequence[tuple[int, int, int, bool, bool]], dtype: Any, threads: int, names: list[str]) -> str:
    versions = [f"{n}={blas.load(n).version}" for n in names]
    text = json.dumps([_cpu(), int(threads), np.dtype(dtype).name, sorted(map(list, shapes)), versions])
    return hashlib.sha256(text.encode()).hexdigest()


def _read_cache() -> dict[str, Any]:
    from ..training.io import read_regular

    try:
        data = json.loads(read_regular(_cache_path(), 1 << 20))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(key: str, entry: dict[str, Any]) -> None:
    from ..training.io import atomic_file

    data = _read_cache()
    data[key] = entry
    try:
        with atomic_file(_cache_path(), own=True) as f:
            f.write(json.dumps(data, indent=1, sort_keys=True).encode())
    except OSError:
        pass  # a cache that cannot be written is measured again next time


def _operands(shape: tuple[int, int, int, bool, bool], dtype: Any, rng: np.random.Generator) -> tuple[Any, ...]:
    """``(a, b, c)`` for one product ``c (M, N) = op(a) @ op(b)`` of inner size K, ``op`` a transpose when its flag is
    set (as the layers pass ``W.T`` and ``x.T``)."""
    M, N, K, ta, tb = shape
    a = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    return (a.T if ta else a), (b.T if tb else b), np.empty((M, N), dtype)


def choose(
    shapes: Sequence[tuple[int, int, int, bool, bool]],
    dtype: Any = np.float32,
    threads: int = 1,
    *,
    candidates: Sequence[str] | None = None,
    rounds: int = 7,
    cache: bool = True,
) -> tuple[str, dict[str, float]]:
    """The fastest provider for one step's products ``shapes`` (``(M, N, K, a transposed, b transposed)`` each) at
    the BLAS thread count in force (``threads``, part of the cache key), and each candidate's median seconds.

    The candidates (default: :func:`available`) run the whole list of products in turn, in ``rounds`` rounds that
    alternate them (after one warm-up round each); NumPy's BLAS is kept unless another's median is at most
    :data:`MARGIN` of its own. With ``cache`` the answer is read from and written to the per-machine cache.
    """
    names = list(candidates) if candidates is not None else available()
    names = ["numpy", *[n for n in names if n != "numpy"]]
    shapes = [tuple(int(v) if i < 3 else bool(v) for i, v in enumerate(s)) for s in shapes]  # type: ignore[misc]
    if len(names) == 1:
        return "numpy", {}
    key = _key(shapes, dtype, threads, names)
    if cache and isinstance(hit := _read_cache().get(key), dict) and hit.get("chosen") in names:
        return str(hit["chosen"]), {k: float(v) for k, v in hit.get("seconds", {}).items()}
    seconds = _measure(names, shapes, dtype, rounds)
    chosen = decide(seconds)
    if cache:
        _write_cache(key, {"chosen": chosen, "seconds": seconds, "threads": int(threads), "cpu": _cpu()})
    return chosen, seconds


def step_shapes(net: Any, batch: int) -> list[tuple[int, int, int, bool, bool]]:
    """The products of one training step of ``net`` on a batch of ``batch`` samples, as :func:`choose` takes them:
    a dense layer's ``x @ W.T``, ``dout.T @ x`` and ``dout @ W``; a convolution's im2col products for one sample."""
    out: list[tuple[int, int, int, bool, bool]] = []
    shape = tuple(net.input_shape)
    for layer in net.layers:
        nxt = tuple(layer.output_shape(shape))
        W = layer.params.get("W") if getattr(layer, "is_weight", False) else None
        if W is not None and W.ndim == 2:
            o, i = W.shape
            out += [(batch, o, i, False, True), (o, i, batch, True, False), (batch, i, o, False, False)]
        elif W is not None and W.ndim == 4:
            F, CK, P = W.shape[0], int(np.prod(W.shape[1:])), int(np.prod(nxt[1:]))
            out += [(F, P, CK, False, False), (CK, F, P, False, True), (CK, P, F, True, False)]
        shape = nxt
    return out


def _measure(
    names: list[str], shapes: Sequence[tuple[int, int, int, bool, bool]], dtype: Any, rounds: int
) -> dict[str, float]:
    """Each provider's median seconds for the products ``shapes``, in rounds that alternate the providers."""
    rng = np.random.default_rng(0)
    work = [_operands(s, dtype, rng) for s in shapes]
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds + 1):
        for n in names:
            p = blas.load(n)
            t0 = time.perf_counter()
            for a, b, c in work:
                p._call(a, b, c, 1.0, 0.0) if p.folds else np.matmul(a, b, out=c)
            if r:  # the first round warms every library up
                times[n].append(time.perf_counter() - t0)
    return {n: statistics.median(t) for n, t in times.items()}


def decide(seconds: dict[str, float]) -> str:
    """The provider to take from measured ``seconds``: the fastest, if at most :data:`MARGIN` of NumPy's BLAS's
    time, else ``numpy`` (only what was measured faster replaces it)."""
    best = min(seconds, key=lambda n: seconds[n])
    return best if seconds[best] <= MARGIN * seconds["numpy"] else "numpy"


def run_provider(option: str | None, net: Any, batch: int, record: dict[str, Any] | None) -> tuple[Provider, str]:
    """A run's provider and how it was decided: the one ``record`` holds (``record["gemm_chosen"]``: a resumed
    run keeps its provider, ``"recorded"``), else :func:`resolve` on the network's own products for ``batch``
    samples at the BLAS thread count in force."""
    from ..runtime.threads import blas_threads_now

    saved = (record or {}).get("gemm_chosen")
    if isinstance(saved, dict) and saved.get("name") in KNOWN:
        return blas.load(str(saved["name"])), "recorded"
    return resolve(option, step_shapes(net, batch), net.dtype, blas_threads_now())


def resolve(
    option: str | None, shapes: Sequence[tuple[int, int, int, bool, bool]], dtype: Any, threads: int
) -> tuple[Provider, str]:
    """A run's provider and how it was decided (``"option"``, ``"environment"`` or ``"measured"``): ``option``
    (``"auto"``, None or a name of :data:`KNOWN`), else ``$NNLITE_GEMM``, else :func:`choose` on ``shapes``."""
    if option not in (None, "auto"):
        return blas.load(str(option)), "option"
    env = os.environ.get(ENV, "").strip()
    if env and env != "auto":
        if env not in KNOWN:
            raise ValueError(f"{ENV}={env!r} names no matrix-product provider; known: {', '.join(KNOWN)}, auto")
        return blas.load(env), "environment"
    name, _ = choose(shapes, dtype, threads)
    return blas.load(name), "measured"
