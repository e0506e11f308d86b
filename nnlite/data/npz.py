"""Your own data set in one ``.npz`` file: ``read_npz`` checks every member's header before it reads a byte of
data, so no header decides an allocation unchecked."""

from __future__ import annotations

import math
import os
import stat
import zipfile
import zlib

import numpy as np

__all__ = ["NPZ_KEYS", "read_npz"]

#: The members an own data set must hold (extra members are ignored).
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")

# Deflate cannot expand data by more than about 1032:1, so a member that claims more is corrupt or a bomb.
_MAX_DEFLATE_RATIO = 1100


def read_npz(
    path: str | os.PathLike,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read and check ``x_train, y_train, x_test, y_test`` from an ``.npz`` file (``numpy.savez`` or
    ``savez_compressed``).

    Parameters
    ----------
    path : path
        The file. Members beyond the four keys are ignored.

    Returns
    -------
    x_train : ndarray, shape (N_train, D) or (N_train, C_in, H, W), uint8 or floating point, as stored
    y_train : ndarray of int64, shape (N_train,)
    x_test : ndarray, shape ``(N_test, *x_train.shape[1:])``, x_train's dtype kind
    y_test : ndarray of int64, shape (N_test,)
        The labels' range is checked by :func:`nnlite.data.load`.

    Raises
    ------
    ValueError
        Not a readable ``.npz``, a missing key, an object array or another refused dtype, the wrong number of
        dimensions, mismatched lengths or sample shapes, a header that does not match the member's size, or an
        empty split; the message names the file and the key.

    Notes
    -----
    Before anything is read, each member's ``.npy`` header is parsed from the zip member with
    ``numpy.lib.format.read_array_header_{1,2}_0`` and checked: its dtype (no objects; x uint8 or float, y
    integer), its ndim, the lengths, and ``prod(shape) * itemsize == member size - header size``, where the
    member size from the zip directory must itself be bounded by the member's compressed size (equal when
    stored, at most ``1100 x`` when deflated, the most deflate can expand) and the compressed size by the
    file's. Only then is the array loaded (``np.load(path, allow_pickle=False)``), so the largest allocation
    is bounded by what the file can really hold.
    """
    path = os.fspath(path)
    _check_regular(path)
    try:
        with zipfile.ZipFile(path) as zf:
            headers = {key: _member_header(zf, path, key) for key in NPZ_KEYS}
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:  # the headers too are compressed
        raise ValueError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    _check_headers(path, headers)
    try:  # the headers were sound; the data after them may still be damaged (a flipped byte, a cut file)
        with np.load(path, allow_pickle=False) as f:
            x_tr, y_tr, x_te, y_te = (f[key] for key in NPZ_KEYS)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
        raise ValueError(
            f"{path}: the archive is damaged after its headers ({type(exc).__name__}: {exc}); write it again "
            "with numpy.savez or savez_compressed"
        ) from None
    return x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64)


def _check_regular(path: str) -> None:
    """A data set is a regular file: a FIFO or a device given as one would block or never end."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a FIFO, device or socket)"
        raise ValueError(f"{path} is {kind}; a data set of one's own is an .npz file")


def _member_header(zf: zipfile.ZipFile, path: str, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """The (shape, dtype) of member ``key``, checked against the member's real size."""
    try:
        info = zf.getinfo(key + ".npy")
    except KeyError:
        raise ValueError(f"{path}: missing key {key!r}; an own data set needs {', '.join(NPZ_KEYS)}") from None
    archive = os.path.getsize(path)
    stored = info.compress_type == zipfile.ZIP_STORED
    if info.compress_size > archive or info.file_size > (
        info.compress_size if stored else _MAX_DEFLATE_RATIO * info.compress_size + 1024
    ):
        raise ValueError(
            f"{path}: {key} claims {info.file_size} bytes from {info.compress_size} compressed bytes "
            f"in a file of {archive} bytes; the file is corrupt"
        )
    with zf.open(info) as fp:
        try:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise ValueError(f"unsupported .npy format version {version}, expected 1.0 or 2.0")
        except ValueError as exc:
            raise ValueError(f"{path}: {key} has an unreadable .npy header ({exc})") from None
        offset = fp.tell()
    if dtype.hasobject:
        raise ValueError(
            f"{path}: {key} is an object array ({dtype}), which only pickle could load (nnlite never unpickles); "
            "expected a numeric array"
        )
    expected = math.prod(shape) * dtype.itemsize
    if info.file_size - offset != expected:
        raise ValueError(
            f"{path}: {key}'s header says shape {shape} of {dtype} ({expected} bytes) but the member holds "
            f"{info.file_size - offset} bytes"
        )
    return tuple(int(s) for s in shape), dtype


def _check_headers(path: str, headers: dict[str, tuple[tuple[int, ...], np.dtype]]) -> None:
    for split in ("train", "test"):
        (x_shape, x_dtype), (y_shape, y_dtype) = headers[f"x_{split}"], headers[f"y_{split}"]
        if not (x_dtype == np.uint8 or x_dtype.kind == "f"):
            raise ValueError(f"{path}: x_{split} must be uint8 (scaled to [0, 1]) or floating point, got {x_dtype}")
        if y_dtype.kind not in "iu":
            raise ValueError(f"{path}: y_{split} must be an integer array, got {y_dtype}")
        if len(x_shape) not in (2, 4):
            hint = (
                f"; grayscale images (N, H, W) need a channel axis: save x_{split}[:, None], shape (N, 1, H, W)"
                if len(x_shape) == 3
                else ""
            )
            raise ValueError(f"{path}: x_{split} must be (N, D) or (N, C, H, W), got shape {x_shape}{hint}")
        if len(y_shape) != 1:
            raise ValueError(f"{path}: y_{split} must be 1-D (N,), got shape {y_shape}")
        if x_shape[0] != y_shape[0]:
            raise ValueError(f"{path}: x_{split} has {x_shape[0]} samples but y_{split} has {y_shape[0]} labels")
        if x_shape[0] == 0:
            raise ValueError(f"{path}: x_{split} is empty (shape {x_shape})")
    (tr_shape, tr_dtype), (te_shape, te_dtype) = headers["x_train"], headers["x_test"]
    if tr_shape[1:] != te_shape[1:]:
        raise ValueError(f"{path}: x_test samples have shape {te_shape[1:]}, expected x_train's {tr_shape[1:]}")
    if (tr_dtype == np.uint8) != (te_dtype == np.uint8):
        raise ValueError(
            f"{path}: x_train is {tr_dtype} but x_test is {te_dtype}; both must be uint8 or both floating point"
        )


#: The checked (shape, dtype) of one member of an .npz archive (checkpoints use it too).
member_header = _member_header
