"""Helpers of the ``nnlite`` command tests (tests/test_cli_*.py): run the command in process, a quick train
run's arguments, PNG checks. Their two fixtures (one BLAS thread, a folder per test) are in conftest.py."""

from pathlib import Path

from nnlite import cli

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path, min_size=(300, 300)):
    """A PNG that reads back as an image of at least ``min_size`` (width, height) pixels with something drawn on
    it: more than 2 % of its pixels not background white."""
    import matplotlib.image

    data = Path(path).read_bytes()
    if len(data) <= 1000 or data[:8] != PNG_MAGIC:
        return False
    img = matplotlib.image.imread(path)
    height, width = img.shape[:2]
    ink = (img[..., :3] < 0.95).any(axis=-1).mean()
    return width >= min_size[0] and height >= min_size[1] and ink > 0.02


def _run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _small(tmp_path, *extra, name="run", train_size=320, epochs=2):
    """A quick run: by default 320 training samples (10 steps of 32), 2 epochs."""
    size, n = str(train_size), str(epochs)
    return ["train", "--train-size", size, "--epochs", n, "--no-progress", "--out", str(tmp_path / name), *extra]
