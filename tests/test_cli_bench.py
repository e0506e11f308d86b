"""The ``nnlite bench`` command (nnlite.cli.bench), which runs ``python -m benchmarks`` from the checkout, and
the number of BLAS threads a run chooses (nnlite.cli.blas_threads).

All runs use the embedded digits data set (offline). BLAS is limited to one thread for the whole module: on a
shared 2-core machine, threaded BLAS on these tiny matrices is many times slower, and nothing here measures time.
"""

import json
from pathlib import Path

import pytest
from cli_helpers import REPO, _run

import nnlite
from nnlite import cli
from nnlite.cli import bench as cli_bench

# BLAS limited to one thread for the whole module, and every test in its own folder (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("cli_one_blas_thread", "cli_in_tmp")


# ---------------------------------------------------------------------------------------------------------------
# bench


def test_bench_without_benchmarks_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli_bench, "checkout_root", lambda: tmp_path)
    code, _, err = _run(["bench", "--quick"], capsys)
    assert code == 2 and "benchmarks" in err and "repository" in err


def test_bench_finds_the_checkout_of_the_editable_install():
    assert cli_bench.checkout_root() == REPO and (REPO / "benchmarks" / "__main__.py").is_file()


def test_bench_passes_the_arguments_through(tmp_path, monkeypatch, capsys):
    """`nnlite bench ARGS` runs `python -m benchmarks ARGS` from the checkout root and returns its exit code."""
    root = tmp_path / "checkout"
    pkg = root / "benchmarks"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(
        "import json, os, sys\n"
        "open('calls.json', 'w').write(json.dumps({'argv': sys.argv[1:], 'cwd': os.getcwd()}))\n"
        "sys.exit(3)\n"
    )
    monkeypatch.setattr(cli_bench, "checkout_root", lambda: root)
    code, _, _ = _run(["bench", "--quick", "--width", "256"], capsys)
    assert code == 3
    call = json.loads((root / "calls.json").read_text())
    assert call["argv"] == ["--quick", "--width", "256"]
    assert Path(call["cwd"]).resolve() == root.resolve()


@pytest.mark.parametrize(
    "argv, hidden, expected",
    [
        ([], [256, 256], 1),  # default: 32 x 256*256 multiply-adds per GEMM
        (["--batch-size", "128"], [800, 800], None),  # 128 x 800*800 > SMALL_GEMM: the BLAS default
        (["--threads", "0"], [256, 256], None),
        (["--threads", "2"], [256, 256], 2),
    ],
)
def test_blas_threads(argv, hidden, expected):
    args = cli.build_parser().parse_args(["train", *argv])
    net = nnlite.mlp([64, *hidden, 10], seed=0)
    assert cli.blas_threads(args, net) == expected
