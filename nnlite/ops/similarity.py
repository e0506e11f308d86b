"""The pieces of Nøkland & Eidnes's (2019) local losses, as forward/backward pairs: the batch's similarity matrix,
the per-channel spatial standard deviation it is taken of for feature maps, the similarity-matching loss, and the
zero-padded average pooling before a conv block's local classifier.

Each follows the authors' code (github.com/anokland/local-loss, ``train.py``): ``similarity_matrix``, the
``avg_pool`` of ``LocalLossBlockConv`` (``count_include_pad``, PyTorch's default) and the size its loop picks for
it (``dim_in_decoder``, 4096 features). Scalars that touch arrays are Python floats, so float32 stays float32.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "EPS",
    "MAX_CLASSIFIER_INPUTS",
    "avgpool_padded",
    "avgpool_padded_backward",
    "classifier_pool",
    "similarity_features",
    "similarity_features_backward",
    "similarity_loss",
    "similarity_matrix",
    "similarity_matrix_backward",
]

#: The authors' ``1e-8`` in the norm of ``similarity_matrix``.
EPS = 1e-8
#: The authors' ``--dim-in-decoder`` default: a conv block's classifier sees at most this many pooled features.
MAX_CLASSIFIER_INPUTS = 4096


def similarity_features(z: np.ndarray) -> tuple[np.ndarray, tuple]:
    """What the similarity matrix is taken of: for feature maps (N, C, H, W) with C > 3 and H > 1, the standard
    deviation of each channel over its H W positions (Bessel-corrected, as ``torch.std``), shape (N, C); else ``z``
    flattened to (N, D)."""
    N = z.shape[0]
    if z.ndim == 4 and z.shape[1] > 3 and z.shape[2] > 1:
        flat = z.reshape(N, z.shape[1], -1)
        d = flat - flat.mean(axis=2, keepdims=True)
        s = np.sqrt((d * d).sum(axis=2) / float(flat.shape[2] - 1))
        return s, ("std", z.shape, d, s)
    return z.reshape(N, -1), ("flat", z.shape)


def similarity_features_backward(dx: np.ndarray, cache: tuple) -> np.ndarray:
    """``dz`` of :func:`similarity_features` (``ds/dz_p = (z_p - mean) / ((P - 1) s)``; 0 where ``s = 0``)."""
    if cache[0] == "flat":
        return dx.reshape(cache[1])
    _, shape, d, s = cache
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(s > 0, dx / (s * float(d.shape[2] - 1)), 0).astype(dx.dtype)
    return (d * w[:, :, None]).reshape(shape)


def similarity_matrix(x: np.ndarray) -> tuple[np.ndarray, tuple]:
    """The batch's adjusted cosine similarities ``R`` (N, N) of the rows of ``x`` (N, D).

    Notes
    -----
    ``xc = x - mean_row(x)``, ``xn = xc / (EPS + |xc|)``, ``R = clip(xn xn^T, -1, 1)`` (the authors'
    ``similarity_matrix``).
    """
    xc = x - x.mean(axis=1, keepdims=True)
    s = np.sqrt((xc * xc).sum(axis=1))
    n = s + EPS
    xn = xc / n[:, None]
    P = xn @ xn.T
    return np.clip(P, -1.0, 1.0), (xc, s, n, xn, (P >= -1.0) & (P <= 1.0))


def similarity_matrix_backward(dR: np.ndarray, cache: tuple) -> np.ndarray:
    """``dx`` (N, D) of :func:`similarity_matrix` from ``dR`` (N, N): the clip passes the gradient where
    ``-1 <= P <= 1``; ``dxn = (dR + dR^T) xn``; ``dxc = dxn / n - xc (dxn . xc) / (n^2 s)`` (0 where ``s = 0``);
    ``dx = dxc - mean_row(dxc)``."""
    xc, s, n, xn, inside = cache
    dP = np.where(inside, dR, 0).astype(dR.dtype)
    dxn = (dP + dP.T) @ xn
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(s > 0, (dxn * xc).sum(axis=1) / (n * n * s), 0).astype(dR.dtype)
    dxc = dxn / n[:, None] - xc * c[:, None]
    return dxc - dxc.mean(axis=1, keepdims=True)


def similarity_loss(R: np.ndarray, Ry: np.ndarray) -> tuple[float, np.ndarray]:
    """``L = mean((R - Ry)^2)`` over the N^2 entries (``F.mse_loss``) and ``dL/dR = 2 (R - Ry) / N^2``."""
    d = R - Ry
    return float((d * d).mean()), d * (2.0 / d.size)


def classifier_pool(shape: tuple[int, ...], max_inputs: int = MAX_CLASSIFIER_INPUTS) -> tuple[int, int, int, int]:
    """The average pooling ``(kh, kw, ph, pw)`` before a conv block's classifier, for a block output of ``shape``
    (C, H, W): the authors' loop doubles the window's height, then its width, while the pooled map has more than
    ``max_inputs`` features (and the height is below H), and pads so that the pooled size is ``ceil(H / kh)``."""
    C, H, W = shape
    kh, kw, oh, ow = 1, 1, H, W
    while C * oh * ow > max_inputs and kh < H:
        kh *= 2
        oh = math.ceil(H / kh)
        if C * oh * ow > max_inputs and kw < W:
            kw *= 2
            ow = math.ceil(W / kw)
    return kh, kw, (kh * (oh - H // kh)) // 2, (kw * (ow - W // kw)) // 2


def avgpool_padded(x: np.ndarray, kh: int, kw: int, ph: int, pw: int) -> np.ndarray:
    """Average pooling of (N, C, H, W) in ``kh x kw`` windows at stride ``(kh, kw)`` after zero padding ``(ph, pw)``
    on each side, the zeros counted in every mean (PyTorch's ``AvgPool2d(count_include_pad=True)``)."""
    N, C, H, W = x.shape
    OH, OW = (H + 2 * ph - kh) // kh + 1, (W + 2 * pw - kw) // kw + 1
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    return xp[:, :, : OH * kh, : OW * kw].reshape(N, C, OH, kh, OW, kw).mean(axis=(3, 5))


def avgpool_padded_backward(
    dout: np.ndarray, x_shape: tuple[int, ...], kh: int, kw: int, ph: int, pw: int
) -> np.ndarray:
    """``dx`` (``x_shape``) of :func:`avgpool_padded`: each input in a window gets ``dout / (kh kw)``."""
    N, C, H, W = x_shape
    OH, OW = dout.shape[2], dout.shape[3]
    g = np.broadcast_to((dout / float(kh * kw))[:, :, :, None, :, None], (N, C, OH, kh, OW, kw))
    dxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=dout.dtype)
    dxp[:, :, : OH * kh, : OW * kw] = g.reshape(N, C, OH * kh, OW * kw)
    return dxp[:, :, ph : ph + H, pw : pw + W]
