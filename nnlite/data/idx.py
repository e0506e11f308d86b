"""The IDX format (LeCun's MNIST files): ``read_idx`` parses one file, gzipped or not, and ``_load_idx_folder``
reads the four files of MNIST or Fashion-MNIST from a folder and checks that they fit together.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .locate import DataNotFoundError, _idx_file
from .sources import _IDX_FILES

_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_at_most(f: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes of ``f``, read in bounded pieces (never more than ``n`` allocated)."""
    parts, left = [], n
    while left > 0:
        piece = f.read(min(left, 1 << 24))
        if not piece:
            break
        parts.append(piece)
        left -= len(piece)
    return b"".join(parts)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (LeCun's MNIST format), gzipped or not.

    Parameters
    ----------
    path : path
        The file. Gzip is recognised by its magic bytes, not by the name.

    Returns
    -------
    ndarray
        Of the file's shape, in native byte order; uint8 for MNIST (images (N, 28, 28), labels (N,)).

    Raises
    ------
    ValueError
        A magic number that is not ``0x0000TTDD`` with a known type code TT (e.g. 0x00000801 for uint8 labels,
        0x00000803 for uint8 images), a file shorter or longer than its header says (the message gives both byte
        counts), or corrupt gzip data. Every message names the file.

    Notes
    -----
    Layout: a big-endian uint32 magic ``0x00 0x00 TT DD`` (TT the element type, DD the number of dimensions),
    DD big-endian uint32 sizes, then ``prod(sizes)`` big-endian elements. The header is read first and at most
    the body it announces plus one byte after it: a small file whose (gzipped) body is far larger than its header
    says is refused without inflating it.
    """
    path = Path(path)
    with open(path, "rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    what = f"{path}{' (after gunzip)' if gz else ''}"
    opener: Any = gzip.open if gz else open
    try:
        with opener(path, "rb") as f:
            head = _read_at_most(f, 4)
            if len(head) < 4:
                raise ValueError(
                    f"{what}: truncated IDX file: expected at least 4 bytes of header, got {len(head)} bytes"
                )
            magic = int.from_bytes(head, "big")
            type_code, ndim = head[2], head[3]
            if head[0] != 0 or head[1] != 0 or type_code not in _IDX_TYPES or ndim == 0:
                raise ValueError(
                    f"{path}: not an IDX file: magic number 0x{magic:08X} (expected 0x000008DD for uint8 data "
                    f"with DD dimensions, e.g. 0x00000801 labels, 0x00000803 images)"
                )
            header = 4 + 4 * ndim
            sizes = _read_at_most(f, 4 * ndim)
            if len(sizes) < 4 * ndim:
                raise ValueError(
                    f"{what}: truncated IDX file: expected at least {header} bytes of header, "
                    f"got {4 + len(sizes)} bytes"
                )
            dims = tuple(int.from_bytes(sizes[4 * i : 4 * i + 4], "big") for i in range(ndim))
            dtype = _IDX_TYPES[type_code]
            body_len = math.prod(dims) * dtype.itemsize
            expected = header + body_len
            if not gz and path.stat().st_size != expected:  # the exact size is known without reading
                got = path.stat().st_size
                kind = "truncated" if got < expected else "oversized"
                raise ValueError(
                    f"{what}: {kind} IDX file: header says shape {dims} of {dtype.name}, so expected "
                    f"{expected} bytes, got {got} bytes"
                )
            body = _read_at_most(f, body_len + 1)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt or truncated gzip data ({exc})") from exc
    if len(body) != body_len:
        seen = f"{header + len(body)} bytes" if len(body) < body_len else f"more than {expected} bytes"
        kind = "truncated" if len(body) < body_len else "oversized"
        raise ValueError(
            f"{what}: {kind} IDX file: header says shape {dims} of {dtype.name}, so expected {expected} bytes, "
            f"got {seen}"
        )
    data = np.frombuffer(body, dtype=dtype, count=math.prod(dims))
    return data.reshape(dims).astype(dtype.newbyteorder("="))


def _idx_path(folder: Path, stem: str) -> Path:
    path = _idx_file(folder, stem)
    if path is None:  # the folder was complete when it was found, so the file went away since
        raise DataNotFoundError(f"{folder}: {stem}[.gz] not found")
    return path


def _load_idx_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x_train, y_train, x_test, y_test (uint8) from the four IDX files in ``folder``, checked to fit together."""
    paths = {stem: _idx_path(folder, stem) for stem in _IDX_FILES}
    arrays = {stem: read_idx(p) for stem, p in paths.items()}
    out = []
    for split in ("train", "t10k"):
        x, y = arrays[f"{split}-images-idx3-ubyte"], arrays[f"{split}-labels-idx1-ubyte"]
        px, py = paths[f"{split}-images-idx3-ubyte"], paths[f"{split}-labels-idx1-ubyte"]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"{px}: expected uint8 images of shape (N, 28, 28), got {x.dtype} {x.shape}")
        if y.dtype != np.uint8 or y.ndim != 1:
            raise ValueError(f"{py}: expected uint8 labels of shape (N,), got {y.dtype} {y.shape}")
        if len(x) != len(y):
            raise ValueError(f"{px} has {len(x)} images but {py} has {len(y)} labels")
        out += [x, y]
    x_train, y_train, x_test, y_test = out
    return x_train, y_train, x_test, y_test
