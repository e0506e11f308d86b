"""Downloads: ``download_file`` (mirrors tried in order, SHA-256 checked, atomic rename into place) and the
download-on-demand step of ``load``, which fetches a data set's missing files when no complete copy is on disk.

The downloads section of the :mod:`nnlite.data` docstring describes where files go and how they are checked.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from .._validation import replaceable_path
from .locate import DataNotFoundError, _download_dir, _find, _not_found_help, data_dirs
from .sources import _SOURCES

# The opener used for downloads; a module attribute so that tests can serve bytes without a network.
_urlopen = urllib.request.urlopen
_DOWNLOAD_TIMEOUT = 60.0
_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 differs from the one recorded in :mod:`nnlite.data.sources`."""


def _find_or_download(name: str, root: str | os.PathLike | None, download: bool) -> Path:
    """The folder holding a complete copy of data set ``name``, downloaded into the first folder of the search
    list when none is found and ``download`` is True; else ``DataNotFoundError`` saying where it looked."""
    dirs = data_dirs(name, root)
    found = _find(name, dirs)
    if found is not None:
        return found
    looked, how = _not_found_help(name, dirs)
    if not download:
        raise DataNotFoundError(f"{name}: files not found (download=False). Looked in:\n  {looked}\n{how}")
    target = _download_dir(name, root)
    mirrors, files = _SOURCES[name]
    try:
        target.mkdir(parents=True, exist_ok=True)
        for remote in files:
            dest = target / remote.filename
            if not dest.is_file():
                download_file([m + remote.filename for m in mirrors], dest, remote.sha256)
    except OSError as exc:
        raise DataNotFoundError(
            f"{name}: files not found and the download into {target} failed ({exc}). Looked in:\n  {looked}\n"
            f"{how} Sources: {', '.join(mirrors)}"
        ) from exc
    return target


def download_file(
    urls: str | Sequence[str], dest: str | os.PathLike, sha256: str, *, timeout: float = _DOWNLOAD_TIMEOUT
) -> Path:
    """Download a file, verify its SHA-256 and move it into place atomically.

    Parameters
    ----------
    urls : str or sequence of str
        Mirrors, tried in order until one answers (any scheme urllib opens, including ``file://``).
    dest : path
        Final location. The bytes go to a temporary file in the same folder, which is renamed to ``dest``
        (``os.replace``) only once the whole file is in and its hash matches. As for every file nnlite writes
        (:func:`nnlite._validation.replaceable_path`), only a regular file is replaced: a folder, FIFO, device or
        socket at ``dest`` raises ``ValueError`` before anything is fetched, and a symbolic link is written
        through. The file gets the old file's permissions, or the umask's.
    sha256 : str
        Expected SHA-256, lowercase hex.
    timeout : float
        Seconds, per connection attempt.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    ChecksumError
        The bytes received do not hash to ``sha256`` (raised at once, without trying further mirrors: a mirror
        serving wrong bytes is worth knowing about). The temporary file is removed; ``dest`` is untouched.
    OSError
        Every mirror failed (the last error is chained).
    """
    from ..training.io import atomic_file  # the one atomic writer (imported here: training imports data)

    urls = [urls] if isinstance(urls, str) else list(urls)
    if not urls:
        raise ValueError("download_file needs at least one URL")
    dest = Path(replaceable_path(dest))  # refused before anything is fetched
    errors = []
    for url in urls:
        try:
            with atomic_file(dest) as out:
                digest = hashlib.sha256()
                with _urlopen(url, timeout=timeout) as response:
                    while True:
                        chunk = response.read(_CHUNK)
                        if not chunk:
                            break
                        digest.update(chunk)
                        out.write(chunk)
                got = digest.hexdigest()
                if got != sha256.lower():  # raised inside the block: the file is discarded, dest untouched
                    raise ChecksumError(
                        f"{dest.name} downloaded from {url}: SHA-256 mismatch, expected {sha256}, "
                        f"got {got}; the file was discarded"
                    )
            return dest
        except ChecksumError:
            raise
        except (OSError, http.client.HTTPException, ValueError) as exc:
            errors.append(f"{url}: {exc}")
            last = exc
    raise OSError(f"could not download {dest.name}: " + "; ".join(errors)) from last
