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
from .base import INITS, Layer, LayerSpec, WeightLayer, init_weight
from .conv import Conv2d
from .dense import Dense
from .dropout import Dropout
from .normalization import BatchNorm
from .pool import AvgPool2d, Flatten, MaxPool2d

#: The layers a layers list may name, by their spec's ``type`` (:class:`~nnlite.layers.base.LayerSpec`), in the
#: order lists show them: a new layer declares its ``spec`` and is added here.
_LISTED: tuple[type[Layer], ...] = (
    Dense,
    Conv2d,
    MaxPool2d,
    AvgPool2d,
    Flatten,
    Dropout,
    BatchNorm,
    *ACTIVATIONS.values(),
)
LIST_LAYERS: dict[str, type[Layer]] = {cls.spec.name: cls for cls in _LISTED if cls.spec is not None}

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
    "LIST_LAYERS",
    "Layer",
    "LayerSpec",
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
