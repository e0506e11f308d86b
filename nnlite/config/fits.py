"""Whether a network's training fits in this machine's memory, checked before a weight is drawn."""

from __future__ import annotations

import os

from .schema import ConfigError, options

__all__ = ["check_fits"]


def _named(field: str) -> str:
    return next(o for o in options() if o.name == field).label("field")


def check_fits(field: str, shapes: list[tuple[int, int]], itemsize: int) -> None:
    """Refuse layer sizes whose training could not fit in this machine's memory, before drawing a weight:
    weights, gradients and optimizer state (3 copies), plus the float64 draw of the largest weight matrix."""
    n = sum(a * b + b for a, b in shapes)
    need = 3 * n * itemsize + 8 * max(a * b for a, b in shapes)
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover (not POSIX)
        return
    if need > have:
        raise ConfigError(
            f"{_named(field)}: {n:,} parameters need about {_bytes(need)} to train (weights, gradients, "
            f"optimizer state), more than this machine's {_bytes(have)} of memory",
            [field],
        )


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover
