"""Training: :func:`fit` (the one loop, ``loop``), :class:`History` (``history``), the state that resumes a run
exactly (``state``), checkpoint files (``checkpoint``: :func:`~nnlite.training.checkpoint.save`,
:func:`~nnlite.training.checkpoint.load`) and the atomic writes every writer uses (``io``).

One training step is :func:`step` (``step``: a :class:`Step` whose ``commit`` applies exactly its update), which
``fit``'s epoch loop calls with its hooks (``hooks``: checkpoint, alignment, schedule, progress, callback).

Modules import downwards only: ``io`` <- ``checkpoint`` <- ``state`` <- ``step`` <- ``hooks`` <- ``loop``;
``io`` <- ``history`` <- ``loop``.
"""

from .checkpoint import CheckpointError, load, save
from .history import History
from .loop import evaluate, fit
from .step import Step, step

__all__ = ["CheckpointError", "History", "Step", "evaluate", "fit", "load", "save", "step"]
