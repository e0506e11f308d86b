"""Training: :func:`fit` (the one loop, ``loop``), :class:`History` (``history``), the state that resumes a run
exactly (``state``), checkpoint files (``checkpoint``: :func:`~nnlite.training.checkpoint.save`,
:func:`~nnlite.training.checkpoint.load`) and the atomic writes every writer uses (``io``).

Modules import downwards only: ``io`` <- ``checkpoint`` <- ``state`` <- ``loop``; ``io`` <- ``history`` <- ``loop``.
"""

from .checkpoint import CheckpointError, load, save
from .history import History
from .loop import evaluate, fit

__all__ = ["CheckpointError", "History", "evaluate", "fit", "load", "save"]
