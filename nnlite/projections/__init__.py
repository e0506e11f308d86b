"""Random projections from the error space (n_in) to the feedback space (n_out); see docs/design.md, "Random
projections".

Every back end represents a matrix of shape (n_out, n_in) with entries of variance 1 / (n_out * n_in)
(Launay et al. 2020, eq. 7): ``Gaussian`` (dense, BLAS), ``Fastfood`` (structured, O(n_out) memory),
``Sparse`` (k nonzeros per row) and ``OPU`` (lightonml device or simulator; lightonml imported lazily).
"""

from .base import Projection
from .fastfood import Fastfood
from .gaussian import Gaussian
from .opu import OPU
from .sparse import Sparse

__all__ = ["BACKENDS", "Projection", "Gaussian", "Fastfood", "Sparse", "OPU"]

#: Every back end by its name (``--projection``); ``memory`` and the constructor are the back end's own.
BACKENDS: dict[str, type[Projection]] = {cls.name: cls for cls in (Gaussian, Fastfood, Sparse, OPU)}
