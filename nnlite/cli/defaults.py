"""The names ``nnlite train`` and ``nnlite compare`` accept and their defaults, read from where they live.

Rules come from the rule registry (:mod:`nnlite.rules.registry`), the options and their defaults from
:mod:`nnlite.config` (the one table of run options), activation names from :data:`nnlite.layers.ACTIVATIONS`,
initialisations from :data:`nnlite.layers.INITS`, layouts from :data:`nnlite.rules.LAYOUTS`, projections from
:data:`nnlite.projections.BACKENDS` and data sets from :data:`nnlite.data.KNOWN_DATASETS`: nothing is copied, so
``--help``, the checks and the recorded configuration cannot drift from what the library builds. The rule lists
here are what the registry held when this module was imported; the parser and the checks read the registry
itself.
"""

from __future__ import annotations

import inspect

from nnlite import cnn
from nnlite.config.builders import SMALL_GEMM as SMALL_GEMM
from nnlite.config.schema import (
    DEFAULT_BATCH_SIZE as DEFAULT_BATCH_SIZE,
)
from nnlite.config.schema import (
    DEFAULT_EPOCHS as DEFAULT_EPOCHS,
)
from nnlite.config.schema import (
    DEFAULT_LR as DEFAULT_LR,
)
from nnlite.config.schema import (
    DEFAULT_MOMENTUM as DEFAULT_MOMENTUM,
)
from nnlite.config.schema import (
    DTYPES as DTYPES,
)
from nnlite.config.schema import (
    LOSSES as LOSSES,
)
from nnlite.config.schema import (
    LR_HELP as LR_HELP,
)
from nnlite.config.schema import (
    MODELS as MODELS,
)
from nnlite.config.schema import (
    OPTIMIZERS as OPTIMIZERS,
)
from nnlite.data import KNOWN_DATASETS
from nnlite.layers import ACTIVATIONS as _ACTIVATION_CLASSES
from nnlite.layers import INITS as INITS
from nnlite.projections import BACKENDS
from nnlite.rules import LAYOUTS as LAYOUTS
from nnlite.rules import registry

#: The names, as the command reads them (``nnlite.cli.RULES``, ...): those imported above, and these.
__all__ = [n for n in dir() if n.isupper() and n[0] != "_" and n not in ("BACKENDS", "KNOWN_DATASETS")] + [
    "ACTIVATIONS",
    "ALIGN_RECORDS_PER_EPOCH",
    "ALIGN_TAIL",
    "CNN_CHANNELS",
    "CNN_KERNEL_SIZE",
    "COMPARE_RULES",
    "DATASETS",
    "DEFAULT_HIDDEN",
    "EPILOG",
    "PROJECTIONS",
    "RULES",
    "compare_rules",
]

RULES = registry.names()


def compare_rules() -> tuple[str, ...]:
    """``compare``'s default rules: the registered rules that say ``in_compare``."""
    return tuple(name for name, entry in registry.RULES.items() if entry.in_compare)


COMPARE_RULES = compare_rules()
DATASETS = KNOWN_DATASETS
#: Activation names (and leaky_relu:SLOPE), in the library's order.
ACTIVATIONS = tuple(_ACTIVATION_CLASSES)
PROJECTIONS = tuple(BACKENDS)
DEFAULT_HIDDEN = "256x2"
#: ``compare`` measures alignment about this many times per epoch unless --align-every says otherwise.
ALIGN_RECORDS_PER_EPOCH = 10
#: ``compare``'s "final alignment" is the mean over this many last alignment records.
ALIGN_TAIL = 10

_CNN_SIGNATURE = inspect.signature(cnn).parameters
#: ``nnlite.cnn``'s own defaults, used when --channels / --kernel-size are not given.
CNN_CHANNELS: tuple[int, ...] = tuple(_CNN_SIGNATURE["channels"].default)
CNN_KERNEL_SIZE: int = int(_CNN_SIGNATURE["kernel_size"].default)

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
