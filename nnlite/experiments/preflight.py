"""Checks a sweep runs before anything is scheduled: every run's options as the spec file's own rows are checked
(so ``--set lr=fast`` is refused up front, not by every run), and every data set the runs need is on this machine
or can be downloaded (so an offline machine is told the fix instead of failing each run).
"""

from __future__ import annotations

import socket
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from ..config.schema import ConfigError
from .run import config_of

__all__ = ["DataUnavailableError", "check_data", "check_options", "reachable"]

#: Seconds given to the network check of a data set's mirror.
NETWORK_TIMEOUT = 3.0


class DataUnavailableError(FileNotFoundError):
    """A data set the runs need is not on this machine and cannot be downloaded."""


def check_options(runs: Sequence[Mapping[str, Any]]) -> None:
    """Check every distinct run's options (:func:`~nnlite.experiments.run.config_of`), seeds aside.

    Raises
    ------
    ConfigError
        The first bad run's error, prefixed with its variation.
    """
    seen: set[str] = set()
    for r in runs:
        if r["variation"] in seen:
            continue
        seen.add(r["variation"])
        try:
            config_of(r["options"])
        except ConfigError as exc:
            msg, prefix = str(exc), f"bad run options {dict(r['options'])!r}: "
            msg = msg[len(prefix) :] if msg.startswith(prefix) else msg  # the option is named: not all of them
            raise ConfigError(f"variation {r['variation']!r}: {msg}", exc.fields) from None


def reachable(url: str, timeout: float = NETWORK_TIMEOUT) -> bool:
    """Whether ``url``'s host accepts a TCP connection within ``timeout`` seconds (name lookup included)."""
    u = urllib.parse.urlsplit(url)
    if u.scheme == "file":
        return True
    port = u.port or (443 if u.scheme == "https" else 80)
    try:
        with socket.create_connection((u.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def _alternative(exclude: str) -> str:
    from ..data.locate import _find, data_dirs

    for name in ("fashion-mnist", "mnist", "cifar10"):
        if name != exclude and _find(name, data_dirs(name)) is not None:
            return name
    return "digits"


def check_data(runs: Sequence[Mapping[str, Any]], what: str = "the runs") -> None:
    """Check that every data set ``runs`` use is on disk, or that its first mirror answers (a few seconds at most).

    Raises
    ------
    DataUnavailableError
        One line: the data set, where it was looked for, and the fix (``--dataset`` with a data set found here).
    """
    from ..data.locate import _find, data_dirs
    from ..data.sources import _SOURCES

    needed = {(r["options"].get("dataset", "digits"), r["options"].get("data_root")) for r in runs}
    for name, root in sorted(needed, key=str):
        if name not in _SOURCES:  # digits (shipped) or a file of one's own (the run names it if it is missing)
            continue
        dirs = data_dirs(name, root)
        if _find(name, dirs) is not None:
            continue
        mirrors = _SOURCES[name][0]
        if any(reachable(m) for m in mirrors[:1]):
            continue  # the first run downloads it (checked against its SHA-256)
        alt = _alternative(name)
        raise DataUnavailableError(
            f"{what} need {name}, which is not on this machine (looked in {', '.join(map(str, dirs))}) and cannot "
            f"be downloaded ({urllib.parse.urlsplit(mirrors[0]).hostname} unreachable); run them on a data set at "
            f"hand with --dataset {alt}, or put the files in one of those folders"
        )
