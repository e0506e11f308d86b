"""The masks of a network's gradients, in one place: the bottleneck (frozen units, whose signal is zeroed where it
enters their block) and the weight bottleneck (masked weights and biases). :class:`Masks` is a base of
:class:`~nnlite.network.Sequential`; every block method that turns a signal into gradients (``backward_block``,
``update_block``) applies them through :meth:`Masks.mask_signal` and :meth:`Masks.mask_weight_grads`, so a frozen
unit gets no gradient under every rule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ._validation import SeedLike, as_generator, finite_float, positive_int

__all__ = ["Masks"]


class Masks:
    """The gradient masks of a network (see the module). A subclass has ``block_shapes``, ``dtype``,
    ``weight_layer(k)`` and ``_block(k, hidden=)``."""

    grad_masks: dict[int, np.ndarray]
    weight_masks: dict[int, dict[str, np.ndarray]]
    block_shapes: list[Any]
    dtype: Any

    def _block(self, k: Any, *, hidden: bool = False) -> int:  # pragma: no cover - Sequential's
        raise NotImplementedError

    def weight_layer(self, k: int) -> Any:  # pragma: no cover - Sequential's
        raise NotImplementedError

    def mask_signal(self, k: int, g: np.ndarray) -> np.ndarray:
        """``g`` entering block k (at its output, or at its weight layer's output) with the bottleneck's frozen
        units zeroed."""
        mask = self.grad_masks.get(k)
        return g if mask is None else g * mask

    def mask_weight_grads(self, k: int, gw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Block k's weight-layer gradients with the weight bottleneck's masked entries zeroed."""
        masks = self.weight_masks.get(k)
        return gw if masks is None else {n: g * masks[n] for n, g in gw.items()}

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

    def weight_bottleneck(self, k: int, keep: float, seed: SeedLike = None) -> dict[str, np.ndarray]:
        """Freeze a fixed random fraction ``1 - keep`` of block k's weights and biases (Launay et al.'s Fig. 4 as
        run, ``bottleneck.py``: ``keep = b/800``); the others train. Returns the 0/1 masks ``{"W", "b"}``.

        Notes
        -----
        ``M_W[i, j] = [u_ij < keep]`` and ``M_b[i] = [v_i < keep]``, ``u, v ~ U(0, 1)`` drawn once from ``seed``;
        block k's weight layer's gradients become ``M_W * dW`` and ``M_b * db`` under every rule (applied in
        :meth:`backward_block`), so a masked entry never moves (but with the optimizer's weight decay). The
        authors' hook also masks the layer's input gradient, per batch row and feature; nnlite does not (in
        their net no feedback point precedes the layer, so its input gradient is what trains the layer below).
        """
        k = self._block(k)
        keep = finite_float(keep, "keep")
        if not 0 <= keep <= 1:
            raise ValueError(f"keep must be in [0, 1], got {keep}")
        rng, params = as_generator(seed), self.weight_layer(k).params
        self.weight_masks[k] = {n: (rng.random(p.shape) < keep).astype(self.dtype) for n, p in params.items()}
        return self.weight_masks[k]

    def set_frozen_units(self, k: int, frozen: Iterable[int]) -> None:
        """Freeze exactly the units ``frozen`` of hidden block k (an empty list unfreezes the block)."""
        k = self._block(k, hidden=True)
        units = self.block_shapes[k][0]
        idx = np.unique(np.asarray(list(frozen), dtype=np.int64))
        if idx.size and (idx[0] < 0 or idx[-1] >= units):
            raise ValueError(f"frozen units of block {k} must be in [0, {units}), got {idx.min()}..{idx.max()}")
        if idx.size == 0:
            self.grad_masks.pop(k, None)
            return
        mask = np.ones(units, dtype=self.dtype)
        mask[idx] = 0
        ndim = len(self.block_shapes[k])
        self.grad_masks[k] = mask.reshape((1, units) + (1,) * (ndim - 1))

    @property
    def frozen_units(self) -> dict[int, list[int]]:
        """Per hidden block with a bottleneck, the indices of its frozen units."""
        return {k: [int(i) for i in np.flatnonzero(m.reshape(-1) == 0)] for k, m in sorted(self.grad_masks.items())}
