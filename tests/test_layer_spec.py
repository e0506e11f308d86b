"""A layer declares its spec entry (``Layer.spec``: the layers list's type name and keys, each a constructor
parameter): the layers list's table of types and defaults, ``from_layers`` and the builders read it."""

import inspect

import numpy as np

import nnlite as nn
from nnlite.layers import LIST_LAYERS
from nnlite.models import LAYER_TYPES, from_layers


def test_every_listed_type_is_its_layers_spec_with_the_constructors_own_defaults():
    assert list(LAYER_TYPES) == list(LIST_LAYERS)
    for name, cls in LIST_LAYERS.items():
        spec = cls.spec
        assert spec is not None and spec.name == name
        required, optional = LAYER_TYPES[name]
        params = inspect.signature(cls).parameters
        for key, param in spec.keys.items():
            assert param in params, (name, key)
            if key in optional and key not in spec.network:
                assert optional[key] == params[param].default, (name, key)  # no second copy of a default
            if key in required:
                assert params[param].default is inspect.Parameter.empty, (name, key)


def test_a_list_builds_the_layers_its_specs_name():
    net = from_layers(
        [
            {"type": "conv2d", "filters": 3, "kernel": 3, "padding": 1},
            {"type": "leaky_relu", "slope": 0.2},
            {"type": "maxpool2d", "kernel": 2},
            {"type": "flatten"},
            {"type": "dense", "units": 5, "init": "uniform"},
            {"type": "batchnorm"},
            {"type": "tanh"},
            {"type": "dense", "units": 3, "bias": False},
        ],
        (1, 6, 6),
        seed=0,
        dtype=np.float64,
    )
    kinds = [type(layer) for layer in net.layers]
    assert kinds == [nn.Conv2d, nn.LeakyReLU, nn.MaxPool2d, nn.Flatten, nn.Dense, nn.BatchNorm, nn.Tanh, nn.Dense]
    assert net.layers[1].slope == 0.2 and net.layers[5].num_features == 5 and "b" not in net.layers[-1].params
    assert net.dtype == np.float64
