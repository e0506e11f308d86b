"""Batch normalisation over features (N, D) and over channels (N, C, H, W): forward and hand-derived backward.

Statistics are taken per feature ``d`` (layout (N, D)) or per channel ``c`` over the batch and both spatial axes
(layout (N, C, H, W)); ``M`` is the number of values per statistic (``N`` or ``N*H*W``).
"""

from __future__ import annotations

import numpy as np

from ._checks import check_grad

__all__ = ["batchnorm_forward", "batchnorm_backward", "batchnorm_axes", "update_running"]


def batchnorm_axes(ndim: int) -> tuple[int, ...]:
    """Axes reduced by batch norm for an input of ``ndim`` dimensions: (0,) for (N, D), (0, 2, 3) for NCHW."""
    if ndim == 2:
        return (0,)
    if ndim == 4:
        return (0, 2, 3)
    raise ValueError(f"batch norm takes (N, D) or (N, C, H, W) input, got {ndim} dimensions")


def _bshape(ndim, n):
    return (1, n) if ndim == 2 else (1, n, 1, 1)


def batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float = 1e-5,
    mean: np.ndarray | None = None,
    var: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple]:
    """Batch normalisation.

    Parameters
    ----------
    x : ndarray, shape (N, D) or (N, C, H, W)
    gamma, beta : ndarray, shape (D,) or (C,)
        Scale and shift.
    eps : float
    mean, var : ndarray, shape (D,) or (C,), optional
        Evaluation mode: normalise with these (running) statistics. When both are None (training mode) the
        batch's own statistics are used.

    Returns
    -------
    out : ndarray, x's shape and dtype
    cache : tuple
        ``(xhat, inv_std, gamma, axes, mu, var_b, train)``: the normalised input, ``1/sqrt(var + eps)`` (D,),
        the scale, the reduced axes, and in training mode the batch mean and biased batch variance.

    Notes
    -----
    Training: ``mu = mean(x)``, ``var_b = mean((x - mu)**2)`` (biased) over the reduced axes,
    ``xhat = (x - mu) / sqrt(var_b + eps)``, ``out = gamma * xhat + beta``.
    Evaluation: the same with the given ``mean``, ``var``.
    """
    axes = batchnorm_axes(x.ndim)
    bs = _bshape(x.ndim, x.shape[1])
    eps = float(eps)
    train = mean is None and var is None
    if train:
        mu = x.mean(axis=axes)
        xc = x - mu.reshape(bs)
        var_b = np.mean(xc * xc, axis=axes)
    else:
        if mean is None or var is None:
            raise ValueError("evaluation mode needs both mean and var")
        mu, var_b = mean, var
        xc = x - mu.reshape(bs).astype(x.dtype, copy=False)
    inv_std = (1.0 / np.sqrt(var_b + eps)).astype(x.dtype, copy=False)
    xhat = xc
    xhat *= inv_std.reshape(bs)
    out = xhat * gamma.reshape(bs)
    out += beta.reshape(bs)
    return out, (xhat, inv_std, gamma, axes, mu, var_b, train)


def batchnorm_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of batch normalisation.

    Parameters
    ----------
    dout : ndarray, x's shape
    cache : tuple from :func:`batchnorm_forward`

    Returns
    -------
    dx : ndarray, x's shape
    dgamma, dbeta : ndarray, shape (D,) or (C,)

    Notes
    -----
    Write ``s = 1/sqrt(var_b + eps)``, sums over the ``M`` values of one feature/channel, ``g = dout``.
    ``dbeta = sum g``, ``dgamma = sum g * xhat``, and with ``dxhat = gamma * g``:

    - through ``xhat = (x - mu) s`` directly: ``dxhat * s``;
    - through ``var_b``: ``dL/dvar_b = sum dxhat (x - mu) * (-1/2) s**3``, and ``dvar_b/dx_m = 2 (x_m - mu) / M``
      (the ``mu`` term of that derivative sums to zero), giving ``-s * xhat * sum(dxhat * xhat) / M``;
    - through ``mu``: ``dL/dmu = -s sum dxhat + dL/dvar_b * (-2/M) sum (x - mu)`` where the last sum is 0, and
      ``dmu/dx_m = 1/M``, giving ``-s * sum(dxhat) / M``.

    Hence ``dx = s/M * (M dxhat - sum dxhat - xhat sum(dxhat xhat))
    = gamma s (g - dbeta/M - xhat dgamma/M)``.

    In evaluation mode the statistics are constants and ``dx = gamma s g``.
    """
    xhat, inv_std, gamma, axes, _, _, train = cache
    check_grad(dout, xhat.shape, xhat.dtype, "batchnorm_backward")
    bs = _bshape(dout.ndim, dout.shape[1])
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * xhat).sum(axis=axes)
    scale = (gamma * inv_std).reshape(bs)
    if not train:
        return dout * scale, dgamma, dbeta
    M = dout.size // dout.shape[1]
    inv_m = 1.0 / M
    dx = xhat * (dgamma * inv_m).reshape(bs)
    dx += (dbeta * inv_m).reshape(bs)
    np.subtract(dout, dx, out=dx)
    dx *= scale
    return dx, dgamma, dbeta


def update_running(
    running_mean: np.ndarray, running_var: np.ndarray, cache: tuple, momentum: float, n_per_stat: int
) -> None:
    """Update running statistics in place from a training-mode cache (exponential moving average).

    Parameters
    ----------
    running_mean, running_var : ndarray, shape (D,) or (C,)
        Updated in place.
    cache : tuple from :func:`batchnorm_forward` in training mode
    momentum : float
    n_per_stat : int
        ``M``, the number of values behind each statistic.

    Notes
    -----
    ``running_mean <- (1 - momentum) running_mean + momentum mu``;
    ``running_var <- (1 - momentum) running_var + momentum var_b M/(M-1)`` (the unbiased variance, as PyTorch).
    """
    _, _, _, _, mu, var_b, train = cache
    if not train:
        return
    m = float(momentum)
    unbias = float(n_per_stat) / float(n_per_stat - 1) if n_per_stat > 1 else 1.0
    running_mean *= 1.0 - m
    running_mean += (m * mu).astype(running_mean.dtype, copy=False)
    running_var *= 1.0 - m
    running_var += (m * unbias * var_b).astype(running_var.dtype, copy=False)
