"""Fused elementwise kernels of the training step: what NumPy does in several passes, done in one.

Each kernel reads its inputs once and writes its output once, with no temporaries:

* ``tanh_grad``, ``sigmoid_grad``, ``relu_grad``: ``dout * f'(.)`` with the derivative taken from the cached
  output ``y`` (NumPy: 2-3 passes and 1-2 temporaries of shape (N, D));
* ``softmax_xent``: the softmax cross-entropy loss and its error ``e = (softmax(z) - onehot(y)) / N`` in one sweep
  per row (NumPy: about ten small calls);
* ``column_sums``: the bias gradient ``sum_n dout[n]``;
* ``sgd_step``, ``adam_step``, ``rmsprop_step``: an optimizer update of one parameter array in one pass over
  ``p``, its state and ``g`` (NumPy: 3-6 passes and temporaries the size of the parameter; on the 1.9M
  parameters of a 784-800-800-800-10 MLP this is the largest elementwise cost of a step).

Scalars are passed in the arrays' dtype, so float32 arrays are computed in float32 arithmetic as NumPy does (an
integer literal such as ``1 - y`` inside a jitted body would promote float32 to float64 and halve the speed), and
every kernel uses NumPy's error model (a division by zero gives inf, as in NumPy): Python's error model checks each
divisor and stops LLVM from vectorising the loop (Adam's update is ~6x slower with it).
Every kernel has a NumPy twin in :mod:`nnlite.ops` (activations, dense, losses, updates);
:mod:`nnlite.backend` picks one or the other. The jitted bodies only compute;
the public wrappers check shapes, dtypes and contiguity first.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._checks import check_float_array

__all__ = [
    "tanh_grad",
    "sigmoid_grad",
    "relu_grad",
    "softmax_xent",
    "column_sums",
    "sgd_step",
    "adam_step",
    "rmsprop_step",
]


# -- jitted bodies (flat, C-contiguous arrays) ---------------------------------------------------------------------
@numba.njit(cache=True, nogil=True, error_model="numpy")
def _tanh_grad(dout, y, out, one):
    for i in range(out.size):
        yi = y[i]
        out[i] = dout[i] * (one - yi * yi)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _sigmoid_grad(dout, y, out, one):
    for i in range(out.size):
        yi = y[i]
        out[i] = dout[i] * (yi * (one - yi))


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _relu_grad(dout, y, out, zero):
    for i in range(out.size):
        out[i] = dout[i] if y[i] > zero else zero


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _softmax_xent(z, labels, e, inv_n):
    n, c = z.shape
    total = 0.0
    for r in range(n):
        m = z[r, 0]
        for j in range(1, c):
            if z[r, j] > m:
                m = z[r, j]
        s = inv_n * 0
        # a row whose maximum is +inf: z - m is 0 at its +inf entries (inf - inf would be NaN), -inf elsewhere
        inf_row = m == math.inf
        for j in range(c):
            d = z[r, j] - m
            if inf_row and z[r, j] == m:
                d = s * 0
            t = math.exp(d)
            e[r, j] = t
            s += t
        lab = labels[r]
        # -log softmax(z)[label] = log(s) - (z[label] - m)
        d = z[r, lab] - m
        if inf_row and z[r, lab] == m:
            d = s * 0
        total += math.log(s) - d
        inv_s = (inv_n * 0 + 1) / s
        for j in range(c):
            e[r, j] = e[r, j] * inv_s * inv_n
        e[r, lab] -= inv_n
    return total


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _column_sums(x, out):
    n, d = x.shape
    for j in range(d):
        out[j] = 0
    for r in range(n):
        for j in range(d):
            out[j] += x[r, j]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _sgd_plain(p, g, lr, wd):
    for i in range(p.size):
        p[i] -= lr * (g[i] + wd * p[i])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _sgd_momentum(p, v, g, lr, mu, wd, nesterov):
    if nesterov:
        for i in range(p.size):
            gi = g[i] + wd * p[i]
            vi = mu * v[i] + gi
            v[i] = vi
            p[i] -= lr * (gi + mu * vi)
    else:
        for i in range(p.size):
            vi = mu * v[i] + (g[i] + wd * p[i])
            v[i] = vi
            p[i] -= lr * vi


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _adam(p, m, v, g, lr_t, b1, b2, c1, c2, eps):
    for i in range(p.size):
        gi = g[i]
        mi = b1 * m[i] + c1 * gi
        vi = b2 * v[i] + c2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        p[i] -= lr_t * mi / (np.sqrt(vi) + eps)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _rmsprop(p, s, g, lr, rho, c, eps):
    for i in range(p.size):
        gi = g[i]
        si = rho * s[i] + c * (gi * gi)
        s[i] = si
        p[i] -= lr * gi / (np.sqrt(si) + eps)


# -- validation -------------------------------------------------------------------------------------------------
def _same(ref, ref_name, *others):
    """Each of ``others`` (pairs (array, name)) is a C-contiguous array of ``ref``'s shape and dtype."""
    for a, name in others:
        check_float_array(a, name)
        if a.dtype != ref.dtype:
            raise TypeError(f"{name} must have {ref_name}'s dtype {ref.dtype}, got {a.dtype}")
        if a.shape != ref.shape:
            raise ValueError(f"{name} must have {ref_name}'s shape {ref.shape}, got {a.shape}")


def _out(out, ref, ref_name):
    if out is None:
        return np.empty_like(ref)
    _same(ref, ref_name, (out, "out"))
    return out


def _flat(*arrays):
    return [a.reshape(-1) for a in arrays]


# -- activation derivatives ---------------------------------------------------------------------------------------
def tanh_grad(dout: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``dout * (1 - y**2)`` in one pass.

    Parameters
    ----------
    dout : ndarray, any shape (e.g. (N, D)), float32 or float64, C-contiguous
        The gradient arriving at the activation's output.
    y : ndarray, shape and dtype of ``dout``, C-contiguous
        The cached output ``tanh(x)``.
    out : ndarray, optional
        Where to write (may be ``dout`` itself); a new array when omitted.

    Returns
    -------
    dx : ndarray, shape and dtype of ``dout``

    Notes
    -----
    ``d tanh(x)/dx = 1 - tanh(x)^2``.
    """
    check_float_array(dout, "dout")
    _same(dout, "dout", (y, "y"))
    out = _out(out, dout, "dout")
    _tanh_grad(*_flat(dout, y, out), dout.dtype.type(1))
    return out


def sigmoid_grad(dout: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``dout * y * (1 - y)`` in one pass (``y`` the cached sigmoid output); see :func:`tanh_grad`.

    Notes
    -----
    ``d s(x)/dx = s(x) (1 - s(x))``.
    """
    check_float_array(dout, "dout")
    _same(dout, "dout", (y, "y"))
    out = _out(out, dout, "dout")
    _sigmoid_grad(*_flat(dout, y, out), dout.dtype.type(1))
    return out


def relu_grad(dout: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``dout`` where ``y > 0``, 0 elsewhere, in one pass (``y`` the cached ReLU output); see :func:`tanh_grad`.

    Notes
    -----
    ``d max(x, 0)/dx = [x > 0] = [y > 0]``.
    """
    check_float_array(dout, "dout")
    _same(dout, "dout", (y, "y"))
    out = _out(out, dout, "dout")
    _relu_grad(*_flat(dout, y, out), dout.dtype.type(0))
    return out


# -- loss ---------------------------------------------------------------------------------------------------------
def softmax_xent(z: np.ndarray, labels: np.ndarray, out: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy and its error in one sweep per row.

    Parameters
    ----------
    z : ndarray, shape (N, C), float32 or float64, C-contiguous
        Logits.
    labels : ndarray of int64, shape (N,)
        Class indices, each in ``[0, C)`` (the wrapper checks the range).
    out : ndarray, shape (N, C), dtype of ``z``, optional
        Where to write ``e``.

    Returns
    -------
    loss : float
        ``-(1/N) sum_n log softmax(z_n)[y_n]``.
    e : ndarray, shape (N, C)
        ``(softmax(z) - onehot(y)) / N``.

    Notes
    -----
    With ``m_n = max_c z_nc`` and ``s_n = sum_c exp(z_nc - m_n)``: ``-log softmax(z_n)[y_n] = log s_n -
    (z_{n,y_n} - m_n)``; the per-row terms are summed in float64. In a row whose maximum is +inf,
    ``z_nc - m_n`` is taken as 0 at its +inf entries (the limit, as in the twin), so ``[inf, 0]`` gives the
    softmax ``[1, 0]`` and a finite ``e``.
    """
    check_float_array(z, "z", ndim=2)
    if z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"z must have at least one row and one column, got shape {z.shape}")
    if not isinstance(labels, np.ndarray) or labels.dtype != np.int64:
        got = labels.dtype if isinstance(labels, np.ndarray) else type(labels).__name__
        raise TypeError(f"labels must be an int64 ndarray, got {got}")
    if labels.shape != (z.shape[0],):
        raise ValueError(f"labels must have shape ({z.shape[0]},), got {labels.shape}")
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= z.shape[1]:
        raise ValueError(f"labels must be in [0, {z.shape[1]}), got min {lo} and max {hi}")
    e = _out(out, z, "z")
    n = z.shape[0]
    total = _softmax_xent(z, labels, e, z.dtype.type(1.0 / n))
    return float(total) / n, e


# -- bias gradient ------------------------------------------------------------------------------------------------
def column_sums(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Sums over the batch axis, ``sum_n x[n]`` (the bias gradient of a dense layer).

    Parameters
    ----------
    x : ndarray, shape (N, D), float32 or float64, C-contiguous
    out : ndarray, shape (D,), optional

    Returns
    -------
    s : ndarray, shape (D,), dtype of ``x``

    Notes
    -----
    Rows are added in order, in ``x``'s dtype (as ``x.sum(axis=0)`` does).
    """
    check_float_array(x, "x", ndim=2)
    if out is None:
        out = np.empty(x.shape[1], dtype=x.dtype)
    else:
        check_float_array(out, "out", ndim=1)
        if out.dtype != x.dtype or out.shape != (x.shape[1],):
            raise ValueError(f"out must be ({x.shape[1]},) {x.dtype}, got {out.shape} {out.dtype}")
    _column_sums(x, out)
    return out


# -- optimizer updates (in place) ---------------------------------------------------------------------------------
def sgd_step(
    p: np.ndarray,
    g: np.ndarray,
    v: np.ndarray | None = None,
    *,
    lr: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> None:
    """One SGD update of ``p`` in place, in one pass.

    Parameters
    ----------
    p : ndarray, any shape, float32 or float64, C-contiguous
        Parameter, updated in place.
    g : ndarray, shape and dtype of ``p``
        Gradient (not modified).
    v : ndarray, shape and dtype of ``p``, or None
        Momentum buffer, updated in place; required when ``momentum > 0``.
    lr, momentum, weight_decay : float
    nesterov : bool

    Notes
    -----
    ``g' = g + wd p``; without momentum ``p <- p - lr g'``; with momentum ``v <- mu v + g'`` and
    ``p <- p - lr v`` (Nesterov: ``p <- p - lr (g' + mu v)``).
    """
    check_float_array(p, "p")
    _same(p, "p", (g, "g"))
    t = p.dtype.type
    if momentum:
        if v is None:
            raise ValueError("momentum > 0 needs the momentum buffer v")
        _same(p, "p", (v, "v"))
        pf, vf, gf = _flat(p, v, g)
        _sgd_momentum(pf, vf, gf, t(lr), t(momentum), t(weight_decay), bool(nesterov))
    else:
        pf, gf = _flat(p, g)
        _sgd_plain(pf, gf, t(lr), t(weight_decay))


def adam_step(
    p: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    *,
    lr_t: float,
    beta1: float,
    beta2: float,
    eps: float,
) -> None:
    """One Adam update of ``p``, ``m`` and ``v`` in place, in one pass.

    Parameters
    ----------
    p, g, m, v : ndarray, one shape and dtype (float32 or float64), C-contiguous
        Parameter, gradient, first and second moments.
    lr_t : float
        The bias-corrected step ``lr sqrt(1 - b2^t) / (1 - b1^t)``.
    beta1, beta2, eps : float

    Notes
    -----
    ``m <- b1 m + (1-b1) g``; ``v <- b2 v + (1-b2) g^2``; ``p <- p - lr_t m / (sqrt(v) + eps)``.
    """
    check_float_array(p, "p")
    _same(p, "p", (g, "g"), (m, "m"), (v, "v"))
    t = p.dtype.type
    _adam(*_flat(p, m, v, g), t(lr_t), t(beta1), t(beta2), t(1 - float(beta1)), t(1 - float(beta2)), t(eps))


def rmsprop_step(p: np.ndarray, g: np.ndarray, s: np.ndarray, *, lr: float, rho: float, eps: float) -> None:
    """One RMSprop update of ``p`` and ``s`` in place, in one pass.

    Parameters
    ----------
    p, g, s : ndarray, one shape and dtype (float32 or float64), C-contiguous
    lr, rho, eps : float

    Notes
    -----
    ``s <- rho s + (1-rho) g^2``; ``p <- p - lr g / (sqrt(s) + eps)``.
    """
    check_float_array(p, "p")
    _same(p, "p", (g, "g"), (s, "s"))
    t = p.dtype.type
    _rmsprop(*_flat(p, s, g), t(lr), t(rho), t(1 - float(rho)), t(eps))
