"""What :func:`nnlite.fit` measured: :class:`History`, one entry per completed epoch."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from .io import write_json

__all__ = ["History"]


@dataclass
class History:
    """What :func:`fit` measured, one entry per completed epoch.

    :func:`fit` makes and fills it; each parameter is also the attribute of that name.

    Parameters
    ----------
    epoch : list of int
        The number (1-based) of each completed epoch.
    train_loss : list of float
        Mean of the batch losses over the epoch (training mode, weights changing during the epoch).
    train_acc : list of float
        Accuracy on the training batches as they were seen during the epoch (training mode).
    test_loss, test_acc : list of float
        On the test set, in evaluation mode, at the end of the epoch (empty without a test set).
    seconds : list of float
        Wall time of each epoch's training steps (evaluation excluded).
    alignment : list of dict
        With ``alignment_every=n``: every n steps, ``{"epoch", "step", **Alignment.to_dict()}`` on that batch.
    stopped : dict or None
        ``{"epoch", "step", "reason"}`` if training stopped early (a NaN or infinite loss).
    rule : str
        The rule's registry name (e.g. ``"bp"``, ``"dfa"``).

    Examples
    --------
    >>> import nnlite as nn
    >>> (x, y), test = nn.data.load("digits")
    >>> net = nn.mlp([64, 32, 10], seed=0)
    >>> h = nn.fit(net, nn.BP(), nn.softmax_cross_entropy, nn.SGD(lr=0.1), (x, y), test,
    ...            epochs=2, batch_size=32, seed=0, progress=False)
    >>> h.rule, h.epoch, len(h.train_loss), len(h.test_acc)
    ('bp', [1, 2], 2, 2)
    >>> h.test_acc[-1] > 0.8, h.stopped
    (True, None)
    """

    epoch: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    alignment: list = field(default_factory=list)
    stopped: dict | None = None
    rule: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, path: str | os.PathLike) -> None:
        """Write the history as JSON (NaN written as null), atomically."""
        write_json(path, self.to_dict())
