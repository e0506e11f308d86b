"""Hypothesis strategies shared by the tests."""

import numpy as np
from hypothesis import strategies as st


@st.composite
def arrays(draw, shape, lo=-2.0, hi=2.0, dtype=np.float64):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    return rng.uniform(lo, hi, size=shape).astype(dtype)


def seeds():
    return st.integers(0, 2**31 - 1)


def small_mlp_sizes(min_hidden=1, max_hidden=3):
    return st.lists(st.integers(2, 7), min_size=min_hidden + 2, max_size=max_hidden + 2)
