"""Optical projection through LightOn's OPU (lightonml), or its CPU simulator when no device is present.

lightonml is an optional extra, imported inside the methods that need it.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from nnlite.kernels import ternarize

from .._validation import SeedLike
from .base import Projection, as_generator, check_dims, check_float_dtype

__all__ = ["OPU"]

_INSTALL = 'pip install --no-deps lightonml && pip install numexpr attrs requests "setuptools<81"'


def _import_lightonml():
    try:
        with warnings.catch_warnings():
            # lightonml 1.4.3 imports pkg_resources, which setuptools deprecates: not our user's concern.
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            import lightonml.opu
            from lightonml.internal import config
            from lightonml.internal.simulated_device import SimulatedOpuDevice
    except ImportError as exc:
        raise ImportError(
            f"the OPU projection needs lightonml (the [opu] extra); install it with: {_INSTALL} (import failed: {exc})"
        ) from exc
    return lightonml.opu.OPU, SimulatedOpuDevice, config


def _hardware_present(config):
    """True when lightonopu (the device driver) is importable and the host has an OPU configuration."""
    return importlib.util.find_spec("lightonopu") is not None and bool(config.host_has_opu_config())


class OPU(Projection):
    """Random projection of the ternarised error through an optical processing unit.

    Parameters
    ----------
    n_in : int
        Size of the error (C): the number of binary features sent to the device.
    n_out : int
        Size of the feedback space (the device's ``n_components``).
    threshold : float, >= 0 (default 0.4)
        Ternarisation threshold ``t``, in the units of ``e``: code +1 where ``e > t``, -1 where ``e < -t``.
        Note that ``e`` carries the ``1/N`` of the mean loss: prefer ``relative=True``.
    relative : bool (default True)
        If True, the threshold is a fraction of each sample's largest ``|e_n,i|``: code +1 where
        ``e_n,i > threshold * max_i |e_n,i|``, and so on. Independent of the batch size and of the loss's scale;
        The default, ``threshold=0.4, relative=True``, keeps DFA on Fashion-MNIST as accurate as Gaussian
        feedback, where pure signs (``threshold=0``) cost several points (figures in
        docs/user-guide/projections.md, "The OPU").
    simulated : None or bool
        ``True``: lightonml's CPU simulator; ``False``: the real device (error if absent);
        ``None``: the real device if one is present (lightonopu importable and an OPU config on the host),
        else the simulator. ``repr`` and ``self.simulated`` say which.
    seed : None, int or numpy.random.Generator
        Simulator only: draws the 32-bit seed of the simulator's random matrix, so one seed gives one matrix.
        A physical device's matrix cannot be seeded: passing a seed with the real device raises ValueError.
    dtype : float32 or float64
        Dtype of inputs and outputs. The device and the simulator compute in float32 either way.

    Attributes
    ----------
    simulated : bool
    unit_scale : float
        ``1 / sqrt(n_out)``, see Notes.

    Notes
    -----
    The device computes ``R x`` for binary ``x``, ``R`` a fixed complex Gaussian matrix, and
    ``linear_transform`` returns the real part. In lightonml 1.4.3's simulator, ``R`` has shape ``(n_in, n_out)``
    (drawn by ``SimulatedOpuDevice.build_random_matrix`` from ``np.random.RandomState(seed)``; deterministic given
    the seed), real and imaginary parts i.i.d. ``N(0, 1/n_in)``, and ``linear_transform(x) = Re(x @ R)`` exactly
    (float32). lightonml's default ``rescale="variance"`` divides the output by ``stdev * sqrt(n_in)``: right for
    the hardware (whose raw entries have standard deviation ``stdev``) but, for the simulator whose matrix is
    already scaled, it would give entries of variance ``1/n_in**2``. So the simulator runs with
    ``rescale="none"`` and the hardware with ``rescale="variance"``: in both cases the effective matrix
    ``A = Re(R).T``, shape (n_out, n_in), has entries of variance ``1 / n_in``.

    Projection. With ``t = ternarize(e, threshold)`` in {-1, 0, +1}, ``e+ = (t == 1)``, ``e- = (t == -1)`` (uint8,
    sent stacked in one ``linear_transform`` call of ``2N`` rows)::

        P(e)_n = unit_scale * m_n * (A e+_n - A e-_n),   unit_scale = 1 / sqrt(n_out),
        m_n = mean of |e_n,i| over the entries with |e_n,i| > threshold   (0 if there are none).

    ``unit_scale * A`` has entry variance ``1 / (n_out * n_in)``, Gaussian's (Launay et al. eq. 7), so for inputs
    whose ternary code is their sign pattern with unit magnitudes (binary {0,1} or +-1 inputs, where
    ``m_n = 1``), ``P(e) = unit_scale * Re(R-product)`` exactly. Ternarisation throws away the magnitude of ``e``;
    ``m_n`` puts it back: it is the least-squares scalar ``argmin_a ||e_n - a t_n||`` (``<e_n, t_n> / <t_n, t_n>``),
    so ``m_n t_n`` is the best multiple of the code approximating ``e_n`` and ``P(e) ~ unit_scale * A e`` when the
    kept entries have similar magnitudes; in particular ``P`` is positively homogeneous, ``P(c e) = c P(e)`` for
    ``c > 0`` (with the threshold scaled too), and its output has the size DFA expects. The scale is per sample
    (not per batch) so that one sample's large error does not inflate the others' feedback.

    ``transpose`` is not available: the device cannot apply ``R^T``, so LAFS (which needs ``y @ B``) cannot use
    this projection. ``nbytes`` is the host memory: the simulator's complex64 matrix ``n_in * n_out * 8`` bytes
    (labelled in ``repr``), 0 for the real device (its matrix is physical).

    The device is opened lazily by the first projection if it is not open; ``with OPU(...) as p:`` or
    ``open()``/``close()`` control it explicitly.

    Examples
    --------
    >>> import numpy as np
    >>> from nnlite.projections import OPU
    >>> p = OPU(10, 64, simulated=True, seed=0)  # lightonml's simulator
    >>> p(np.ones((4, 10), np.float32)).shape
    (4, 64)
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        threshold: float = 0.4,
        relative: bool = True,
        simulated: bool | None = None,
        seed: SeedLike = None,
        dtype: DTypeLike = np.float32,
    ):
        n_in, n_out = check_dims(n_in, n_out)
        dt = check_float_dtype(dtype)
        threshold = float(threshold)
        if not (math.isfinite(threshold) and threshold >= 0.0):
            raise ValueError(f"threshold must be finite and >= 0, got {threshold}")
        if simulated not in (None, True, False):
            raise TypeError(f"simulated must be None, True or False, got {simulated!r}")
        lightonml_OPU, SimulatedOpuDevice, config = _import_lightonml()
        if simulated is None:
            simulated = not _hardware_present(config)
        self.n_in, self.n_out, self.dtype = n_in, n_out, dt
        if relative and threshold >= 1.0:
            raise ValueError(f"a relative threshold must be < 1 (a fraction of each sample's max |e|), got {threshold}")
        self.threshold = threshold
        self.relative = bool(relative)
        self.simulated = bool(simulated)
        self.unit_scale = 1.0 / math.sqrt(n_out)
        if self.simulated:
            sim_seed = int(as_generator(seed).integers(0, 2**32))
            device = SimulatedOpuDevice()
            device.build_random_matrix(n_in, n_out, seed=sim_seed)
            self._opu = lightonml_OPU(
                n_components=n_out,
                opu_device=device,
                max_n_features=n_in,
                rescale="none",
                open_at_init=False,
                disable_pbar=True,
            )
            self.sim_seed: int | None = sim_seed
        else:
            if seed is not None:
                raise ValueError(
                    "seed cannot be set on a real OPU: its random matrix is physical; "
                    "pass simulated=True for a seeded simulator"
                )
            self._opu = lightonml_OPU(n_components=n_out, rescale="variance", open_at_init=False, disable_pbar=True)
            self.sim_seed = None
        self._fitted = False

    # ------------------------------------------------------------------ device life cycle
    @property
    def is_open(self) -> bool:
        return bool(self._opu.device.active)

    def open(self) -> OPU:
        """Acquire the device (no-op if open) and configure it for ``n_in`` 1-D features. Returns self."""
        self._opu.open()
        if not self._fitted:
            self._opu.fit1d(n_features=self.n_in)
            self._fitted = True
        return self

    def close(self) -> None:
        """Release the device."""
        self._opu.close()

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
        return False

    # ------------------------------------------------------------------ projection
    @property
    def simulator_matrix(self) -> np.ndarray | None:
        """The simulator's complex64 matrix ``R``, shape (n_in, n_out) (None on a real device)."""
        return self._opu.device.random_matrix if self.simulated else None

    @property
    def nbytes(self) -> int:
        """Bytes of host memory the projection holds."""
        if self.simulated:
            return int(self._opu.device.random_matrix.nbytes)
        return 0

    name = "opu"

    @classmethod
    def memory(cls, n_in: int, n_out: int, dtype: DTypeLike = np.float32, **options: Any) -> dict[str, int]:
        """0 on the device (its matrix is physical); the simulator's complex64 matrix ``8 n_in n_out``."""
        return {"opu": 0, "opu_simulator": 8 * n_in * n_out}

    def _forward(self, e):
        N = e.shape[0]
        if self.relative:
            peak = np.abs(e).max(axis=1, keepdims=True)
            peak[peak == 0] = 1
            t = ternarize(np.ascontiguousarray(e / peak), self.threshold)
        else:
            t = ternarize(np.ascontiguousarray(e), self.threshold)
        x = np.empty((2 * N, self.n_in), dtype=np.uint8)
        np.equal(t, 1, out=x[:N], casting="unsafe")
        np.equal(t, -1, out=x[N:], casting="unsafe")
        kept = t != 0
        count = kept.sum(axis=1)
        total = np.where(kept, np.abs(e), np.zeros((), dtype=e.dtype)).sum(axis=1)
        m = np.zeros(N, dtype=self.dtype)
        np.divide(total, count, out=m, where=count > 0, casting="unsafe")
        if not self.is_open:
            self.open()
        r = np.asarray(self._opu.linear_transform(x))
        out = np.subtract(r[:N], r[N:], dtype=self.dtype)
        out *= m[:, None]
        out *= self.unit_scale
        return out

    #: The device computes R x only, never R^T y (overrides the base class's derived property).
    has_transpose = False

    def _adjoint(self, y):
        raise NotImplementedError(
            "OPU cannot apply its transpose (y @ B): the optical device only computes R x, never R^T y. "
            "LAFS needs the transpose for its readouts, so use Gaussian or Fastfood with LAFS."
        )

    def __repr__(self):
        kind = "simulator" if self.simulated else "hardware"
        mem = (
            f"host nbytes={self.nbytes} (simulator's complex64 matrix)"
            if self.simulated
            else "host nbytes=0 (matrix is physical)"
        )
        rel = ", relative" if self.relative else ""
        return (
            f"OPU(n_in={self.n_in}, n_out={self.n_out}, threshold={self.threshold}{rel}, {kind}, "
            f"dtype={self.dtype.name}, {mem})"
        )
