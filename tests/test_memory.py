"""Feedback memory without allocation: the formulas against the projections' own nbytes, and Launay et al.'s
Table 1 for VGG-16."""

import numpy as np
import pytest

from nnlite.experiments.memory import feedback_memory, vgg16_feedback_sizes
from nnlite.projections import OPU, Fastfood, Gaussian, Sparse

# Launay et al. (2020), Table 1, "Memory complexity VGG-16 [GB]" (decimal gigabytes), C = 1000, float32.
TABLE1_GB = {"naive": 55.0, "unified": 13.0}

SIZES = [([7], 3), ([40, 100, 64], 10), ([129, 5], 16), ([300, 300], 17), ([1000], 1)]


def test_vgg16_feedback_sizes_at_224():
    sizes = vgg16_feedback_sizes()
    assert len(sizes) == 15
    assert sizes[:2] == [64 * 224 * 224] * 2 and sizes[2:4] == [128 * 112 * 112] * 2
    assert sizes[4:7] == [256 * 56 * 56] * 3 and sizes[7:10] == [512 * 28 * 28] * 3
    assert sizes[10:13] == [512 * 14 * 14] * 3 and sizes[13:] == [4096, 4096]
    assert vgg16_feedback_sizes(32)[:2] == [64 * 32 * 32] * 2 and vgg16_feedback_sizes(32)[10] == 512 * 2 * 2


def test_table1_vgg16_naive_and_unified_within_ten_percent():
    mem = feedback_memory(vgg16_feedback_sizes(224), 1000, dtype=np.float32)
    for key, paper in TABLE1_GB.items():
        assert mem[key] / 1e9 == pytest.approx(paper, rel=0.10), key
    assert mem["naive"] == 4 * 1000 * 13_555_712 and mem["unified"] == 4 * 1000 * 3_211_264


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sizes, C", SIZES)
def test_formulas_equal_the_projections_nbytes(sizes, C, dtype):
    n_out = max(sizes)
    mem = feedback_memory(sizes, C, dtype=dtype, nonzeros_per_row=min(3, C))
    itemsize = np.dtype(dtype).itemsize
    assert mem["naive"] == sum(sizes) * C * itemsize and mem["unified"] == n_out * C * itemsize
    assert mem["gaussian"] == Gaussian(C, n_out, seed=0, dtype=dtype).nbytes
    assert mem["fastfood"] == Fastfood(C, n_out, seed=0, dtype=dtype).nbytes
    assert mem["sparse"] == Sparse(C, n_out, min(3, C), seed=0, dtype=dtype).nbytes
    assert mem["opu"] == 0


def test_opu_simulator_formula_equals_its_nbytes():
    pytest.importorskip("lightonml")
    for sizes, C in SIZES[:3]:
        mem = feedback_memory(sizes, C)
        assert mem["opu_simulator"] == OPU(C, max(sizes), simulated=True, seed=0).nbytes == 8 * C * max(sizes)


def test_back_ends_select_the_entries():
    assert set(feedback_memory([10], 4, back_ends=())) == {"naive", "unified"}
    assert set(feedback_memory([10], 4, back_ends=(Fastfood,))) == {"naive", "unified", "fastfood"}
    everything = {"naive", "unified", "gaussian", "fastfood", "sparse", "opu", "opu_simulator"}
    assert set(feedback_memory([10], 4)) == everything


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="at least one hidden feedback size"):
        feedback_memory([], 10)
    with pytest.raises(ValueError, match="feedback size must be a positive integer, got 0"):
        feedback_memory([5, 0], 10)
    with pytest.raises(ValueError, match="n_classes must be a positive integer"):
        feedback_memory([5], 0)
    with pytest.raises(TypeError, match="float32 or float64"):
        feedback_memory([5], 3, dtype=np.int32)
    with pytest.raises(ValueError, match=r"nonzeros_per_row must be in \[1, n_classes=3\], got 4"):
        feedback_memory([5], 3, nonzeros_per_row=4)
    with pytest.raises(TypeError, match="back_ends must hold"):
        feedback_memory([5], 3, back_ends=(int,))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="image_size must be an integer >= 32"):
        vgg16_feedback_sizes(16)
