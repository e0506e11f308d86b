"""Hypothesis strategies shared by the tests."""

from hypothesis import strategies as st


def seeds():
    return st.integers(0, 2**31 - 1)
