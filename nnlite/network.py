"""Sequential networks, their blocks and feedback points (the builders are in :mod:`nnlite.models`).

A network is a list of blocks (docs/design.md, "Blocks and feedback points"). A block is one weight layer
(Dense or Conv2d) followed by every layer
up to the next weight layer. Layers before the first weight layer (e.g. a Flatten) form a parameter-free prefix.
The output of hidden block k is feedback point k: where BP's signal ``c_k = dL/dh_k`` lives, and where every rule
delivers its own signal ``g_k``. A block turns the signal at its output into its own gradients by local
backpropagation through its own layers, down to its weight layer.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from . import shards as _shards
from ._validation import SeedLike, as_bool, as_generator, positive_int
from .layers import Dense, Layer, WeightLayer
from .shards import MIN_SHARD_ROWS  # noqa: F401  (nnlite.network.MIN_SHARD_ROWS, where it was first documented)


class Caches(list):
    """One cache per layer, plus ``block_outputs``: the output of each block (references, not copies).

    ``block_outputs[k]`` has shape (N, ...) — the activations ``h_k`` at feedback point k (the last one is the
    network's output). After a sharded forward pass (``shards`` > 1), ``shards`` lists ``(start, stop, caches)``:
    each shard's rows and its own Caches; entry i is then the tuple of the shards' caches of layer i, and a
    hidden block's output is joined from the shards' when it is first asked for.
    """

    def __init__(
        self,
        caches: list[Any],
        block_outputs: Sequence[np.ndarray],
        input_shape: tuple[int, ...],
        shards: list[tuple[int, int, Caches]] | None = None,
    ) -> None:
        super().__init__(caches)
        self.block_outputs = block_outputs
        self.input_shape = input_shape
        self.shards = shards


class Sequential:
    """A feed-forward stack of layers.

    Parameters
    ----------
    layers : list of Layer
    input_shape : tuple, optional
        One sample's shape, e.g. ``(784,)`` or ``(1, 28, 28)``. Inferred from a first Dense layer when omitted;
        required when the network starts with a convolution.
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
        self._unit_masks: dict[int, np.ndarray] = {}

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
    def _check_input(self, x):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"input must be a numpy array, got {type(x).__name__}")
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"input must be floating point ({self.dtype}), got {x.dtype}")
        if x.dtype != self.dtype:
            raise TypeError(f"input dtype {x.dtype} does not match the network's {self.dtype}; convert it first")
        if x.ndim != 1 + len(self.input_shape) or x.shape[1:] != self.input_shape:
            raise ValueError(f"expected input of shape (N, {', '.join(map(str, self.input_shape))}), got {x.shape}")
        if x.shape[0] == 0:
            raise ValueError("empty batch: the input has 0 samples")

    @property
    def shardable(self) -> bool:
        """Whether every layer treats a batch's rows independently (``Layer.rows_independent``), so that a batch
        may run as row shards (:meth:`forward`'s ``shards``)."""
        return all(layer.rows_independent for layer in self.layers)

    def auto_shards(self, n: int, threads: int) -> int:
        """The shards :func:`nnlite.fit` runs a training batch of ``n`` rows in with a budget of ``threads``
        BLAS threads: ``threads`` for a :attr:`shardable` network with a convolution, as long as each shard
        keeps :data:`MIN_SHARD_ROWS` rows; else 1 (the whole batch, on threaded BLAS). Why a convolution, with
        both figures: docs/design.md §3 (a conv net's step is mostly work between many small products, a dense
        net's a few large products that threaded BLAS splits well)."""
        return _shards.auto_shards(self, n, threads)

    def sharded_step(self, n: int) -> contextlib.AbstractContextManager[int]:
        """Context of one training step on ``n`` rows: yields its :meth:`auto_shards` for the BLAS threads in
        force, and holds BLAS at one thread inside when that is more than 1 (a threaded product anywhere in the
        step, the rule's or the loss's, would leave an OpenBLAS thread spinning on a core a shard needs)."""
        return _shards.step(self, n)

    def forward(self, x: np.ndarray, train: bool = True, *, shards: int = 1) -> tuple[np.ndarray, Caches]:
        """Forward pass.

        Parameters
        ----------
        x : ndarray, shape (N, *input_shape)
        train : bool
            Training mode (dropout active, batch norm on batch statistics).
        shards : int
            Run the batch as this many row shards of near-equal size (at most N), one per thread, each with
            one-thread BLAS; :meth:`backward_block` and :meth:`carry_block` then run the same shards, and a
            block's gradients are the shards' added up in shard order (the same gradients as ``shards=1`` up to
            the order of that sum). Needs a :attr:`shardable` network. :func:`nnlite.fit` chooses it
            (:meth:`auto_shards`).

        Returns
        -------
        out : ndarray, shape (N, *output_shape)
        caches : Caches

        Raises
        ------
        TypeError
            ``x`` is not a NumPy array of the network's dtype.
        ValueError
            ``x`` does not have the shape (N, *input_shape), or N is 0; ``shards`` > 1 on a network that is not
            :attr:`shardable`.

        Notes
        -----
        NaN and inf are not looked for here (that would be a pass over every batch of training): they propagate
        as NumPy's arithmetic does (max pooling included, as ``np.max``). In evaluation mode every layer works
        sample by sample, so a NaN reaches the outputs of the samples that hold one and no others; in training
        mode batch norm spreads it over the batch, and ``fit`` stops on the non-finite loss. :meth:`predict`
        refuses non-finite input.
        """
        self._check_input(x)
        train = as_bool(train, "train")
        bounds = _shards.bounds(self, x.shape[0], shards)
        if bounds is None:
            return self._forward_rows(x, train)
        return _shards.forward(self, x, train, bounds)

    def _forward_rows(self, x: np.ndarray, train: bool) -> tuple[np.ndarray, Caches]:
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
        x : ndarray, shape (N, *input_shape), the network's dtype
        batch_size : int
            Samples per forward pass (a positive int).

        Returns
        -------
        ndarray, shape (N, *output_shape)

        Raises
        ------
        TypeError, ValueError
            As :meth:`forward`; also ValueError for NaN or inf in ``x`` (naming the first sample that holds one):
            a prediction is an answer, and a NaN input would give a NaN answer silently. Each batch is checked
            just before its forward pass.
        """
        self._check_input(x)
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
            Whether ``delta`` is wanted: after a sharded forward pass it is joined from the shards only then.

        Returns
        -------
        dx : ndarray of the block's input shape, or None
        grads : list of dict
            The gradients of the block's layers that have parameters, in order.
        delta : ndarray, or None (sharded and not ``need_delta``)
            ``dL/da``: the gradient at the weight layer's output (IFA carries it forward).
        """
        k = self._block(k)
        if getattr(caches, "shards", None) is not None:
            return _shards.backward_block(self, k, g, caches, feedback, need_dx, need_delta)
        return self._backward_block_rows(k, g, caches, feedback, need_dx)

    def _backward_block_rows(self, k, g, caches, feedback, need_dx):
        s, e = self.blocks[k]
        mask = self._unit_masks.get(k)
        if mask is not None:  # the bottleneck: frozen units get no gradient, under every rule
            g = g * mask
        grads = []
        for i in range(e - 1, s, -1):
            layer = self.layers[i]
            g, gi = layer.backward(g, caches[i])
            if layer.params:
                grads.append(gi)
        delta = g
        dx, gw = self.weight_layer(k).backward(g, caches[s], feedback=feedback, need_dx=need_dx)
        grads.append(gw)
        grads.reverse()
        return dx, grads, delta

    # -- the gradient-mask bottleneck (Launay et al. §4.2) --------------------------------------------------------
    def bottleneck(self, k: int, trainable: int, seed: SeedLike = None) -> np.ndarray:
        """Freeze all but ``trainable`` randomly chosen units of hidden block k for the rest of training.

        The units are the channels of the block's output (``block_shapes[k][0]``: a Dense layer's outputs, a
        convolution's filters). Their gradient is zeroed where it enters the block, so under every rule their
        rows of ``W_k``, their bias and their batch-norm scale and shift get a zero gradient (and, under BP, they
        send nothing down), while the forward pass still uses them. With a weight decay in the optimizer the
        frozen weights still decay (the gradient is zero; the decay is the optimizer's).

        Parameters
        ----------
        k : int
            A hidden block, ``0 <= k < n_blocks - 1``.
        trainable : int
            The bottleneck size: how many units still train, in ``[0, units]``.
        seed : int, Generator or None
            Chooses the frozen units.

        Returns
        -------
        frozen : ndarray of int64
            The sorted indices of the frozen units.

        Notes
        -----
        Launay et al. freeze a random fraction of the layer's weights ("a fixed number of weights will remain
        constant throughout training … but will still let information flow in the forward pass"); nnlite freezes
        whole units, so that the bottleneck size is a number of neurons, as on their Fig. 4's axis.
        """
        k = self._block(k, hidden=True)
        units = self.block_shapes[k][0]
        trainable = positive_int(trainable, "trainable", minimum=0)
        if trainable > units:
            raise ValueError(f"block {k} has {units} units, so at most {units} can train, got trainable={trainable}")
        rng = as_generator(seed)
        frozen = np.sort(rng.permutation(units)[: units - trainable]).astype(np.int64)
        self.set_frozen_units(k, frozen)
        return frozen

    def set_frozen_units(self, k: int, frozen: Iterable[int]) -> None:
        """Freeze exactly the units ``frozen`` of hidden block k (an empty list unfreezes the block)."""
        k = self._block(k, hidden=True)
        units = self.block_shapes[k][0]
        idx = np.unique(np.asarray(list(frozen), dtype=np.int64))
        if idx.size and (idx[0] < 0 or idx[-1] >= units):
            raise ValueError(f"frozen units of block {k} must be in [0, {units}), got {idx.min()}..{idx.max()}")
        if idx.size == 0:
            self._unit_masks.pop(k, None)
            return
        mask = np.ones(units, dtype=self.dtype)
        mask[idx] = 0
        ndim = len(self.block_shapes[k])
        self._unit_masks[k] = mask.reshape((1, units) + (1,) * (ndim - 1))

    @property
    def frozen_units(self) -> dict[int, list[int]]:
        """Per hidden block with a bottleneck, the indices of its frozen units."""
        return {k: [int(i) for i in np.flatnonzero(m.reshape(-1) == 0)] for k, m in sorted(self._unit_masks.items())}

    def carry_block(self, k: int, v: np.ndarray, caches: Caches, *, include_weight: bool = True) -> np.ndarray:
        """Carry ``v`` forward through block k's linear parts (IFA): the weight layer without bias (when
        ``include_weight``), then the shape-changing layers, skipping activations."""
        k = self._block(k)
        if getattr(caches, "shards", None) is not None:
            return _shards.carry_block(self, k, v, caches, include_weight)
        s, e = self.blocks[k]
        if include_weight:
            v = self.layers[s].carry(v, caches[s])
        for i in range(s + 1, e):
            v = self.layers[i].carry(v, caches[i])
        return v

    def __repr__(self):
        inner = ",\n  ".join(repr(l) for l in self.layers)
        return f"Sequential([\n  {inner}\n], input_shape={self.input_shape})"


def __getattr__(name: str) -> object:
    # mlp and cnn moved to nnlite.models; nnlite.network.mlp/cnn keep working.
    if name in ("mlp", "cnn"):
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
