"""Every public function and method of ``nnlite`` carries type hints, so that the API documents itself and mypy
checks its callers.

The test imports every module of the package and lists each public callable whose parameters (bar ``self``/``cls``)
or return lack an annotation; it fails with the whole list, so the message says what to annotate.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from types import FunctionType, ModuleType
from typing import Any

import nnlite

#: Modules that need an optional extra at import time (none today: lightonml is imported lazily by
#: ``nnlite.projections.opu``, inside the methods that need it).
_NEEDS_EXTRA: frozenset[str] = frozenset()


def _modules() -> list[ModuleType]:
    names = [nnlite.__name__]
    names += [info.name for info in pkgutil.walk_packages(nnlite.__path__, prefix=nnlite.__name__ + ".")]
    return [importlib.import_module(name) for name in sorted(names) if name not in _NEEDS_EXTRA]


def _is_plain_function(obj: Any) -> bool:
    # Numba dispatchers (and anything else from numba) are not plain functions: their signatures are not ours.
    return isinstance(obj, FunctionType) and not type(obj).__module__.startswith("numba")


def _callables(module: ModuleType) -> Iterator[tuple[str, Callable[..., Any], bool]]:
    """Yield (qualified name, function, is a method) for every public callable defined in ``module``."""
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if _is_plain_function(obj):
            yield f"{module.__name__}.{name}", obj, False
        elif inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr not in ("__init__", "__call__"):
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                elif isinstance(member, property):
                    member = member.fget
                if member is not None and _is_plain_function(member):
                    yield f"{module.__name__}.{name}.{attr}", member, True


def _missing(qualname: str, func: Callable[..., Any], is_method: bool) -> list[str]:
    sig = inspect.signature(func)
    params = list(sig.parameters.values())
    if is_method and params and params[0].name in ("self", "cls"):
        params = params[1:]
    problems = [f"parameter {p.name!r}" for p in params if p.annotation is inspect.Parameter.empty]
    if sig.return_annotation is inspect.Signature.empty and func.__name__ != "__init__":
        problems.append("return")
    return [f"{qualname}: {', '.join(problems)} not annotated"] if problems else []


def test_every_public_callable_is_annotated() -> None:
    offenders = sorted({line for module in _modules() for item in _callables(module) for line in _missing(*item)})
    assert not offenders, f"{len(offenders)} public callables lack annotations:\n" + "\n".join(offenders)
