"""Where a data set's files are looked for on disk: the folders in search order (``data_dirs``), whether a folder
holds a complete copy, the user cache, the folder downloads go to, and the error raised when nothing is found.

The search order itself is described in the :mod:`nnlite.data` docstring.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .sources import _CIFAR_LAYOUTS, _IDX_FILES, DEBIAN_FASHION_MNIST


class DataNotFoundError(FileNotFoundError):
    """A data set's files are in none of the searched folders and could not be downloaded."""


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nnlite"


def data_dirs(name: str, root: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for data set ``name``, in order (see the :mod:`nnlite.data` docstring).

    Parameters
    ----------
    name : str
        One of ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``.
    root : path, optional

    Returns
    -------
    list of Path
        ``[root/name, root, $NNLITE_DATA/name, <cache>/name, (Debian folder)]``, the absent ones left out.
    """
    dirs: list[Path] = []
    if root is not None:
        dirs += [Path(root) / name, Path(root)]
    env = os.environ.get("NNLITE_DATA")
    if env:
        dirs.append(Path(env) / name)
    dirs.append(_cache_dir() / name)
    if name == "fashion-mnist":
        dirs.append(Path(DEBIAN_FASHION_MNIST))
    return dirs


def _download_dir(name: str, root: str | os.PathLike | None) -> Path:
    """Where missing files are downloaded to: the first folder of ``data_dirs`` that is meant for ``name`` alone."""
    if root is not None:
        return Path(root) / name
    if os.environ.get("NNLITE_DATA"):
        return Path(os.environ["NNLITE_DATA"]) / name
    return _cache_dir() / name


def _idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / (stem + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _has_dataset(name: str, folder: Path) -> bool:
    if name in ("mnist", "fashion-mnist"):
        return all(_idx_file(folder, stem) is not None for stem in _IDX_FILES)
    # a folder or a regular file: a FIFO or device under a layout's name is not a copy (reading it could block)
    return any((folder / layout).is_dir() or (folder / layout).is_file() for layout in _CIFAR_LAYOUTS)


def _find(name: str, dirs: Sequence[Path]) -> Path | None:
    """The first folder of ``dirs`` that holds a complete copy of data set ``name``, or None."""
    for folder in dirs:
        if _has_dataset(name, folder):
            return folder
    return None


def _expected_files(name: str) -> str:
    if name in ("mnist", "fashion-mnist"):
        return ", ".join(s + "[.gz]" for s in _IDX_FILES)
    return " or ".join(_CIFAR_LAYOUTS)


def _not_found_help(name: str, dirs: Sequence[Path]) -> tuple[str, str]:
    """For a message about data set ``name`` found in none of ``dirs``: the folders looked in, and what to do."""
    looked = "\n  ".join(str(d) for d in dirs)
    how = (
        f"Put {_expected_files(name)} in one of these folders (for $NNLITE_DATA and the cache, in a "
        f"'{name}' sub-folder), or pass root=<folder holding them>."
    )
    return looked, how
