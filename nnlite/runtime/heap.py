"""Keeping the memory a training step frees for the next step (glibc's malloc; docs/design.md, "Kernels and their
twins").

A training step allocates its activations and gradients and frees them at its end: the same few hundred MB every
step. With glibc's default settings, blocks above its mmap threshold go back to the kernel when freed, and so does
the top of the heap once more than the trim threshold is free there; the next step then takes every page again as
a fresh page fault, zeroed by the kernel. :func:`keep_freed_memory` raises both thresholds so that the freed
blocks stay in the process and the next step reuses them. The peak memory is the same; what changes is that the
process keeps it between steps instead of shrinking back.

The settings are process-wide and last until the process ends (glibc cannot give them back). :func:`nnlite.fit`
calls this before its first step unless it is given ``keep_memory=False``; so do the ``nnlite`` command, the
sweep workers and the benchmarks. A library user who trains with a loop of their own calls it once.
"""

from __future__ import annotations

import ctypes
import platform

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory"]

#: Blocks up to this size come from the heap and stay there when freed (glibc's largest mmap threshold, 32 MiB
#: on 64-bit; above it, a block is always mapped and unmapped).
MMAP_THRESHOLD = 32 << 20
#: Free memory at the top of the heap is given back to the kernel only beyond this much.
TRIM_THRESHOLD = 256 << 20

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Have glibc's malloc keep freed blocks up to :data:`MMAP_THRESHOLD` for reuse, and give free memory back
    only beyond :data:`TRIM_THRESHOLD` (``mallopt(M_MMAP_THRESHOLD)``, ``mallopt(M_TRIM_THRESHOLD)``).

    Returns
    -------
    bool
        True when the settings are in force (glibc), False where there is nothing to set (another C library or
        system; nothing changes). Calling it again returns the first call's answer and sets nothing.

    Notes
    -----
    docs/measurements.md and docs/design.md, "Kernels and their twins" have what it saves on a ``cnn()`` step; the
    benchmarks give both
    sides, nnlite's and the PyTorch peer's, the same settings.
    """
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
