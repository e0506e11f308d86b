"""Training rules: how the error reaches each block. Each has ``gradients(net, caches, e, y)`` and
``signals(net, caches, e, y)``."""

from .bp import BP
from .dfa import DFA, LAYOUTS
from .fa import FA
from .ifa import IFA
from .lafs import LAFS

__all__ = ["BP", "FA", "DFA", "IFA", "LAFS", "LAYOUTS"]
