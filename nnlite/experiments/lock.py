"""One sweep at a time per results folder.

:func:`folder_lock` holds ``<folder>/.nnlite-sweep.lock`` for the length of a sweep: an advisory ``flock`` on the
file (the kernel drops it when its process dies, so the lock of a killed sweep is taken over by the next one),
and in the file the holder's ``pid``, ``host``, ``since`` and ``what``, so that a second sweep into the same folder
is refused with a message naming the holder. Within one process the lock is re-entrant (the command takes it
before it writes ``spec.json``, :func:`~nnlite.experiments.sweep.sweep` takes it again).

What a folder holds is :mod:`nnlite.experiments.folder`'s (one experiment per folder).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

from .._validation import own_path

__all__ = ["LOCK_NAME", "LockError", "folder_lock"]

LOCK_NAME = ".nnlite-sweep.lock"

_HELD: dict[str, tuple[int, int]] = {}  # lock path -> (file descriptor, depth), the locks this process holds


class LockError(RuntimeError):
    """Another live process is sweeping into the folder."""


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
        own_path(path)  # a link or a non-regular file where the lock goes is refused, never opened through
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a link put there between the check and the open
                own_path(path)
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ValueError(f"{path} is not a regular file; nnlite's lock must be (remove it)")
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
