"""Data sets, file parsers, input validation and mini-batching.

Data sets
---------
``load(name)`` returns a :class:`Dataset` for one of ``KNOWN_DATASETS``:

=================  ==========================  ===============  =======================
name               x (flatten=True / False)    train / test     source
=================  ==========================  ===============  =======================
``digits``         (N, 64) / (N, 1, 8, 8)      1 437 / 360      scikit-learn (offline)
``mnist``          (N, 784) / (N, 1, 28, 28)   60 000 / 10 000  IDX files
``fashion-mnist``  (N, 784) / (N, 1, 28, 28)   60 000 / 10 000  IDX files
``cifar10``        (N, 3072) / (N, 3, 32, 32)  50 000 / 10 000  CIFAR-10 tarball
=================  ==========================  ===============  =======================

Pixels are scaled to [0, 1] (digits: / 16, the others: / 255); labels are int64 in [0, C).

Your own data: ``load("path/to/file.npz")`` reads ``x_train, y_train, x_test, y_test`` from one ``.npz`` file
(``read_npz``: every member's header is checked before its data is read; no object arrays), scales uint8 pixels to
[0, 1], keeps floating-point ones, and applies the same checks, ``flatten`` and ``standardize``.

Where files are looked for
--------------------------
For a data set ``name`` the folders below are tried in this order; the first that holds a complete copy wins
(``data_dirs(name, root)`` lists them):

1. ``root/<name>/``, then ``root/`` itself (only when ``root`` is given);
2. ``$NNLITE_DATA/<name>/`` (only when the variable is set);
3. the user cache, ``$XDG_CACHE_HOME/nnlite/<name>/`` or ``~/.cache/nnlite/<name>/``;
4. for ``fashion-mnist`` only: ``/usr/share/datasets/fashion-mnist/`` (Debian's ``dataset-fashion-mnist``).

So in a shared folder (``$NNLITE_DATA``, the cache) every data set lives in its own sub-folder
(``mnist/``, ``fashion-mnist/``, ``cifar10/``): MNIST and Fashion-MNIST use the same file names. Only an
explicit ``root`` may hold the files directly.

File names: MNIST and Fashion-MNIST use the four IDX files ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzipped (``.gz``) or
not. CIFAR-10 is any of ``cifar-10-batches-py/`` (extracted python version), ``cifar-10-python.tar.gz``,
``cifar-10-batches-bin/`` (extracted binary version) or ``cifar-10-binary.tar.gz``.

Files found on disk are parsed and validated (sizes, magic numbers, label ranges) but not hashed: Debian ships
Fashion-MNIST with its gzip headers rewritten, so its files differ from the originals byte for byte although
their contents are the same.

Downloads
---------
When nothing is found and ``download=True``, the missing files are fetched with urllib into the first folder of
the list above (``root/<name>/``, else ``$NNLITE_DATA/<name>/``, else the cache). Each file is written to a
temporary file beside its destination, its SHA-256 checked against the value recorded in ``sources``, and only then
renamed into place with ``os.replace``: a file under its final name is always complete and verified. A checksum
mismatch raises :class:`ChecksumError` and removes the temporary file.

Modules
-------
``sources`` (names, file names, mirrors, SHA-256 values), ``locate`` (the search above), ``download``
(``download_file`` and the download on demand), ``idx`` and ``cifar`` (the two file formats), ``datasets``
(``Dataset``, ``load``), ``npz`` (own data sets), ``batching`` (``batches``, ``one_hot``). ``check_inputs`` and
``check_labels`` are :mod:`nnlite._validation`'s, re-exported here.
"""

from __future__ import annotations

from .._validation import check_inputs, check_labels
from .batching import batches, one_hot
from .cifar import read_cifar_batch
from .datasets import STD_FLOOR, Dataset, load, normalize
from .download import ChecksumError, download_file
from .idx import read_idx
from .locate import DataNotFoundError, data_dirs
from .npz import read_npz
from .sources import DEBIAN_FASHION_MNIST as DEBIAN_FASHION_MNIST  # not in __all__, as before
from .sources import KNOWN_DATASETS

__all__ = [
    "KNOWN_DATASETS",
    "STD_FLOOR",
    "ChecksumError",
    "DataNotFoundError",
    "Dataset",
    "batches",
    "check_inputs",
    "check_labels",
    "data_dirs",
    "download_file",
    "load",
    "normalize",
    "one_hot",
    "read_cifar_batch",
    "read_idx",
    "read_npz",
]
