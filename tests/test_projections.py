"""Tests of nnlite.projections: Gaussian, Fastfood, Sparse, OPU (lightonml simulator)."""

import math
import sys

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st

from nnlite.kernels import ternarize
from nnlite.projections import OPU, Fastfood, Gaussian, Projection, Sparse

# name -> factory(n_in, n_out, seed, dtype)
FACTORIES = {
    "gaussian": lambda n_in, n_out, seed, dtype: Gaussian(n_in, n_out, seed=seed, dtype=dtype),
    "fastfood": lambda n_in, n_out, seed, dtype: Fastfood(n_in, n_out, seed=seed, dtype=dtype),
    "sparse": lambda n_in, n_out, seed, dtype: Sparse(n_in, n_out, min(3, n_in), seed=seed, dtype=dtype),
    "opu": lambda n_in, n_out, seed, dtype: OPU(n_in, n_out, simulated=True, seed=seed, dtype=dtype),
}
WITH_TRANSPOSE = ["gaussian", "fastfood", "sparse"]


def fastfood_explicit(p):
    """The matrix of a Fastfood built factor by factor with scipy's Hadamard matrix, in float64."""
    H = scipy.linalg.hadamard(p.d).astype(np.float64)
    blocks = []
    for b in range(p.n_blocks):
        Pi = np.eye(p.d)[p.perm[b]]
        blocks.append(
            np.diag(p.S[b].astype(np.float64))
            @ H
            @ np.diag(p.G[b].astype(np.float64))
            @ Pi
            @ H
            @ np.diag(p.signs[b].astype(np.float64))
        )
    return p.scale * np.vstack(blocks)[: p.n_out, : p.n_in]


# ---------------------------------------------------------------------------------------------- all back ends
@pytest.mark.parametrize("name", list(FACTORIES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_in_equals_dtype_out(name, dtype):
    p = FACTORIES[name](7, 40, 0, dtype)
    assert isinstance(p, Projection) and p.dtype == np.dtype(dtype)
    e = np.random.default_rng(1).standard_normal((5, 7)).astype(dtype)
    out = p(e)
    assert out.shape == (5, 40) and out.dtype == np.dtype(dtype)
    assert np.abs(out).max() > 0
    if name in WITH_TRANSPOSE:
        back = p.transpose(out)
        assert back.shape == (5, 7) and back.dtype == np.dtype(dtype)
    M = p.matrix()
    assert M.shape == (40, 7) and M.dtype == np.dtype(dtype)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_bad_inputs_raise_clear_errors(name):
    p = FACTORIES[name](6, 20, 0, np.float32)
    good = np.ones((3, 6), np.float32)
    with pytest.raises(ValueError, match=r"2-D.*\(N, 6\).*\(6,\)"):
        p(good[0])
    with pytest.raises(ValueError, match=r"6 columns.*\(3, 5\)"):
        p(good[:, :5])
    with pytest.raises(TypeError, match=r"float32.*float64"):
        p(good.astype(np.float64))
    with pytest.raises(TypeError, match=r"float32.*int64"):
        p(good.astype(np.int64))
    with pytest.raises(TypeError, match="ndarray"):
        p(good.tolist())
    bad = good.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        p(bad)
    if name in WITH_TRANSPOSE:
        with pytest.raises(ValueError, match=r"20 columns"):
            p.transpose(good)
        p.transpose(np.ones((3, 20), np.float32))
    # An empty batch is a valid batch.
    assert p(np.ones((0, 6), np.float32)).shape == (0, 20)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_non_contiguous_input_gives_the_same_result(name):
    p = FACTORIES[name](6, 50, 0, np.float32)
    big = np.random.default_rng(0).standard_normal((8, 12)).astype(np.float32)
    e = big[::2, ::2]  # strided view, shape (4, 6)
    assert not e.flags.c_contiguous
    # (BLAS may take another path for strided operands: equal up to float32 rounding)
    np.testing.assert_allclose(p(e), p(np.ascontiguousarray(e)), rtol=1e-5, atol=1e-7)
    if name in WITH_TRANSPOSE:
        Y = np.random.default_rng(1).standard_normal((50, 4)).astype(np.float32).T
        np.testing.assert_allclose(p.transpose(Y), p.transpose(np.ascontiguousarray(Y)), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_bad_construction_arguments(name):
    with pytest.raises(ValueError, match="n_out must be >= 1"):
        FACTORIES[name](4, 0, 0, np.float32)
    with pytest.raises(TypeError, match="n_in must be an int"):
        FACTORIES[name](4.0, 8, 0, np.float32)
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        FACTORIES[name](4, 8, 0, np.int32)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_seeds(name):
    e = np.random.default_rng(5).standard_normal((4, 9)).astype(np.float32)
    a = FACTORIES[name](9, 70, 123, np.float32)(e)
    b = FACTORIES[name](9, 70, 123, np.float32)(e)
    c = FACTORIES[name](9, 70, 124, np.float32)(e)
    g = FACTORIES[name](9, 70, np.random.default_rng(123), np.float32)(e)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.isfinite(g).all()
    with pytest.raises(TypeError, match="seed"):
        FACTORIES[name](9, 70, "123", np.float32)


# ---------------------------------------------------------------------------------------------- adjoints
@pytest.mark.parametrize("name", WITH_TRANSPOSE)
@given(n_in=st.integers(1, 40), n_out=st.integers(1, 150), N=st.integers(1, 5), seed=st.integers(0, 2**31))
def test_transpose_is_the_adjoint(name, n_in, n_out, N, seed):
    p = FACTORIES[name](n_in, n_out, seed, np.float64)
    rng = np.random.default_rng(seed + 1)
    e = rng.standard_normal((N, n_in))
    y = rng.standard_normal((N, n_out))
    Pe, PTy = p(e), p.transpose(y)
    lhs, rhs = float(np.sum(Pe * y)), float(np.sum(e * PTy))
    bound = 1e-12 * (np.linalg.norm(Pe) * np.linalg.norm(y) + np.linalg.norm(e) * np.linalg.norm(PTy))
    assert abs(lhs - rhs) <= bound
    # and both agree with the materialised matrix
    M = p.matrix()
    np.testing.assert_allclose(Pe, e @ M.T, rtol=0, atol=1e-12 * max(1.0, np.abs(Pe).max()))
    np.testing.assert_allclose(PTy, y @ M, rtol=0, atol=1e-12 * max(1.0, np.abs(PTy).max()))


# ---------------------------------------------------------------------------------------------- Gaussian
def test_gaussian_holds_the_scaled_matrix():
    n_in, n_out = 30, 2000
    p = Gaussian(n_in, n_out, seed=0, dtype=np.float64)
    assert p.B.shape == (n_out, n_in) and p.nbytes == n_out * n_in * 8
    U = np.random.default_rng(0).standard_normal((n_out, n_in))
    np.testing.assert_allclose(p.B, U / math.sqrt(n_out * n_in), rtol=1e-15, atol=0)
    # Entry variance 1/(n_out n_in): i.i.d. entries, so the estimate n_out n_in mean(B^2) has std sqrt(2/M).
    M = n_in * n_out
    assert abs(np.mean(p.B**2) * M - 1.0) < 5 * math.sqrt(2.0 / M)


def test_gaussian_from_matrix_is_exact_and_copies():
    rng = np.random.default_rng(3)
    B = rng.standard_normal((12, 5)).astype(np.float32)
    p = Gaussian.from_matrix(B)
    assert (p.n_in, p.n_out, p.dtype) == (5, 12, np.float32)
    e = rng.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_array_equal(p(e), e @ B.T)
    y = rng.standard_normal((4, 12)).astype(np.float32)
    np.testing.assert_array_equal(p.transpose(y), y @ B)
    B[0, 0] = 100.0
    assert p.B[0, 0] != 100.0
    with pytest.raises(ValueError, match="2-D"):
        Gaussian.from_matrix(np.ones(3))
    with pytest.raises(TypeError, match="float32 or float64"):
        Gaussian.from_matrix(np.ones((3, 2), dtype=np.int64))


# ---------------------------------------------------------------------------------------------- Fastfood
@pytest.mark.parametrize("n_in,n_out", [(1, 5), (2, 2), (3, 10), (10, 37), (16, 32), (16, 33), (100, 300), (129, 260)])
def test_fastfood_matrix_equals_its_explicit_factors(n_in, n_out):
    p = Fastfood(n_in, n_out, seed=n_in + n_out, dtype=np.float64)
    assert p.d == 2 ** math.ceil(math.log2(n_in)) and p.n_blocks == math.ceil(n_out / p.d)
    assert set(np.unique(p.signs)) <= {-1.0, 1.0}
    assert all(np.array_equal(np.sort(p.perm[b]), np.arange(p.d)) for b in range(p.n_blocks))
    V = fastfood_explicit(p)
    np.testing.assert_allclose(p.matrix(), V, rtol=0, atol=1e-13 * np.abs(V).max())
    # S is chi(d) / ||G||_F, so S * ||G|| is positive and the paper's scaling holds blockwise.
    assert np.all(p.S > 0)
    # float32: same draws, the work in float32, agrees to float32 precision.
    p32 = Fastfood(n_in, n_out, seed=n_in + n_out, dtype=np.float32)
    M32 = p32.matrix()
    assert M32.dtype == np.float32
    np.testing.assert_allclose(M32, V, rtol=0, atol=1e-5 * np.abs(V).max())


def test_fastfood_transpose_matches_the_explicit_adjoint():
    p = Fastfood(20, 100, seed=7, dtype=np.float64)
    y = np.random.default_rng(0).standard_normal((3, 100))
    np.testing.assert_allclose(p.transpose(y), y @ fastfood_explicit(p), rtol=0, atol=1e-12)


@pytest.mark.parametrize("n_in,n_out", [(3, 1000), (10, 2000), (100, 1024)])
def test_fastfood_entry_variance_matches_gaussian(n_in, n_out):
    # Per seed s: v_s = n_out n_in mean(V^2), unbiased for 1 if the constant is right. Fastfood's entries are
    # not independent, so the sampling std of v_s is estimated across independent seeds and the mean over
    # seeds is held to 5 standard errors. (Forgetting the padding, i.e. d instead of n_in, gives n_in/d:
    # 0.75, 0.625, 0.78; these sizes make that many standard errors off.)
    v = np.array(
        [np.mean(Fastfood(n_in, n_out, seed=s, dtype=np.float64).matrix() ** 2) * n_in * n_out for s in range(12)]
    )
    se = v.std(ddof=1) / math.sqrt(len(v))
    assert se < 0.05
    assert abs(v.mean() - 1.0) <= 5 * se
    # the entries are centred too: mean within 5 standard errors of 0 (same estimate of the spread)
    means = np.array(
        [
            np.mean(Fastfood(n_in, n_out, seed=100 + s, dtype=np.float64).matrix()) * math.sqrt(n_in * n_out)
            for s in range(12)
        ]
    )
    assert abs(means.mean()) < 5 * means.std(ddof=1) / math.sqrt(len(means)) + 1e-12


def test_fastfood_scaling_lengths_are_chi_distributed():
    # s_i = S_ii ||G_b||_F ~ chi(d): x = s^2 / d has mean 1 and variance 2/d (kurtosis 3 + 12/d); 5 sigma each.
    p = Fastfood(64, 64 * 400, seed=3, dtype=np.float64)
    s2 = (p.S * np.linalg.norm(p.G, axis=1, keepdims=True)) ** 2
    x = (s2 / p.d).ravel()
    M, d = x.size, p.d
    assert abs(x.mean() - 1.0) < 5 * math.sqrt(2.0 / d / M)
    assert abs(x.var(ddof=1) / (2.0 / d) - 1.0) < 5 * math.sqrt((2.0 + 12.0 / d) / M)


def test_fastfood_memory_is_linear_in_n_out_and_flat_in_n_in():
    base = Fastfood(100, 4096, seed=0).nbytes
    assert Fastfood(100, 8192, seed=0).nbytes == 2 * base
    assert Fastfood(200, 4096, seed=0).nbytes == base  # d = 128 -> 256, both divide 4096
    assert abs(Fastfood(150, 4000, seed=0).nbytes - base) <= 0.05 * base
    big = Fastfood(1000, 65536, seed=0)
    dense = 1000 * 65536 * 4
    assert big.nbytes * 100 < dense
    # exactly what it holds: 3 float32 diagonals and one int32 permutation per padded row
    assert big.nbytes == big.n_blocks * big.d * (3 * 4 + 4)


# ---------------------------------------------------------------------------------------------- Sparse
def test_sparse_has_exactly_k_distinct_nonzeros_per_row_with_the_documented_variance():
    n_in, n_out, k = 50, 20000, 4
    p = Sparse(n_in, n_out, k, seed=0, dtype=np.float64)
    B = p.B
    assert B.shape == (n_out, n_in) and B.data.dtype == np.float64
    assert np.array_equal(np.diff(B.indptr), np.full(n_out, k))
    M = p.matrix()
    assert np.array_equal((M != 0).sum(axis=1), np.full(n_out, k))  # distinct columns, none zero
    assert p.nbytes == B.data.nbytes + B.indices.nbytes + B.indptr.nbytes == n_out * k * 12 + (n_out + 1) * 4
    # Nonzero values i.i.d. N(0, 1/(k n_out)): 5 sigma on their mean square (std sqrt(2/(n_out k))).
    m = n_out * k
    assert abs(np.mean(B.data**2) * k * n_out - 1.0) < 5 * math.sqrt(2.0 / m)
    # Entry variance, zeros included, is 1/(n_out n_in) (the zero fraction is exactly 1 - k/n_in).
    assert abs(np.mean(M**2) * n_in * n_out - 1.0) < 5 * math.sqrt(2.0 / m)
    # Columns uniform: each column count ~ Binomial(n_out, k/n_in); 5 sigma.
    counts = (M != 0).sum(axis=0)
    q = k / n_in
    assert np.all(np.abs(counts - n_out * q) < 5 * math.sqrt(n_out * q * (1 - q)))


def test_sparse_dense_rows_and_bad_k():
    p = Sparse(5, 30, 5, seed=1)
    assert np.all(p.matrix() != 0)
    with pytest.raises(ValueError, match=r"nonzeros_per_row must be in \[1, n_in=5\], got 6"):
        Sparse(5, 30, 6)
    with pytest.raises(ValueError, match="got 0"):
        Sparse(5, 30, 0)
    with pytest.raises(TypeError, match="nonzeros_per_row must be an int"):
        Sparse(5, 30, 2.0)


# ---------------------------------------------------------------------------------------------- OPU
def test_ternarize_threshold_zero_is_exact_on_signs():
    e = np.sign(np.random.default_rng(0).standard_normal((6, 33))).astype(np.float32)
    t = ternarize(e, 0.0)
    assert t.dtype == np.int8
    np.testing.assert_array_equal(t, e.astype(np.int8))
    x = np.array([[-0.6, -0.5, -0.1, 0.0, 0.1, 0.5, 0.6]], np.float32)
    np.testing.assert_array_equal(ternarize(x, 0.5), [[-1, 0, 0, 0, 0, 0, 1]])


@pytest.mark.parametrize("kind", ["binary", "signs"])
def test_opu_equals_scaled_real_part_of_the_simulator_matrix(kind):
    n_in, n_out = 24, 300
    p = OPU(n_in, n_out, simulated=True, seed=11)
    assert p.simulated and "simulator" in repr(p)
    rng = np.random.default_rng(2)
    if kind == "binary":
        e = (rng.random((8, n_in)) < 0.5).astype(np.float32)
        e[0] = 0.0  # a sample with nothing above threshold projects to 0
    else:
        e = np.where(rng.random((8, n_in)) < 0.5, -1.0, 1.0).astype(np.float32)
    R = p.simulator_matrix
    assert R.shape == (n_in, n_out) and np.iscomplexobj(R)
    out = p(e)
    assert out.dtype == np.float32
    expected = p.unit_scale * (e.astype(np.float64) @ R.astype(np.complex128)).real
    assert p.unit_scale == 1.0 / math.sqrt(n_out)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    if kind == "binary":
        assert np.all(out[0] == 0)
    # The matrix represented: unit_scale * Re(R).T, entry variance 1/(n_out n_in), i.i.d. -> 5 sigma.
    M = p.matrix()
    np.testing.assert_allclose(M, p.unit_scale * R.real.T, rtol=0, atol=1e-7)
    m = n_in * n_out
    assert abs(np.mean(M.astype(np.float64) ** 2) * m - 1.0) < 5 * math.sqrt(2.0 / m)


def test_opu_relative_threshold_is_a_fraction_of_each_samples_peak():
    p = OPU(16, 64, simulated=True, seed=0, threshold=0.4)  # the default: relative
    a = OPU(16, 64, simulated=True, seed=0, threshold=0.0, relative=False)
    assert p.relative and "relative" in repr(p)
    e = np.zeros((2, 16), np.float32)
    e[0, :4] = [1.0, -0.5, 0.3, -0.39]  # peak 1: keeps 1.0 and -0.5 only
    e[1, :3] = [0.01, 0.0039, -0.005]  # peak 0.01: keeps 0.01 and -0.005 only (same pattern, 100x smaller)
    code = np.zeros((2, 16))
    code[0, :2] = [1, -1]
    code[1, [0, 2]] = [1, -1]
    mags = np.array([0.75, 0.0075])[:, None]
    R = p.simulator_matrix.astype(np.complex128)
    np.testing.assert_allclose(p(e), p.unit_scale * mags * (code @ R).real, rtol=1e-5, atol=1e-9)
    assert not np.allclose(p(e), a(e))
    with pytest.raises(ValueError, match="relative threshold must be < 1"):
        OPU(4, 8, simulated=True, threshold=1.0)


def test_opu_restores_magnitude_per_sample():
    p = OPU(16, 64, simulated=True, seed=0, threshold=0.0, relative=False)
    rng = np.random.default_rng(4)
    s = np.where(rng.random((5, 16)) < 0.5, -1.0, 1.0).astype(np.float32)
    c = np.array([0.5, 1.0, 2.0, 3.0, 1e-3], np.float32)[:, None]
    np.testing.assert_allclose(p(c * s), c * p(s), rtol=1e-5, atol=0)
    # mixed magnitudes: scale is the mean |e| over the kept entries, the least-squares multiple of the code
    e = rng.standard_normal((3, 16)).astype(np.float32)
    q = OPU(16, 64, simulated=True, seed=0, threshold=0.5, relative=False)
    t = ternarize(e, 0.5).astype(np.float64)
    kept = t != 0
    mags = np.array([np.abs(e[i][kept[i]]).mean() if kept[i].any() else 0.0 for i in range(3)])
    R = q.simulator_matrix.astype(np.complex128)
    expected = q.unit_scale * mags[:, None] * (t @ R).real
    np.testing.assert_allclose(q(e), expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_opu_context_manager_open_close_and_no_transpose():
    with OPU(8, 32, simulated=True, seed=1) as p:
        assert p.is_open
        y = p(np.ones((2, 8), np.float32))
    assert not p.is_open
    p.open()
    assert p.is_open
    np.testing.assert_array_equal(p(np.ones((2, 8), np.float32)), y)
    p.close()
    assert not p.is_open
    # The first projection opens a closed device by itself.
    assert p(np.ones((1, 8), np.float32)).shape == (1, 32) and p.is_open
    p.close()
    with pytest.raises(NotImplementedError, match="LAFS"):
        p.transpose(np.ones((2, 32), np.float32))
    # host memory is the simulator's complex64 matrix, and repr says so
    assert p.nbytes == 8 * 32 * 8 and "simulator" in repr(p)
    with pytest.raises(ValueError, match="threshold"):
        OPU(8, 32, simulated=True, threshold=-1.0)


def test_opu_without_lightonml_names_the_install_command(monkeypatch):
    for mod in [
        "lightonml",
        "lightonml.opu",
        "lightonml.internal",
        "lightonml.internal.config",
        "lightonml.internal.simulated_device",
    ]:
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(ImportError, match=r"pip install --no-deps lightonml"):
        OPU(4, 8, simulated=True)


def test_has_transpose_says_which_back_ends_can_apply_the_adjoint():
    assert Gaussian(3, 5, seed=0).has_transpose
    assert Fastfood(3, 5, seed=0).has_transpose
    assert Sparse(3, 5, 2, seed=0).has_transpose
    p = OPU(3, 5, simulated=True, seed=0)
    assert not p.has_transpose
    with pytest.raises(NotImplementedError):
        p.transpose(np.zeros((1, 5), np.float32))
