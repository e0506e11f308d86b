"""Layer classes by family: they hold parameters and call the pure functions of :mod:`nnlite.ops` (through
:mod:`nnlite.backend` where a fused kernel exists). See :mod:`nnlite.layers.base` for the contract."""

from .activations import (
    ACTIVATIONS,
    Abs,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Tanh,
    activation_factory,
    canonical_activation,
)
from .base import INITS, Layer, WeightLayer, init_weight
from .conv import Conv2d
from .dense import Dense
from .dropout import Dropout
from .normalization import BatchNorm
from .pool import AvgPool2d, Flatten, MaxPool2d

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "Abs",
    "AvgPool2d",
    "BatchNorm",
    "Conv2d",
    "Dense",
    "Dropout",
    "Flatten",
    "Identity",
    "Layer",
    "WeightLayer",
    "LeakyReLU",
    "MaxPool2d",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "activation_factory",
    "canonical_activation",
    "init_weight",
]
