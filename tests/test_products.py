"""Matrix-product providers (nnlite.backend.blas, nnlite.backend.products): every provider gives NumPy's products
in every layout the layers use, the choice keeps NumPy's BLAS unless another was measured faster, is cached, forced
by the option and the environment, recorded by a run and kept on resume; every BLAS pool follows the run's limit."""

import json

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import nnlite as nn
from nnlite.backend import blas, products
from nnlite.config import RunConfig, build, fit_config

# every provider nnlite knows: CI installs each (the mkl and openblas extras), so none of these is skipped
PROVIDERS = list(blas.KNOWN)
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def _operand(rng, shape, dtype, transposed, strided):
    """An operand of ``shape`` as a layer passes one: C-ordered, a transposed view (``W.T``), or a column slice
    with a row stride (im2col's per-sample columns)."""
    rows, cols = shape[::-1] if transposed else shape
    base = rng.standard_normal((rows, cols + 3 if strided else cols)).astype(dtype)
    a = base[:, 1 : cols + 1] if strided else base
    return a.T if transposed else a


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("strided", [False, True])
def test_every_provider_gives_numpys_products_in_every_layout(name, dtype, ta, tb, strided):
    p = blas.load(name)
    rng = np.random.default_rng(0)
    a = _operand(rng, (37, 53), dtype, ta, strided)
    b = _operand(rng, (53, 29), dtype, tb, strided and not ta)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    got = p.matmul(a, b)
    assert got.dtype == dtype and got.shape == (37, 29)
    np.testing.assert_allclose(got, want, **TOL[dtype])
    out = np.full((37, 29), np.nan, dtype)
    assert p.matmul(a, b, out) is out
    np.testing.assert_allclose(out, want, **TOL[dtype])
    c0 = rng.standard_normal((37, 29)).astype(dtype)
    for alpha, beta in [(1.0, 0.0), (-0.05, 1.0), (1.0, 0.9), (-0.1, 0.999)]:
        c = c0.copy()
        p.gemm(a, b, c, alpha=alpha, beta=beta)
        assert c.dtype == dtype
        np.testing.assert_allclose(c, alpha * want + beta * c0.astype(np.float64), **TOL[dtype])


@pytest.mark.parametrize("name", PROVIDERS)
def test_beta_zero_never_reads_the_output_and_other_arrays_go_to_numpy(name):
    p = blas.load(name)
    a, b = np.ones((4, 3), np.float32), np.ones((3, 5), np.float32)
    c = np.full((4, 5), np.nan, np.float32)
    p.gemm(a, b, c, alpha=2.0, beta=0.0)
    assert np.array_equal(c, np.full((4, 5), 6.0, np.float32))
    # mixed dtypes, integers and stacks are NumPy's own products, exactly
    for x, y in [(a, b.astype(np.float64)), (np.arange(6).reshape(2, 3), np.arange(6).reshape(3, 2))]:
        assert np.array_equal(p.matmul(x, y), np.matmul(x, y)) and p.matmul(x, y).dtype == np.matmul(x, y).dtype
    s = np.ones((2, 4, 3), np.float32)
    assert np.array_equal(p.matmul(s, b), np.matmul(s, b))


def test_the_numpy_provider_is_numpys_matmul_bit_for_bit():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((64, 40)).astype(np.float32), rng.standard_normal((30, 40)).astype(np.float32)
    with products.using("numpy"):
        assert np.array_equal(products.matmul(a, b.T), a @ b.T)
    assert products.current().name == "numpy"


def test_unknown_and_missing_providers_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="unknown matrix-product provider 'blis'"):
        blas.load("blis")
    monkeypatch.setenv(products.ENV, "atlas")
    with pytest.raises(ValueError, match="NNLITE_GEMM='atlas' names no matrix-product provider"):
        products.resolve("auto", [(8, 8, 8, False, False)], np.float32, 1)
    with pytest.raises(ValueError, match="invalid choice: 'atlas'"):
        RunConfig(gemm="atlas")


def test_the_choice_keeps_numpy_unless_another_is_measured_faster():
    assert products.decide({"numpy": 1.0, "mkl": 0.98, "openblas": 1.2}) == "numpy"  # 2 %: inside the margin
    assert products.decide({"numpy": 1.0, "mkl": 0.90, "openblas": 0.95}) == "mkl"
    assert products.decide({"numpy": 1.0, "mkl": 1.5, "openblas": 0.96}) == "openblas"
    assert products.decide({"numpy": 1.0}) == "numpy"


def test_the_choice_is_measured_once_per_machine_thread_count_and_shapes(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    measured = []

    def fake(names, shapes, dtype, rounds):
        measured.append((tuple(names), len(shapes)))
        return {"numpy": 1.0, "mkl": 0.5, "openblas": 0.8}

    monkeypatch.setattr(products, "_measure", fake)
    work = [(64, 64, 64, False, True), (64, 64, 64, True, False)]
    assert products.choose(work, np.float32, 1) == ("mkl", {"numpy": 1.0, "mkl": 0.5, "openblas": 0.8})
    assert measured == [(("numpy", "mkl", "openblas"), 2)]
    cached = json.loads((tmp_path / "nnlite" / "gemm.json").read_text())
    assert [e["chosen"] for e in cached.values()] == ["mkl"]
    assert products.choose(work, np.float32, 1)[0] == "mkl" and len(measured) == 1  # the cache answers
    products.choose(work, np.float32, 2)  # another thread count,
    products.choose(work[:1], np.float32, 1)  # other shapes,
    products.choose(work, np.float64, 1)  # another dtype: measured anew
    assert len(measured) == 4
    assert products.choose(work, np.float32, 1, candidates=["numpy"]) == ("numpy", {})  # nothing to choose from
    assert len(measured) == 4


def test_the_option_beats_the_environment_which_beats_the_measurement(monkeypatch):
    shapes = [(16, 16, 16, False, False)]
    monkeypatch.setenv(products.ENV, "openblas")
    assert products.resolve("mkl", shapes, np.float32, 1)[0].name == "mkl"
    assert products.resolve("auto", shapes, np.float32, 1) == (blas.load("openblas"), "environment")
    monkeypatch.delenv(products.ENV)
    assert products.resolve(None, shapes, np.float32, 1)[1] == "measured"


def _config(**kw):
    return RunConfig(epochs=1, train_size=256, hidden=(32,), batch_size=32, **kw)


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_run_records_its_provider_and_a_resume_keeps_it(name, monkeypatch, tmp_path):
    monkeypatch.delenv(products.ENV, raising=False)
    record: dict = {}
    fit_config(build(_config(gemm=name, threads=1)), record=record, checkpoint_dir=tmp_path)
    assert record["gemm_chosen"]["name"] == name and record["gemm_chosen"]["decided"] == "option"
    assert record["gemm_chosen"]["version"] == blas.load(name).version
    other = "numpy" if name != "numpy" else "mkl"
    monkeypatch.setenv(products.ENV, other)  # a resumed run applies what it recorded, whatever is asked now
    resumed = dict(record)
    fit_config(build(_config(threads=1).replace(epochs=2)), record=resumed, resume=True, checkpoint_dir=tmp_path)
    assert resumed["gemm_chosen"]["name"] == name and resumed["gemm_chosen"]["decided"] == "recorded"
    assert products.current().name == "numpy"  # the run's provider ends with the run


def test_the_run_trains_on_its_provider_and_the_providers_agree_to_rounding():
    runs = {}
    for name in PROVIDERS:
        built = build(_config(gemm=name, threads=1))
        hist = fit_config(built)
        runs[name] = (hist.test_acc[-1], [p["W"].copy() for p in built.net.params()])
    ref = runs["numpy"][1]
    for name, (acc, ws) in runs.items():
        assert abs(acc - runs["numpy"][0]) <= 0.02, name  # a few test samples at most change their class
        for w, r in zip(ws, ref):
            np.testing.assert_allclose(w, r, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("n", [1, 2])
def test_every_blas_pool_follows_the_runs_limit(n):
    """A provider loaded after the limit was set (the run's choice loads it) gets the same limit: no pool of two
    BLAS libraries runs at its own default beside the other."""
    with threadpool_limits(limits=n, user_api="blas"):
        for name in PROVIDERS:
            blas.load(name)
        from nnlite.runtime import threads

        threads.refresh()
        pools = [d for d in threadpool_info() if d["user_api"] == "blas"]
        paths = " ".join(d["filepath"] for d in pools)
        assert "mkl_rt" in paths and "scipy_openblas" in paths and len(pools) >= 3
        assert {d["num_threads"] for d in pools} == {n}, pools


def test_a_run_at_one_thread_keeps_every_pool_at_one(monkeypatch):
    seen = []
    built = build(_config(gemm="mkl", threads=1))

    def look(hist):
        from nnlite.runtime import threads

        seen.append({k: v for k, v in threads.pools().items() if "(blas)" in k})

    fit_config(built, callback=look)
    assert seen and all(set(p.values()) == {1} and len(p) >= 2 for p in seen), seen


def test_a_folded_step_allocates_no_weight_gradients():
    """With plain SGD the update is one GEMM into W: the step's peak memory drops by the gradients' size."""
    import tracemalloc

    from nnlite import training

    net = nn.mlp([256, 512, 512, 10], seed=0)
    x = np.random.default_rng(0).standard_normal((64, 256)).astype(np.float32)
    y = np.arange(64) % 10
    peaks = {}
    for fold in (True, False):
        training.step(net, nn.BP(), nn.softmax_cross_entropy, nn.SGD(0.01), x, y, fold=fold)  # warm
        tracemalloc.start()
        training.step(net, nn.BP(), nn.softmax_cross_entropy, nn.SGD(0.01), x, y, fold=fold)
        peaks[fold] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    grads = sum(p["W"].nbytes for p in net.params())
    assert peaks[False] - peaks[True] >= 0.9 * grads - 512 * 512 * 4, (peaks, grads)


def test_a_products_value_is_read_only_so_a_change_cannot_be_lost():
    from nnlite import training

    net = nn.mlp([8, 6, 3], seed=0)
    x, y = np.ones((4, 8), np.float32), np.arange(4) % 3
    s = training.step(net, nn.BP(), nn.softmax_cross_entropy, nn.SGD(0.1), x, y, commit=False)
    g = s.grads[0]["W"]
    with pytest.raises(ValueError, match="read-only"):
        g *= 2
