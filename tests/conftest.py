import os

from hypothesis import HealthCheck, settings

# deadline=None: the first call of a Numba kernel compiles it.
settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Runs take NumPy's BLAS for their products, not a provider chosen by timing (nnlite.backend.products): two runs
# a test compares must not differ because a measurement picked another library; tests/test_products.py checks the
# choice itself, with this variable removed.
os.environ["NNLITE_GEMM"] = "numpy"


import pytest  # noqa: E402

import nnlite  # noqa: E402


@pytest.fixture(scope="session")
def digits():
    """The embedded digits data set (offline), flattened."""
    return nnlite.data.load("digits")


@pytest.fixture(scope="session")
def fashion_mnist():
    """Debian's Fashion-MNIST, flattened and standardized (the real-data learning tests of the MLP rules)."""
    return nnlite.data.load("fashion-mnist", download=False, standardize=True)


@pytest.fixture(scope="session")
def fashion_mnist_images():
    """Debian's Fashion-MNIST as (N, 1, 28, 28) images in [0, 1] (the conv-net learning tests)."""
    return nnlite.data.load("fashion-mnist", flatten=False, download=False)


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """No $NNLITE_DATA, and a user cache in an empty temporary folder."""
    monkeypatch.delenv("NNLITE_DATA", raising=False)
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache / "nnlite"


# The command tests (tests/test_cli_*.py) use these two for every test: pytestmark = usefixtures(...).
@pytest.fixture(scope="module")
def cli_one_blas_thread():
    """BLAS limited to one thread for the whole module: threaded BLAS on tiny matrices is many times slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def cli_in_tmp(tmp_path, monkeypatch):
    """Every test runs in its own folder, so a run that should have failed cannot leave runs/ in the repo."""
    monkeypatch.chdir(tmp_path)


# The quick suite and the full one. `python -m pytest` (no test named) runs the quick suite: every test but those
# listed in tests/slow_tests.txt (the slowest of each module, chosen from one `--durations=0` run of the full suite
# on the 2-core CI machine) and those marked `slow`. `python -m pytest --full` runs every test (what .ci/run runs);
# naming a file, a test or a -m expression runs what is named, slow or not. No timing decides anything here: the
# list is a file, read as it is.
SLOW_LIST = os.path.join(os.path.dirname(__file__), "slow_tests.txt")


def pytest_addoption(parser):
    parser.addoption(
        "--full", action="store_true", help="run every test, the slow ones too (what .ci/run runs; about 15 min)"
    )


def _slow_names() -> set[str]:
    with open(SLOW_LIST, encoding="utf-8") as f:
        return {line.split("#")[0].strip() for line in f if line.split("#")[0].strip()}


def pytest_collection_modifyitems(config, items):
    slow = _slow_names()
    for item in items:
        if {item.nodeid, item.nodeid.split("[")[0], item.nodeid.split("::")[0]} & slow:
            item.add_marker(pytest.mark.slow)
    whole = ("tests", os.path.normpath(config.rootpath / "tests"))
    named = [a for a in config.args if os.path.normpath(a) not in whole]
    if config.getoption("--full") or named or config.option.markexpr:
        return
    kept = [i for i in items if i.get_closest_marker("slow") is None]
    left = [i for i in items if i.get_closest_marker("slow") is not None]
    config._nnlite_quick = True
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept
        config._nnlite_left_out = len(left)


@pytest.fixture(scope="session", autouse=True)
def _quick_suite_one_blas_thread(request):
    """The quick suite runs at one BLAS thread (a test that wants more sets its own limit): on a busy 2-core
    machine threaded BLAS stalls on the core it does not get, and one Fashion-MNIST test took 38 s at the default 2
    threads against 5 s at one. The full suite runs at the BLAS default, as CI always has."""
    if not getattr(request.config, "_nnlite_quick", False):
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def pytest_terminal_summary(terminalreporter, config):
    left = getattr(config, "_nnlite_left_out", 0)
    if left:
        terminalreporter.write_line(
            f"quick suite: {left} slow tests left out (tests/slow_tests.txt); `python -m pytest --full` runs every test"
        )
