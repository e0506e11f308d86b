"""The names ``nnlite train`` and ``nnlite compare`` accept and their defaults.

The tables the library owns are imported from it, not copied: activation names (:data:`nnlite.layers.ACTIVATIONS`),
initialisations (:data:`nnlite.layers.INITS`), DFA layouts (:data:`nnlite.rules.LAYOUTS`) and data sets
(:data:`nnlite.data.KNOWN_DATASETS`); the CNN defaults are read from :func:`nnlite.cnn`'s signature, so that
``--help`` and the recorded configuration cannot drift from what the library builds.
"""

from __future__ import annotations

import inspect

from nnlite import cnn
from nnlite.data import KNOWN_DATASETS
from nnlite.layers import ACTIVATIONS as _ACTIVATION_CLASSES
from nnlite.layers import INITS
from nnlite.rules import LAYOUTS

__all__ = [
    "ACTIVATIONS",
    "ALIGN_RECORDS_PER_EPOCH",
    "ALIGN_TAIL",
    "CNN_CHANNELS",
    "CNN_KERNEL_SIZE",
    "COMPARE_RULES",
    "DATASETS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_EPOCHS",
    "DEFAULT_HIDDEN",
    "DEFAULT_LR",
    "DEFAULT_MOMENTUM",
    "DIRECT_RULES",
    "DTYPES",
    "EPILOG",
    "FEEDBACK_CHAIN_RULES",
    "INITS",
    "LAYOUTS",
    "LOSSES",
    "LR_HELP",
    "MODELS",
    "OPTIMIZERS",
    "PROJECTIONS",
    "PROJECTION_RULES",
    "RULES",
    "SMALL_GEMM",
]

RULES = ("bp", "fa", "dfa", "ifa", "lafs", "usf", "brsf", "frsf", "kp", "drtp", "sdfa")
#: ``compare``'s default rules (the first five, as before the peers' rules were added).
COMPARE_RULES = ("bp", "fa", "dfa", "ifa", "lafs")
DATASETS = KNOWN_DATASETS
MODELS = ("mlp", "cnn")
#: Activation names (and leaky_relu:SLOPE), in the library's order.
ACTIVATIONS = tuple(_ACTIVATION_CLASSES)
LOSSES = ("ce", "bce", "mse")
PROJECTIONS = ("gaussian", "fastfood", "opu", "sparse")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rmsprop")
DTYPES = ("float32", "float64")

#: Rules that take a feedback projection (DFA, LAFS, DRTP, sDFA: all hidden blocks; IFA: the first one only).
PROJECTION_RULES = ("dfa", "ifa", "lafs", "drtp", "sdfa")
#: Rules with a feedback layout and a parallel mode (the direct family).
DIRECT_RULES = ("dfa", "lafs", "drtp", "sdfa")
#: Rules that carry the signal back through a matrix B_k of W_k's shape (the FA family).
FEEDBACK_CHAIN_RULES = ("fa", "usf", "brsf", "frsf", "kp")

DEFAULT_HIDDEN = "256x2"
DEFAULT_EPOCHS = 10
DEFAULT_BATCH_SIZE = 32
#: Default learning rate per optimizer; the same for every rule (so a comparison is not tuned per rule),
#: override with --lr (in ``compare`` also per rule: ``--lr bp=0.05,dfa=0.02``).
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.02, "nesterov": 0.02, "adam": 1e-3, "rmsprop": 1e-3}
DEFAULT_MOMENTUM = 0.9
#: ``compare`` measures alignment about this many times per epoch unless --align-every says otherwise.
ALIGN_RECORDS_PER_EPOCH = 10
#: ``--threads auto`` uses one BLAS thread when batch size x the largest weight matrix of an MLP is at most this.
SMALL_GEMM = 2**22
#: ``compare``'s "final alignment" is the mean over this many last alignment records.
ALIGN_TAIL = 10

_CNN_SIGNATURE = inspect.signature(cnn).parameters
#: ``nnlite.cnn``'s own defaults, used when --channels / --kernel-size are not given.
CNN_CHANNELS: tuple[int, ...] = tuple(_CNN_SIGNATURE["channels"].default)
CNN_KERNEL_SIZE: int = int(_CNN_SIGNATURE["kernel_size"].default)

#: The default learning rates, as ``--help`` lists them.
LR_HELP = ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items())

#: The epilog of ``nnlite train --help`` and ``nnlite compare --help``.
EPILOG = f"""\
defaults: an MLP {DEFAULT_HIDDEN} with tanh and He init on digits, softmax cross-entropy, SGD with momentum
{DEFAULT_MOMENTUM}, batch {DEFAULT_BATCH_SIZE}, {DEFAULT_EPOCHS} epochs. Default learning rate by optimizer (the same
for every rule): {LR_HELP}.
Seeds: --seed S seeds independent streams (initial weights, feedback matrices, batch order, bottleneck mask)
derived with numpy's SeedSequence(S), so two runs with one seed are identical at one BLAS thread count (1 and 2
threads sum in another order and differ in the last bits), and `compare` starts every rule from the same initial
weights and visits the batches in the same order.
Every epoch, --out receives history.json and model.npz (atomically); after Ctrl-C, `nnlite train --resume DIR`
continues from the last finished epoch.
Set NNLITE_TRACEBACK=1 to see the traceback of a library error."""
