"""Sequential networks, their blocks and feedback points (the builders are in :mod:`nnlite.models`).

A network is a list of blocks (docs/design.md, "Blocks and feedback points"). A block is one weight layer
(Dense or Conv2d) followed by every layer up to the next weight layer. Layers before the first weight layer (e.g.
a Flatten) form a parameter-free prefix.
The output of hidden block k is feedback point k: where BP's signal ``c_k = dL/dh_k`` lives, and where every rule
delivers its own signal ``g_k``. A block turns the signal at its output into its own gradients by local
backpropagation through its own layers, down to its weight layer.

This module is the network and nothing else: how a step is executed (row shards on threads, blocks run
concurrently) is :mod:`nnlite.runtime`'s, by executors with the same block API.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

from ._validation import as_bool, positive_int
from .layers import Dense, Layer, WeightLayer
from .masks import Masks

_R = TypeVar("_R")


class Caches(list):
    """One cache per layer, plus ``block_outputs``: the output of each block (references, not copies), and
    ``input_shape``: the batch's input shape (N, ...).

    ``block_outputs[k]`` has shape (N, ...) — the activations ``h_k`` at feedback point k (the last one is the
    network's output). The entries are read only by the network (executor) whose forward pass made them.
    """

    def __init__(self, caches: list[Any], block_outputs: Sequence[np.ndarray], input_shape: tuple[int, ...]) -> None:
        super().__init__(caches)
        self.block_outputs = block_outputs
        self.input_shape = input_shape


class Sequential(Masks):
    """A feed-forward stack of layers.

    Parameters
    ----------
    layers : list of Layer
        The layers in order, at least one a weight layer (Dense or Conv2d); no layer with parameters before the
        first weight layer. A block is a weight layer and the layers up to the next one.
    input_shape : tuple, optional
        One sample's shape, e.g. ``(784,)`` or ``(1, 28, 28)``. Inferred from a first Dense layer when omitted;
        required when the network starts with a convolution.

    Examples
    --------
    >>> import numpy as np
    >>> import nnlite as nn
    >>> net = nn.Sequential([nn.Dense(4, 8, rng=0), nn.Tanh(), nn.Dense(8, 3, rng=1)])
    >>> net.input_shape, net.blocks, net.layer_shapes[-1]
    ((4,), [(0, 2), (2, 3)], (3,))
    >>> net.predict(np.zeros((5, 4), dtype=np.float32)).shape  # the outputs, in evaluation mode
    (5, 3)
    """

    def __init__(self, layers: Iterable[Layer], input_shape: tuple[int, ...] | None = None) -> None:
        layers = list(layers)
        if not layers:
            raise ValueError("a Sequential needs at least one layer")
        for i, l in enumerate(layers):
            if not isinstance(l, Layer):
                raise TypeError(f"layer {i} must be an nnlite Layer, got {type(l).__name__}")
        starts = [i for i, l in enumerate(layers) if l.is_weight]
        if not starts:
            raise ValueError("a Sequential needs at least one weight layer (Dense or Conv2d)")
        for i in range(starts[0]):
            if layers[i].params:
                raise ValueError(f"layer {i} ({layers[i]!r}) has parameters but comes before the first weight layer")
        self.layers = layers
        #: (start, stop) layer indices of each block.
        self.blocks = [(s, e) for s, e in zip(starts, starts[1:] + [len(layers)])]
        if input_shape is None:
            first = layers[starts[0]]
            if not isinstance(first, Dense) or starts[0] != 0:
                raise ValueError("input_shape is required unless the network starts with a Dense layer")
            input_shape = (first.d_in,)
        if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, (tuple, list)):
            raise TypeError(f"input_shape must be a tuple of positive ints, got {input_shape!r}")
        self.input_shape = tuple(positive_int(s, "input_shape entries") for s in input_shape)
        shapes, shape = [], self.input_shape
        for layer in layers:
            shape = layer.output_shape(shape)
            shapes.append(shape)
        #: one sample's shape at the output of every layer
        self.layer_shapes = shapes
        #: one sample's shape at the output of every block (feedback points, then the output)
        self.block_shapes = [shapes[e - 1] for _, e in self.blocks]
        self.dtype = layers[starts[0]].params["W"].dtype
        #: The bottleneck (:meth:`bottleneck`): per hidden block k, the 0/1 mask of shape (1, units, 1, ...) that
        #: :meth:`backward_block` multiplies the gradient by where it enters block k (feedback point k).
        self.grad_masks: dict[int, np.ndarray] = {}
        #: The weight bottleneck (:meth:`weight_bottleneck`): per block k, 0/1 masks of its weight layer's gradients.
        self.weight_masks: dict[int, dict[str, np.ndarray]] = {}

    # -- structure -------------------------------------------------------------------------------------------
    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    @property
    def feedback_sizes(self) -> list[int]:
        """Number of units ``l_k`` at each hidden feedback point (block outputs but the last)."""
        return [int(math.prod(s)) for s in self.block_shapes[:-1]]

    @property
    def n_outputs(self) -> int:
        return int(math.prod(self.block_shapes[-1]))

    def _block(self, k: Any, *, hidden: bool = False) -> int:
        """``k`` as a block index (``hidden``: a hidden block, not the output one); ValueError naming the range."""
        top = self.n_blocks - 1 if hidden else self.n_blocks
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or not 0 <= k < top:
            what = "a hidden block" if hidden else "a block"
            raise ValueError(f"k must name {what} in [0, {top}), got {k!r}")
        return int(k)

    def weight_layer(self, k: int) -> WeightLayer:
        """The weight layer (Dense or Conv2d) that starts block k."""
        layer = self.layers[self.blocks[self._block(k)][0]]
        assert isinstance(layer, WeightLayer)
        return layer

    def params(self) -> list[dict[str, np.ndarray]]:
        """One dict per layer that has parameters, in order; the arrays are updated in place by optimizers."""
        return [l.params for l in self.layers if l.params]

    def param_layers(self) -> list[int]:
        """Indices of the layers that have parameters (the order of :meth:`params`)."""
        return [i for i, l in enumerate(self.layers) if l.params]

    def block_param_slices(self) -> list[list[int]]:
        """For each block, the positions in :meth:`params` of its layers' parameter dicts."""
        pos = {li: j for j, li in enumerate(self.param_layers())}
        return [[pos[i] for i in range(s, e) if i in pos] for s, e in self.blocks]

    # -- passes ----------------------------------------------------------------------------------------------
    def check_input(self, x: Any) -> None:
        """TypeError/ValueError unless ``x`` is a non-empty batch ``(N, *input_shape)`` of the network's dtype."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"input must be a numpy array, got {type(x).__name__}")
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"input must be floating point ({self.dtype}), got {x.dtype}")
        if x.dtype != self.dtype:
            raise TypeError(f"input dtype {x.dtype} does not match the network's {self.dtype}; convert it first")
        if x.ndim != 1 + len(self.input_shape) or x.shape[1:] != self.input_shape:
            hint = ""
            if len(self.input_shape) == 3 and self.input_shape[0] == 1 and x.shape[1:] == self.input_shape[1:]:
                hint = ": grayscale images need a channel axis, x[:, None] makes them (N, 1, H, W)"
            elif len(self.input_shape) == 1 and x.ndim > 2 and math.prod(x.shape[1:]) == self.input_shape[0]:
                hint = ": a dense network takes flat samples, x.reshape(len(x), -1) makes them (N, features)"
            raise ValueError(
                f"expected input of shape (N, {', '.join(map(str, self.input_shape))}), got {x.shape}{hint}"
            )
        if x.shape[0] == 0:
            raise ValueError("empty batch: the input has 0 samples")

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Caches]:
        """Forward pass.

        Parameters
        ----------
        x : ndarray, shape ``(N, *input_shape)``
        train : bool
            Training mode (dropout active, batch norm on batch statistics).

        Returns
        -------
        out : ndarray, shape ``(N, *output_shape)``
        caches : Caches

        Raises
        ------
        TypeError
            ``x`` is not a NumPy array of the network's dtype.
        ValueError
            ``x`` does not have the shape ``(N, *input_shape)``, or N is 0.

        Notes
        -----
        NaN and inf are not looked for here (that would be a pass over every batch of training): they propagate
        as NumPy's arithmetic does (max pooling included, as ``np.max``). In evaluation mode every layer works
        sample by sample, so a NaN reaches the outputs of the samples that hold one and no others; in training
        mode batch norm spreads it over the batch, and ``fit`` stops on the non-finite loss. :meth:`predict`
        refuses non-finite input.
        """
        self.check_input(x)
        train = as_bool(train, "train")
        caches, outputs = [None] * len(self.layers), []
        ends = {e - 1 for _, e in self.blocks}
        h = x
        for i, layer in enumerate(self.layers):
            h, caches[i] = layer.forward(h, train)
            if i in ends:
                outputs.append(h)
        return h, Caches(caches, outputs, x.shape)

    def predict(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Network outputs in evaluation mode, computed in batches.

        Parameters
        ----------
        x : ndarray, shape ``(N, *input_shape)``, the network's dtype
        batch_size : int
            Samples per forward pass (a positive int).

        Returns
        -------
        ndarray, shape ``(N, *output_shape)``

        Raises
        ------
        TypeError, ValueError
            As :meth:`forward`; also ValueError for NaN or inf in ``x`` (naming the first sample that holds one):
            a prediction is an answer, and a NaN input would give a NaN answer silently. Each batch is checked
            just before its forward pass.
        """
        self.check_input(x)
        batch_size = positive_int(batch_size, "batch_size")
        outs = []
        for i in range(0, x.shape[0], batch_size):
            xb = x[i : i + batch_size]
            finite = np.isfinite(xb).reshape(xb.shape[0], -1).all(axis=1)
            if not finite.all():
                first = i + int(np.argmin(finite))
                raise ValueError(
                    f"predict: x holds NaN or inf values (first in sample {first}); predictions need finite input"
                )
            outs.append(self.forward(xb, train=False)[0])
        return np.concatenate(outs, axis=0)

    def block_input_shape(self, k: int, n: int) -> tuple[int, ...]:
        """Shape (N, ...) of block k's input for a batch of n."""
        s, _ = self.blocks[self._block(k)]
        return (n,) + (self.layer_shapes[s - 1] if s > 0 else self.input_shape)

    def backward_block(
        self,
        k: int,
        g: np.ndarray,
        caches: Caches,
        *,
        feedback: np.ndarray | None = None,
        need_dx: bool = True,
        need_delta: bool = True,
    ) -> tuple[np.ndarray | None, list[dict[str, np.ndarray]], np.ndarray | None]:
        """Local backpropagation through block k.

        Parameters
        ----------
        k : int
        g : ndarray, shape of block k's output (N, ...)
            The signal arriving at the block's output (feedback point k, or ``e`` for the last block).
        caches : Caches
        feedback : ndarray, optional
            Used in place of the weight in the weight layer's ``dx`` product (FA).
        need_dx : bool
            Whether to compute the signal below the block.
        need_delta : bool
            Whether ``delta`` is wanted (an executor may then skip assembling it; here it costs nothing).

        Returns
        -------
        dx : ndarray of the block's input shape, or None
        grads : list of dict
            The gradients of the block's layers that have parameters, in order.
        delta : ndarray, or None (an executor's, when not ``need_delta``)
            ``dL/da``: the gradient at the weight layer's output (IFA carries it forward).

        Notes
        -----
        The bottleneck's gradient mask (:attr:`grad_masks`) is applied here, at the block's boundary: ``g`` is
        multiplied by block k's mask where it enters the block, before its own layers. Every rule delivers its
        signal to a block through this method, so the frozen units get a zero gradient under every rule.
        """
        k = self._block(k)
        s, e = self.blocks[k]
        g = self.mask_signal(k, g)  # the bottleneck: frozen units get no gradient, under every rule
        grads = []
        for i in range(e - 1, s, -1):
            layer = self.layers[i]
            g, gi = layer.backward(g, caches[i])
            if layer.params:
                grads.append(gi)
        delta = g
        dx, gw = self.weight_layer(k).backward(g, caches[s], feedback=feedback, need_dx=need_dx)
        grads.append(self.mask_weight_grads(k, gw))  # the weight bottleneck: masked entries get no gradient
        grads.reverse()
        return dx, grads, delta

    def run_blocks(self, updates: Sequence[Callable[[], _R]], *, concurrent: bool = False) -> list[_R]:
        """``[update() for update in updates]``: a rule's block updates (one closure per block, each calling
        :meth:`backward_block`), here one after the other. ``concurrent`` says that they do not depend on each
        other: an executor of :mod:`nnlite.runtime` may then run them on threads (``DFA(parallel=True)``)."""
        return [update() for update in updates]

    # -- a block from a given input, a weight update from a given delta (PEPITA's, DTP's extra passes) --------------
    def forward_block(self, k: int, h: np.ndarray, caches: Caches) -> tuple[np.ndarray, Caches]:
        """Block k's output for the input ``h`` (N, block k's input shape), and ``caches`` with block k's layers'
        caches replaced by this pass's: a Dropout layer applies the mask of the pass that made ``caches`` (its
        ``carry``) and keeps that cache, so the extra pass draws nothing and changes nothing of the network. The
        returned caches serve :meth:`backward_block` and :meth:`update_block` of block k (through the modulated
        pass); their ``block_outputs`` are ``caches``'."""
        from .layers import Dropout

        k = self._block(k)
        s, e = self.blocks[k]
        new = list(caches)
        for i in range(s, e):
            layer = self.layers[i]
            if isinstance(layer, Dropout):
                h = layer.carry(h, caches[i])
            else:
                h, new[i] = layer.forward(h, True)
        return h, Caches(new, caches.block_outputs, caches.input_shape)

    def update_block(self, k: int, delta: np.ndarray, caches: Caches) -> list[dict[str, np.ndarray]]:
        """Block k's weight-layer gradients for ``delta`` given straight at the weight layer's output (no local
        backpropagation through the block's other layers), the masks applied as :meth:`backward_block` applies
        them. ``[gw]``: a block whose other layers have parameters cannot take it (PEPITA refuses them)."""
        k = self._block(k)
        _, gw = self.weight_layer(k).backward(self.mask_signal(k, delta), caches[self.blocks[k][0]], need_dx=False)
        return [self.mask_weight_grads(k, gw)]

    def block_input(self, k: int, caches: Caches) -> np.ndarray:
        """The input of block k's weight layer in the pass that made ``caches`` (a Dense layer's cache)."""
        k = self._block(k)
        return caches[self.blocks[k][0]]

    def carry_prefix(self, v: np.ndarray, caches: Caches) -> np.ndarray:
        """``v`` of the input's shape carried through the layers before the first block (input dropout with the
        pass's mask, flattening): what those linear layers make of it."""
        for i in range(self.blocks[0][0]):
            v = self.layers[i].carry(v, caches[i])
        return v

    def carry_block(self, k: int, v: np.ndarray, caches: Caches, *, include_weight: bool = True) -> np.ndarray:
        """Carry ``v`` forward through block k's linear parts (IFA): the weight layer without bias (when
        ``include_weight``), then the shape-changing layers, skipping activations."""
        k = self._block(k)
        s, e = self.blocks[k]
        if include_weight:
            v = self.layers[s].carry(v, caches[s])
        for i in range(s + 1, e):
            v = self.layers[i].carry(v, caches[i])
        return v

    def __repr__(self):
        inner = ",\n  ".join(repr(l) for l in self.layers)
        return f"Sequential([\n  {inner}\n], input_shape={self.input_shape})"
