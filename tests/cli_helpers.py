"""Helpers of the ``nnlite`` command tests (tests/test_cli_*.py): run the command in process, a quick train
run's arguments, PNG checks. Their two fixtures (one BLAS thread, a folder per test) are in conftest.py."""

from pathlib import Path

from nnlite import cli

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    data = Path(path).read_bytes()
    return len(data) > 1000 and data[:8] == PNG_MAGIC


def _run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _small(tmp_path, *extra, name="run", train_size=320, epochs=2):
    """A quick run: by default 320 training samples (10 steps of 32), 2 epochs."""
    size, n = str(train_size), str(epochs)
    return ["train", "--train-size", size, "--epochs", n, "--no-progress", "--out", str(tmp_path / name), *extra]
