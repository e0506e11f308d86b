"""Matrix-product providers: the BLAS libraries nnlite's dense and im2col products can run on.

A :class:`Provider` is one library's ``?gemm`` (float32 ``sgemm``, float64 ``dgemm``), called through its CBLAS
interface with :mod:`ctypes` (which releases the GIL for the call). Three are known:

``numpy``
    NumPy's own BLAS, always there: :meth:`Provider.matmul` is ``np.matmul`` itself, so a run on it computes exactly
    what it computed before providers existed; its ``gemm`` (the folded updates, :meth:`Provider.gemm`) calls the
    ``cblas_?gemm`` of the OpenBLAS that NumPy's wheel bundles (``numpy.libs``), or falls back to ``np.matmul``
    and one more pass when NumPy links a BLAS whose symbols are not found.
``mkl``
    Intel's oneMKL runtime, ``libmkl_rt`` as the ``mkl`` package of the package index installs it (the ``[mkl]``
    extra), or one on the loader's path.
``openblas``
    The OpenBLAS of the ``scipy-openblas32`` package (the ``[openblas]`` extra): often a newer release than the
    one NumPy bundles, with its own kernels for new processors.

Loading a provider loads its library into the process; :func:`nnlite.runtime.threads.refresh` then makes the thread
limits reach its pool as well (``threadpoolctl`` knows each of these libraries).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["KNOWN", "Provider", "ProviderUnavailable", "load"]

#: The providers nnlite knows, in the order ``auto`` tries them.
KNOWN = ("numpy", "mkl", "openblas")

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_LOADED: dict[str, Provider] = {}


class ProviderUnavailable(RuntimeError):
    """A provider's library is not installed on this machine (the message says which package brings it)."""


@dataclass(eq=False)
class Provider:
    """One BLAS library's matrix products.

    Attributes
    ----------
    name : str
        One of :data:`KNOWN`.
    version : str
        The library's own version string (e.g. ``"OpenBLAS 0.3.31 ..."`` or ``"Intel(R) oneAPI Math Kernel
        Library Version 2025.2 ..."``).
    path : str or None
        The shared library's file; None for ``numpy`` when NumPy's BLAS symbols were not found.
    """

    name: str
    version: str
    path: str | None
    _gemm: dict[Any, Callable[..., None]] = field(default_factory=dict, repr=False)

    @property
    def folds(self) -> bool:
        """True when :meth:`gemm` writes into its output in one library call (no temporary, no second pass)."""
        return bool(self._gemm)

    def matmul(self, a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``a @ b`` for 2-D ``a`` (M, K) and ``b`` (K, N), into ``out`` (M, N) when given.

        Operands may be C-ordered, transposed views of C-ordered arrays (``W.T``) or column slices with a row
        stride; anything else (other dtypes or ranks, mixed dtypes) runs on ``np.matmul``, as does every product
        of the ``numpy`` provider.
        """
        if self.name == "numpy" or not _fits(a, b, out):
            return np.matmul(a, b) if out is None else np.matmul(a, b, out=out)
        if out is None:
            out = np.empty((a.shape[0], b.shape[1]), a.dtype)
        self._call(a, b, out, 1.0, 0.0)
        return out

    def gemm(self, a: np.ndarray, b: np.ndarray, c: np.ndarray, *, alpha: float = 1.0, beta: float = 0.0) -> None:
        """``c <- alpha a @ b + beta c`` in place: one library call when the arrays allow (:meth:`matmul`'s
        layouts, ``c`` with unit column stride), else ``np.matmul`` and one pass (with ``beta == 0`` ``c``'s old
        values are never read, NaN included, as in BLAS)."""
        if self._gemm and _fits(a, b, c):
            self._call(a, b, c, alpha, beta)
            return
        prod = np.matmul(a, b)
        if alpha != 1.0:
            prod *= c.dtype.type(alpha)
        if beta == 0.0:
            c[...] = prod
        else:
            if beta != 1.0:
                c *= c.dtype.type(beta)
            c += prod

    def _call(self, a: np.ndarray, b: np.ndarray, c: np.ndarray, alpha: float, beta: float) -> None:
        ta, lda = _layout(a)
        tb, ldb = _layout(b)
        M, N = c.shape
        self._gemm[c.dtype.type](
            _ROW_MAJOR, ta, tb, M, N, a.shape[1], alpha, a.ctypes.data, lda, b.ctypes.data, ldb, beta,
            c.ctypes.data, c.strides[0] // c.itemsize,
        )  # fmt: skip


def _layout(a: np.ndarray) -> tuple[int, int]:
    """``(transpose flag, leading dimension)`` of a 2-D operand :func:`_fits` accepted."""
    item = a.itemsize
    if a.strides[1] == item:
        return _NO_TRANS, max(a.strides[0] // item, a.shape[1], 1)
    return _TRANS, max(a.strides[1] // item, a.shape[0], 1)


def _operand(a: np.ndarray) -> bool:
    item = a.itemsize
    s0, s1 = a.strides
    if s0 % item or s1 % item or s0 < 0 or s1 < 0:
        return False
    return (s1 == item and s0 >= a.shape[1] * item) or (s0 == item and s1 >= a.shape[0] * item)


def _fits(a: np.ndarray, b: np.ndarray, c: np.ndarray | None) -> bool:
    """True when ``a @ b`` (into ``c``) is one CBLAS call of this module: 2-D non-empty float32/float64 arrays of
    one dtype, aligned, with a unit stride on one axis (``c`` on its columns), ``c`` overlapping neither."""
    arrays = (a, b) if c is None else (a, b, c)
    if not all(isinstance(x, np.ndarray) and x.ndim == 2 and x.size for x in arrays):
        return False
    if a.dtype not in (np.float32, np.float64) or any(x.dtype != a.dtype for x in arrays):
        return False
    if a.shape[1] != b.shape[0] or not all(x.flags.aligned for x in arrays) or not (_operand(a) and _operand(b)):
        return False
    if c is None:
        return True
    if c.shape != (a.shape[0], b.shape[1]) or not c.flags.writeable:
        return False
    if c.strides[1] != c.itemsize or c.strides[0] < c.shape[1] * c.itemsize:
        return False
    return not (np.shares_memory(c, a) or np.shares_memory(c, b))


def _bind(lib: ctypes.CDLL, symbol: str, int_type: Any, scalar: Any) -> Callable[..., None]:
    f = getattr(lib, symbol)
    i, p = int_type, ctypes.c_void_p
    f.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, i, i, i, scalar, p, i, p, i, scalar, p, i]
    f.restype = None
    return f


def _numpy_blas() -> tuple[str | None, str, dict[Any, Callable[..., None]]]:
    """NumPy's bundled OpenBLAS: its file, version and ``?gemm`` (none when not found)."""
    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "libscipy_openblas*.so*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for suffix, int_type in (("64_", ctypes.c_int64), ("", ctypes.c_int)):
            if hasattr(lib, f"scipy_cblas_sgemm{suffix}") and hasattr(lib, f"scipy_cblas_dgemm{suffix}"):
                gemm = {
                    np.float32: _bind(lib, f"scipy_cblas_sgemm{suffix}", int_type, ctypes.c_float),
                    np.float64: _bind(lib, f"scipy_cblas_dgemm{suffix}", int_type, ctypes.c_double),
                }
                return os.path.realpath(path), _openblas_config(lib, f"scipy_openblas_get_config{suffix}"), gemm
    return None, f"NumPy {np.__version__}'s BLAS", {}


def _openblas_config(lib: ctypes.CDLL, symbol: str) -> str:
    f = getattr(lib, symbol, None)
    if f is None:
        return "OpenBLAS"
    f.restype = ctypes.c_char_p
    return str(f().decode(errors="replace")).strip()


def _mkl() -> Provider:
    candidates = sorted(glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*")))
    found = ctypes.util.find_library("mkl_rt")
    candidates += [found] if found else []
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        buf = ctypes.create_string_buffer(256)
        lib.MKL_Get_Version_String(buf, 256)
        gemm = {
            np.float32: _bind(lib, "cblas_sgemm", ctypes.c_int, ctypes.c_float),
            np.float64: _bind(lib, "cblas_dgemm", ctypes.c_int, ctypes.c_double),
        }
        return Provider("mkl", buf.value.decode(errors="replace").strip(), os.path.realpath(path), gemm)
    raise ProviderUnavailable("oneMKL is not installed: pip install 'nnlite[mkl]' (the mkl package)")


def _openblas() -> Provider:
    try:
        scipy_openblas32 = importlib.import_module("scipy_openblas32")
    except ImportError:
        raise ProviderUnavailable(
            "the openblas provider needs the scipy-openblas32 package: pip install 'nnlite[openblas]'"
        ) from None
    found = sorted(glob.glob(os.path.join(scipy_openblas32.get_lib_dir(), "lib*openblas*.so*")))
    if not found:
        raise ProviderUnavailable(f"no OpenBLAS library in {scipy_openblas32.get_lib_dir()}")
    path = found[0]
    lib = ctypes.CDLL(path)
    gemm = {
        np.float32: _bind(lib, "scipy_cblas_sgemm", ctypes.c_int, ctypes.c_float),
        np.float64: _bind(lib, "scipy_cblas_dgemm", ctypes.c_int, ctypes.c_double),
    }
    return Provider("openblas", _openblas_config(lib, "scipy_openblas_get_config"), os.path.realpath(path), gemm)


def load(name: str) -> Provider:
    """The provider ``name`` (one of :data:`KNOWN`), its library loaded once per process.

    Raises
    ------
    ValueError
        For a name nnlite does not know.
    ProviderUnavailable
        When its library is not installed.
    """
    if name not in KNOWN:
        raise ValueError(f"unknown matrix-product provider {name!r}; known: {', '.join(KNOWN)}")
    if name not in _LOADED:
        if name == "numpy":
            path, version, gemm = _numpy_blas()
            _LOADED[name] = Provider("numpy", version, path, gemm)
        else:
            _LOADED[name] = _mkl() if name == "mkl" else _openblas()
            from ..runtime import threads

            threads.refresh()  # the thread limits reach the new library's pool from now on
    return _LOADED[name]
