"""Training rules: which signal reaches each hidden block. Every rule is a :class:`~nnlite.rules.base.Rule`
(``gradients_and_signals``, and from it ``gradients`` and ``signals``). The FA family (FA, uSF, brSF, frSF, KP)
carries the signal back through matrices ``B_k`` of ``W_k``'s shape (:class:`~nnlite.rules.fa.FeedbackChain`);
the direct family (DFA, LAFS, DRTP, sDFA, and IFA's first block) projects one vector to every hidden block through
the feedback matrices of :mod:`nnlite.rules.feedback`."""

from .base import Rule
from .bp import BP
from .dfa import DFA
from .dkp import DKP
from .drtp import DRTP, SDFA
from .dtp import DDTP, DTP
from .fa import FA, FeedbackChain
from .feedback import LAYOUTS, DirectFeedback
from .ifa import IFA
from .kp import KP
from .lafs import LAFS
from .local import LOCAL_LOSSES, Local
from .pepita import PEPITA
from .registry import RULES, register
from .sign_symmetry import BRSF, FRSF, USF

__all__ = [
    "BP",
    "BRSF",
    "DDTP",
    "DFA",
    "DKP",
    "DRTP",
    "DTP",
    "FA",
    "FRSF",
    "IFA",
    "KP",
    "LAFS",
    "LAYOUTS",
    "LOCAL_LOSSES",
    "PEPITA",
    "RULES",
    "SDFA",
    "USF",
    "DirectFeedback",
    "FeedbackChain",
    "Local",
    "Rule",
    "register",
]
