"""Fully connected layer: forward and hand-derived backward.

Shapes: x (N, D_in), W (D_out, D_in), b (D_out,), a (N, D_out).
"""

from __future__ import annotations

import numpy as np

from ._checks import check_grad


def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Affine map ``a = x @ W.T + b``.

    Parameters
    ----------
    x : ndarray, shape (N, D_in)
    W : ndarray, shape (D_out, D_in)
    b : ndarray, shape (D_out,), or None

    Returns
    -------
    a : ndarray, shape (N, D_out)
    cache : ndarray
        The input ``x``, all the backward pass needs.
    """
    a = x @ W.T
    if b is not None:
        a += b
    return a, x


def dense_backward(
    dout: np.ndarray,
    cache: np.ndarray,
    W: np.ndarray,
    *,
    feedback: np.ndarray | None = None,
    need_dx: bool = True,
    need_db: bool = True,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Gradients of the affine map.

    Parameters
    ----------
    dout : ndarray, shape (N, D_out)
        ``dL/da``.
    cache : ndarray, shape (N, D_in)
        The forward input ``x``.
    W : ndarray, shape (D_out, D_in)
    feedback : ndarray, shape (D_out, D_in), optional
        Matrix used in place of ``W`` to send the error down (Feedback Alignment).
    need_dx : bool
        When False the ``dx`` product is skipped and ``dx`` is None.
    need_db : bool
        When False (a layer without bias) ``db`` is None.

    Returns
    -------
    dx : ndarray, shape (N, D_in), or None
    dW : ndarray, shape (D_out, D_in)
    db : ndarray, shape (D_out,), or None

    Notes
    -----
    ``dW = dout.T @ x``, ``db = sum_n dout[n]``, ``dx = dout @ W`` (or ``dout @ B`` with feedback ``B``).
    """
    x = cache
    check_grad(dout, (x.shape[0], W.shape[0]), np.result_type(x.dtype, W.dtype), "dense_backward")
    dW = dout.T @ x
    db = None
    if need_db:
        db = dout.sum(axis=0)
    dx = None
    if need_dx:
        dx = dout @ (W if feedback is None else feedback)
    return dx, dW, db
