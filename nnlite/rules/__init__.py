"""Training rules: which signal reaches each hidden block. Every rule is a :class:`~nnlite.rules.base.Rule`
(``gradients_and_signals``, and from it ``gradients`` and ``signals``); the direct-feedback rules share the
feedback matrices of :mod:`nnlite.rules.feedback`."""

from .base import Rule
from .bp import BP
from .dfa import DFA
from .fa import FA
from .feedback import LAYOUTS, DirectFeedback
from .ifa import IFA
from .lafs import LAFS

__all__ = ["BP", "DFA", "FA", "IFA", "LAFS", "LAYOUTS", "DirectFeedback", "Rule"]
