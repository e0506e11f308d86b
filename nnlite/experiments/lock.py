"""One sweep at a time per results folder, and one spec per folder.

:func:`folder_lock` holds ``<folder>/.nnlite-sweep.lock`` for the length of a sweep: an advisory ``flock`` on the
file (the kernel drops it when its process dies, so the lock of a killed sweep is taken over by the next one),
and in the file the holder's ``pid``, ``host``, ``since`` and ``what``, so that a second sweep into the same folder
is refused with a message naming the holder. Within one process the lock is re-entrant (the command takes it
before it writes ``spec.json``, :func:`~nnlite.experiments.sweep.sweep` takes it again).

:func:`claim_folder` writes ``spec.json`` (the spec and the settings a folder's runs were made with) and refuses a
folder that holds another spec's runs, or the same spec's at other settings: their records would be aggregated
into one table.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..training.io import write_json

__all__ = ["LOCK_NAME", "FolderInUseError", "LockError", "claim_folder", "folder_lock"]

LOCK_NAME = ".nnlite-sweep.lock"

#: The settings of ``spec.json`` that must match for a folder to be swept again (the seeds may change).
_SETTINGS = ("spec", "quick", "dataset", "set")

_HELD: dict[str, tuple[int, int]] = {}  # lock path -> (file descriptor, depth), the locks this process holds


class LockError(RuntimeError):
    """Another live process is sweeping into the folder."""


class FolderInUseError(ValueError):
    """The folder holds another spec's runs (or the same spec's at other settings)."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text())
        return f"pid {info['pid']} on {info['host']} since {info['since']} ({info.get('what') or 'a sweep'})"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not written its name yet"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "") -> Iterator[Path]:
    """Hold the sweep lock of ``folder`` (created when missing) while the block runs; yields the lock file's path.

    Raises
    ------
    LockError
        Another live process holds it (the message names its pid, host, start time and spec). A lock file left by
        a process that died (killed, power loss) is not held: it is taken over and rewritten.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    key = str(path.resolve())
    if key in _HELD:  # re-entrant within this process
        fd, depth = _HELD[key]
        _HELD[key] = (fd, depth + 1)
        try:
            yield path
        finally:
            fd, depth = _HELD[key]
            _HELD[key] = (fd, depth - 1)
        return
    fd = _acquire(path, what)
    _HELD[key] = (fd, 1)
    try:
        yield path
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            path.unlink()  # unlink while holding: a process that opened the old file sees another inode and retries
        os.close(fd)


def _acquire(path: Path, what: str) -> int:
    for _ in range(20):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise LockError(
                f"{path.parent} is being swept by {_holder(path)}; wait for it to finish, or sweep into another "
                f"--out (the lock is {path}, released when that process ends)"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the holder released and unlinked it between our open and our flock: try the new file
            os.close(fd)
            continue
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "what": what,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        return fd
    raise LockError(f"could not take the lock {path}: it keeps being replaced")  # pragma: no cover


def _describe(meta: Mapping[str, Any]) -> str:
    parts = [str(meta.get("spec"))]
    if meta.get("quick"):
        parts.append("--quick")
    if meta.get("dataset"):
        parts.append(f"--dataset {meta['dataset']}")
    parts += [f"--set {k}={json.dumps(v)}" for k, v in (meta.get("set") or {}).items()]
    return " ".join(parts)


def claim_folder(folder: str | os.PathLike, meta: Mapping[str, Any], *, write: bool = True) -> None:
    """Check that ``folder`` may receive the runs described by ``meta`` and (``write``) record it in ``spec.json``.

    ``meta`` holds ``spec`` (its name), ``path``, ``quick``, ``dataset``, ``set`` and ``seeds``. A folder whose
    ``spec.json`` names another spec, or the same spec with other ``quick``/``dataset``/``set``, is refused; a
    folder holding run records but no ``spec.json`` too. Call it holding :func:`folder_lock`.

    Raises
    ------
    FolderInUseError
        Naming both specs (with their settings) and the fix: another ``--out``, or the folder's own settings.
    """
    folder = Path(folder)
    old_path = folder / "spec.json"
    old: dict[str, Any] | None = None
    if old_path.is_file():
        try:
            old = json.loads(old_path.read_text())
        except (OSError, ValueError):
            old = {"spec": "<unreadable spec.json>"}
    elif any(p.name not in ("report.json",) for p in folder.glob("*.json")):
        old = {"spec": "<runs without spec.json>"}
    if old is not None and any(old.get(k) != meta.get(k) for k in _SETTINGS):
        raise FolderInUseError(
            f"{folder} holds the runs of {_describe(old)}; this sweep is {_describe(meta)}. Sweep into another "
            f"folder (--out), or continue that one with its own settings"
        )
    if write:
        write_json(old_path, dict(meta))
