"""Where the data sets come from: their names, the files each one is made of, the mirrors that serve them with
the SHA-256 of every file as served, and the folder where Debian installs Fashion-MNIST.

Nothing here reads or writes a file: :mod:`nnlite.data.locate`, :mod:`nnlite.data.download` and the parsers use
these tables.
"""

from __future__ import annotations

from typing import NamedTuple

KNOWN_DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")

#: Debian's ``dataset-fashion-mnist`` package ships the four gzipped IDX files directly in this folder.
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


# ----------------------------------------------------------------------------------------------------------------
# File names on disk. MNIST and Fashion-MNIST: four IDX files, each gzipped (.gz) or not. CIFAR-10: the layouts in
# the order they are looked for, and the batch files inside each (``.bin`` appended in the binary version).

_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_CIFAR_LAYOUTS = ("cifar-10-batches-py", "cifar-10-python.tar.gz", "cifar-10-batches-bin", "cifar-10-binary.tar.gz")
_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = ("test_batch",)


# ----------------------------------------------------------------------------------------------------------------
# Downloads. Every SHA-256 is of the file exactly as served at the URL.


class _Remote(NamedTuple):
    filename: str
    sha256: str
    size: int  # bytes, for the error message only


# MNIST: the SHA-256 of the original gzipped files from yann.lecun.com, which both mirrors below serve unchanged
# (the same four values are pinned by many independent projects, e.g. Guild AI's mnist package and torchvision's
# Ruby port; torchvision itself pins the md5 sums f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d...).
_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# Fashion-MNIST: SHA-256 values as pinned in torchvision's prototype datasets (FashionMNIST._CHECKSUMS); their md5
# sums match the ones in the Fashion-MNIST README. Checked here against Debian's dataset-fashion-mnist files:
# Debian stripped the file name and changed the mtime in each gzip header, and putting the original header back
# (FNAME flag, name, mtime 1504176606 for train / 1504176627 for t10k) reproduces these four values exactly.
_FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)

#: (SHA-256, size in bytes) of each gzipped IDX file as served, by data set and file (see the notes above).
_IDX_CHECKSUMS: dict[str, dict[str, tuple[str, int]]] = {
    "mnist": {
        "train-images-idx3-ubyte": ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
        "train-labels-idx1-ubyte": ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
        "t10k-images-idx3-ubyte": ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
        "t10k-labels-idx1-ubyte": ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
        "train-labels-idx1-ubyte": ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
        "t10k-images-idx3-ubyte": ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
        "t10k-labels-idx1-ubyte": ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
    },
}


def _idx_remotes(dataset: str) -> tuple[_Remote, ...]:
    """The four gzipped IDX files of ``dataset``, in the order of ``_IDX_FILES``."""
    return tuple(_Remote(f"{stem}.gz", *_IDX_CHECKSUMS[dataset][stem]) for stem in _IDX_FILES)


_MNIST_FILES = _idx_remotes("mnist")
_FASHION_FILES = _idx_remotes("fashion-mnist")

# CIFAR-10, python version: SHA-256 as pinned by Keras (keras/datasets/cifar10.py, get_file(file_hash=...)).
# The binary version (found on disk only, never downloaded) would be
# c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd (170052171 bytes).
_CIFAR_MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
_CIFAR_FILES = (
    _Remote("cifar-10-python.tar.gz", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce", 170498071),
)

_SOURCES: dict[str, tuple[tuple[str, ...], tuple[_Remote, ...]]] = {
    "mnist": (_MNIST_MIRRORS, _MNIST_FILES),
    "fashion-mnist": (_FASHION_MIRRORS, _FASHION_FILES),
    "cifar10": (_CIFAR_MIRRORS, _CIFAR_FILES),
}
