"""nnlite: a from-scratch NumPy/Numba neural-network engine for backpropagation and the rules that train
without weight transport (the FA family, the direct rules, learned and local feedback, target propagation, PEPITA:
``nnlite.rules.registry.RULES`` lists them), with hand-derived backward passes."""

from . import config, data, projections
from .alignment import Alignment
from .backend import softmax_cross_entropy
from .layers import (
    Abs,
    AvgPool2d,
    BatchNorm,
    Conv2d,
    Dense,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Tanh,
)
from .models import cnn, mlp
from .network import Sequential
from .ops.losses import binary_cross_entropy, binary_cross_entropy_sum, mean_squared_error
from .optim import SGD, Adam, RMSprop, StepDecay
from .rules import BP, BRSF, DDTP, DFA, DKP, DRTP, DTP, FA, FRSF, IFA, KP, LAFS, PEPITA, SDFA, USF, Local
from .runtime.heap import keep_freed_memory
from .training import CheckpointError, History, fit, load, save

__version__ = "0.1.0"

__all__ = [
    "Dense",
    "Tanh",
    "Sigmoid",
    "ReLU",
    "LeakyReLU",
    "Abs",
    "Identity",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "Flatten",
    "BatchNorm",
    "Dropout",
    "Sequential",
    "mlp",
    "cnn",
    "BP",
    "FA",
    "DFA",
    "IFA",
    "LAFS",
    "USF",
    "BRSF",
    "FRSF",
    "KP",
    "DRTP",
    "SDFA",
    "DKP",
    "Local",
    "DTP",
    "DDTP",
    "PEPITA",
    "SGD",
    "StepDecay",
    "Adam",
    "RMSprop",
    "softmax_cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_sum",
    "mean_squared_error",
    "fit",
    "History",
    "keep_freed_memory",
    "save",
    "load",
    "CheckpointError",
    "Alignment",
    "config",
    "data",
    "projections",
]
