"""CIFAR-10: ``read_cifar_batch`` parses one batch, python version (a pickle, read by an unpickler that accepts
nothing but NumPy arrays and plain containers) or binary version (fixed-size records); ``_load_cifar_folder``
reads the six batches of the first layout present in a folder, extracted or still in its tarball.
"""

from __future__ import annotations

import io
import pickle
import tarfile
import zlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .locate import DataNotFoundError
from .sources import _CIFAR_LAYOUTS, _CIFAR_TEST, _CIFAR_TRAIN


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain containers and NumPy arrays only: any other global raises ``pickle.UnpicklingError``."""

    _reconstruct = np.empty(0).__reduce__()[0]
    _ALLOWED: ClassVar[dict[tuple[str, str], Any]] = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name} from a CIFAR batch") from None


_CIFAR_RECORD = 1 + 3 * 32 * 32


def read_cifar_batch(data: bytes, name: str = "<batch>", binary: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Parse one CIFAR-10 batch, python (pickled dict) or binary version.

    Parameters
    ----------
    data : bytes
        The batch file's content.
    name : str
        Used in error messages.
    binary : bool
        False: the python version (a pickle of ``{b"data": uint8 (N, 3072), b"labels": [N ints], ...}``), read
        by an unpickler that only accepts NumPy's array reconstruction globals. True: the binary version,
        records of 1 label byte + 3072 pixel bytes.

    Returns
    -------
    x : ndarray of uint8, shape (N, 3072)
        Channel-major: 1024 red, then 1024 green, then 1024 blue values, each plane row by row.
    y : ndarray of int64, shape (N,)

    Raises
    ------
    ValueError
        A size that is not a whole number of records, a malformed pickle or a disallowed global, a wrong data
        shape or dtype, a label count that differs from the image count, or labels outside [0, 10).
    """
    if binary:
        if len(data) == 0 or len(data) % _CIFAR_RECORD:
            raise ValueError(
                f"{name}: binary CIFAR-10 batch of {len(data)} bytes is not a whole number of "
                f"{_CIFAR_RECORD}-byte records"
            )
        rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
        x, y = rec[:, 1:].copy(), rec[:, 0].astype(np.int64)
    else:
        try:
            d = _NumpyOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
        except Exception as exc:  # a damaged pickle can raise nearly anything
            raise ValueError(f"{name}: not a valid CIFAR-10 python batch ({type(exc).__name__}: {exc})") from exc
        if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
            keys = sorted(d) if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"{name}: expected a dict with b'data' and b'labels', got {keys}")
        x = d[b"data"]
        if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072:
            desc = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
            raise ValueError(f"{name}: expected data of uint8 (N, 3072), got {desc}")
        try:
            y = np.asarray(d[b"labels"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: labels are not a list of integers ({exc})") from exc
        if y.size and y.dtype.kind not in "iu":  # floats would be truncated (1.7 -> 1), bools and strings are no labels
            raise ValueError(f"{name}: labels must be integers, got {y.dtype} (e.g. {y.ravel()[:3].tolist()})")
        y = y.astype(np.int64)
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"{name}: {len(x)} images but labels of shape {y.shape}")
        x = np.ascontiguousarray(x)
    if y.size and (int(y.min()) < 0 or int(y.max()) >= 10):
        raise ValueError(f"{name}: labels must be in [0, 10), got min {int(y.min())}, max {int(y.max())}")
    return x, y


#: The largest a CIFAR-10 batch can be: 10 000 records of 1 + 3072 bytes (binary), or that as a pickle with its
#: labels and file names (python; about 31 MB). A member announcing more is refused before it is read.
_MAX_BATCH_BYTES = {True: 10_000 * (1 + 3 * 32 * 32), False: 40 << 20}


def _check_member_size(archive: Path, name: str, size: int, binary: bool) -> None:
    limit = _MAX_BATCH_BYTES[binary]
    if size > limit:
        raise ValueError(
            f"{archive}: {name} is {size} bytes, more than a CIFAR-10 batch can be ({limit} bytes); not reading it"
        )


def _cifar_members(folder: Path) -> tuple[Path, bool, list[bytes], list[str]]:
    """(path, is_binary, [batch bytes], [batch names]) for the first CIFAR layout present in folder."""
    for layout in _CIFAR_LAYOUTS:
        p = folder / layout
        if not (p.is_dir() or p.is_file()):  # a FIFO or device under a layout's name is not read (it could block)
            continue
        binary = "bin" in layout
        wanted = [b + (".bin" if binary else "") for b in _CIFAR_TRAIN + _CIFAR_TEST]
        blobs: dict[str, bytes] = {}
        if p.is_dir():
            for w in wanted:
                if (p / w).is_file():
                    _check_member_size(p, w, (p / w).stat().st_size, binary)
                    blobs[w] = (p / w).read_bytes()
        else:
            try:
                with tarfile.open(p, "r:*") as tar:
                    for member in tar:
                        base = member.name.rsplit("/", 1)[-1]
                        if member.isfile() and base in wanted and base not in blobs:
                            _check_member_size(p, base, member.size, binary)
                            f = tar.extractfile(member)  # a file object for every regular file
                            if f is not None:
                                blobs[base] = f.read()
            except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
                raise ValueError(f"{p}: corrupt or truncated tar archive ({exc})") from exc
        missing = [w for w in wanted if w not in blobs]
        if missing:
            raise ValueError(f"{p}: missing CIFAR-10 batches {', '.join(missing)}")
        return p, binary, [blobs[w] for w in wanted], wanted
    raise DataNotFoundError(f"{folder}: none of {', '.join(_CIFAR_LAYOUTS)}")


def _load_cifar_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """x_train, y_train, x_test, y_test (uint8 and int64) and the path read, from the first layout in ``folder``."""
    p, binary, blobs, names = _cifar_members(folder)
    parts = [read_cifar_batch(b, f"{p}:{n}", binary=binary) for b, n in zip(blobs, names)]
    n_train = len(_CIFAR_TRAIN)
    x_tr = np.concatenate([x for x, _ in parts[:n_train]])
    y_tr = np.concatenate([y for _, y in parts[:n_train]])
    x_te, y_te = parts[n_train]
    return x_tr, y_tr, x_te, y_te, str(p)
