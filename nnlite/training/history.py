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

    Attributes
    ----------
    epoch : list of int
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
