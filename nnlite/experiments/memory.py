"""Feedback memory without allocation (Launay et al., Table 1): the bytes each DFA layout and each projection
back end would hold for a network described only by its feedback sizes ``l_k``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from .._validation import float_dtype, positive_int
from ..projections import OPU, Fastfood, Gaussian, Projection, Sparse

__all__ = ["VGG16", "feedback_memory", "vgg16_feedback_sizes"]

#: VGG-16 (Simonyan & Zisserman, configuration D): conv 3x3 filters, "M" a 2x2 max pooling, then the two hidden
#: fully connected layers of 4096 and the 1000-way classifier.
VGG16: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
VGG16_FC = (4096, 4096)


def vgg16_feedback_sizes(image_size: int = 224) -> list[int]:
    """The feedback sizes ``l_k`` of VGG-16's 15 hidden weight layers.

    Parameters
    ----------
    image_size : int
        H = W of the input image (224 for ImageNet); at least 32, so that five poolings leave a pixel.

    Returns
    -------
    list of int, length 15
        ``F * H_k * W_k`` at the output of each of the 13 convolutions (3x3, padding 1: the spatial size of the
        convolution's input), then 4096 and 4096 for the two hidden fully connected layers.

    Notes
    -----
    The feedback point of a convolution is its whole ``(F, H, W)`` output, before the pooling that may follow;
    each pooling halves ``H`` and ``W`` (floor). At 224: 2 x 64·224², 2 x 128·112², 3 x 256·56², 3 x 512·28²,
    3 x 512·14², 4096, 4096.
    """
    size = positive_int(image_size, "image_size", minimum=32)
    sizes = []
    for v in VGG16:
        if v == "M":
            size //= 2
        else:
            sizes.append(int(v) * size * size)
    return sizes + list(VGG16_FC)


def feedback_memory(
    feedback_sizes: Sequence[int],
    n_classes: int,
    *,
    dtype: DTypeLike = np.float32,
    back_ends: Sequence[type[Projection]] = (Gaussian, Fastfood, Sparse, OPU),
    nonzeros_per_row: int = 1,
) -> dict[str, int]:
    """Bytes of DFA's feedback matrices for feedback sizes ``l_k`` and ``C`` classes, computed, not allocated.

    Parameters
    ----------
    feedback_sizes : sequence of int
        ``l_k``, the units at each hidden feedback point (``Sequential.feedback_sizes``, or
        :func:`vgg16_feedback_sizes`).
    n_classes : int
        C, the length of the error ``e``.
    dtype : float32 (default) or float64
        The dtype of the feedback matrices.
    back_ends : sequence of Projection classes
        Which back ends to report, for the unified layout (one projection ``(n_out, n_in) = (l_max, C)``).
    nonzeros_per_row : int
        ``k`` for :class:`~nnlite.projections.Sparse`, in ``[1, C]``.

    Returns
    -------
    dict of str to int
        Bytes of: ``"naive"`` (independent DFA, ``sum_k l_k C`` entries), ``"unified"`` (Launay et al.'s one
        matrix, ``l_max C`` entries), and for each back end asked for: ``"gaussian"`` (the dense matrix),
        ``"fastfood"``, ``"sparse"``, ``"opu"`` (0: the matrix is physical) and ``"opu_simulator"`` (the
        simulator's complex64 matrix). Each equals the ``nbytes`` of the projection built with these sizes.

    Notes
    -----
    With ``s`` the dtype's itemsize, ``n_in = C``, ``n_out = l_max = max_k l_k``:

    - naive ``= s C sum_k l_k``; unified ``= Gaussian = s C l_max``;
    - Fastfood, ``d = 2^ceil(log2 C)``, ``n_b = ceil(l_max / d)`` blocks: three float diagonals and one gather
      index, ``n_b d (3 s + i)`` with ``i = 4`` (int32) unless ``n_b d > 2^31 - 1`` (int64, 8);
    - Sparse (CSR, ``k`` nonzeros per row): ``l_max k (s + i) + (l_max + 1) i``, ``i = 8`` when
      ``max(l_max k, l_max, C) > 2^31 - 1`` (SciPy's index dtype), else 4;
    - OPU: 0 on hardware; the simulator ``8 C l_max`` (complex64).
    """
    sizes = [positive_int(l, "feedback size") for l in feedback_sizes]
    if not sizes:
        raise ValueError("feedback_sizes must list at least one hidden feedback size l_k, got none")
    C = positive_int(n_classes, "n_classes")
    s = float_dtype(dtype).itemsize
    k = positive_int(nonzeros_per_row, "nonzeros_per_row")
    if k > C:
        raise ValueError(f"nonzeros_per_row must be in [1, n_classes={C}], got {k}")
    n_out = max(sizes)
    out = {"naive": s * C * sum(sizes), "unified": s * C * n_out}
    for cls in back_ends:
        if not (isinstance(cls, type) and issubclass(cls, Projection)):
            raise TypeError(f"back_ends must hold Projection classes such as Gaussian or Fastfood, got {cls!r}")
        out.update(cls.memory(C, n_out, dtype, nonzeros_per_row=k))
    return out
