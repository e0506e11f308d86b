"""Atomic writes: every file nnlite writes (checkpoints, histories, reports, sweep records, benchmark results)
goes through :func:`atomic_write` (a temporary file in the same folder, fsync, rename)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from .._validation import new_file_mode, replaceable_path

__all__ = ["atomic_file", "atomic_write", "json_clean", "write_json"]


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """A binary file to write that replaces ``path`` atomically when the block ends without an exception: a
    temporary file in the same folder, fsync, then rename; on an exception the temporary file is removed and
    ``path`` is untouched (a download that fails its checksum raises inside the block).

    A crash at any point leaves either the old file or the new one under ``path``, never half of one; the
    folder is created when missing. Only a regular file is ever replaced: a FIFO, a device, a socket or a folder
    at ``path`` is refused with ``ValueError``, and a symbolic link is written through (its target is replaced, the
    link stays). The new file gets the old file's permissions, or the umask's for a new file.
    """
    path = replaceable_path(path)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    mode = new_file_mode(path)
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=os.path.basename(path))
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        # A system error with no file named (a full disk: ENOSPC from write or fsync) or naming the temporary file
        # names the file the caller asked for; any other error (a broken download) passes unchanged.
        if exc.errno is not None and exc.strerror and exc.filename in (None, tmp):
            raise OSError(exc.errno, f"{exc.strerror} (nothing was written)", os.fspath(path)) from exc
        raise
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp: str) -> None:
    if tmp and os.path.exists(tmp):
        os.remove(tmp)


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_file`)."""
    with atomic_file(path) as f:
        f.write(data)


def json_clean(o: Any) -> Any:
    """``o`` with NaN/inf floats as None, NumPy scalars as Python numbers and dict keys as strings (for JSON)."""
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {str(k): json_clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [json_clean(v) for v in o]
    return o


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON (NaN as null), atomically."""
    atomic_write(path, json.dumps(json_clean(obj), indent=1).encode())
