"""Atomic writes and checked reads: every file nnlite writes (checkpoints, histories, reports, sweep records,
benchmark results) goes through :func:`atomic_file` (a temporary file in the same folder, fsync, rename), and every
file of a results folder that nnlite reads back (records, its spec copy) through :func:`read_regular`.

Two kinds of path are written. A path the caller named (``nnlite.save(net, "model.npz")``, ``--json out.json``)
is the caller's: a symbolic link there is written through. A file nnlite names itself inside a folder (a lock, a
run record, a report, a figure, a checkpoint in ``checkpoint_dir``) is ``own=True``: its name is a plain name
(:func:`nnlite._validation.plain_name`), a link there is refused (:func:`nnlite._validation.own_path`), and the
new file is created and renamed over the name, which never follows a link."""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from .._validation import new_file_mode, own_path, plain_name, replaceable_path

__all__ = ["atomic_file", "atomic_write", "json_clean", "own_file", "read_regular", "write_json"]


def own_file(folder: str | os.PathLike, name: str) -> str:
    """The path of the file ``name`` that nnlite names itself in ``folder``: ``name`` must be a plain name (no
    separator, no ``..``, not hidden; :func:`~nnlite._validation.plain_name`), so the path stays in ``folder``."""
    return os.path.join(os.fspath(folder), plain_name(name, "a file name nnlite writes"))


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, *, own: bool = False) -> Iterator[IO[bytes]]:
    """A binary file to write that replaces ``path`` atomically when the block ends without an exception: a
    temporary file in the same folder, fsync, then rename; on an exception the temporary file is removed and
    ``path`` is untouched (a download that fails its checksum raises inside the block).

    A crash at any point leaves either the old file or the new one under ``path``, never half of one; the
    folder is created when missing. Only a regular file is ever replaced: a FIFO, a device, a socket or a folder
    at ``path`` is refused with ``ValueError``, and a symbolic link is written through (its target is replaced, the
    link stays) unless ``own``: a file nnlite names itself is never written through a link, which is refused
    (:func:`~nnlite._validation.own_path`). The new file gets the old file's permissions, or the umask's for a
    new file.
    """
    path = own_path(path) if own else replaceable_path(path)
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


def atomic_write(path: str | os.PathLike, data: bytes, *, own: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_file`; ``own``: a file nnlite names itself)."""
    with atomic_file(path, own=own) as f:
        f.write(data)


def read_regular(path: str | os.PathLike, limit: int, what: str = "file", *, follow: bool = False) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them, read without blocking and (unless
    ``follow``: a file the caller named) without following a link: a link, a FIFO, a device or a folder there, or
    a file over ``limit`` bytes, is a ``ValueError`` naming it (``what`` says what it should have been); a
    missing file is ``FileNotFoundError``."""
    path = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW))
    except FileNotFoundError:
        raise
    except OSError as exc:
        if os.path.islink(path):
            raise ValueError(f"{path} is a symbolic link, not the {what} nnlite wrote; remove it") from None
        raise ValueError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{path} is not a regular file (a device, FIFO, socket or folder), not a {what}")
        if st.st_size > limit:
            raise ValueError(f"{path} holds {st.st_size:,} bytes, more than a {what} may hold ({limit:,})")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path} grew past {limit:,} bytes while it was read: more than a {what} may hold")
    return data


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


def write_json(path: str | os.PathLike, obj: Any, *, own: bool = False) -> None:
    """Write ``obj`` as indented JSON (NaN as null), atomically (``own``: a file nnlite names itself)."""
    atomic_write(path, json.dumps(json_clean(obj), indent=1).encode(), own=own)
