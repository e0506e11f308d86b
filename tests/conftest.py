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
