"""Tests of nnlite.data.npz: one's own data sets as .npz files, read back and scaled like the built-ins, and
every bad content refused naming the file and the key, before any large allocation."""

import io
import zipfile

import numpy as np
import pytest

from nnlite.data import load

# ------------------------------------------------------------------------------------------------------------------
# own data sets (.npz)


def _own(tmp_path, name="own.npz", compressed=False, **overrides):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (12, 3, 4, 4), dtype=np.uint8),
        "y_train": np.arange(12) % 4,
        "x_test": rng.integers(0, 256, (5, 3, 4, 4), dtype=np.uint8),
        "y_test": np.array([0, 1, 2, 3, 1], dtype=np.int32),
    }
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    path = tmp_path / name
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path, arrays


@pytest.mark.parametrize("compressed", [False, True])
def test_own_npz_round_trip_scales_uint8(tmp_path, compressed):
    path, a = _own(tmp_path, compressed=compressed)
    ds = load(str(path), flatten=False)
    assert ds.name == "own" and ds.source == str(path) and ds.n_classes == 4 and ds.shape == (3, 4, 4)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    np.testing.assert_array_equal(ds.x_train, a["x_train"].astype(np.float32) / np.float32(255.0))
    np.testing.assert_array_equal(ds.y_test, a["y_test"])
    assert 0.0 <= ds.x_test.min() and ds.x_test.max() <= 1.0
    flat = load(path, dtype=np.float64)  # a PathLike works too; flatten=True by default
    assert flat.x_train.shape == (12, 48) and flat.x_train.dtype == np.float64
    np.testing.assert_array_equal(flat.x_test, a["x_test"].reshape(5, 48) / 255.0)


def test_own_npz_float_is_kept_and_standardized_like_the_builtins(tmp_path):
    rng = np.random.default_rng(1)
    x_tr, x_te = rng.standard_normal((20, 6)) * 3 + 1, rng.standard_normal((4, 6))
    path, _ = _own(tmp_path, x_train=x_tr, x_test=x_te, y_train=np.arange(20) % 3, y_test=np.arange(4) % 3)
    ds = load(path)
    assert ds.x_train.dtype == np.float32 and ds.shape == (6,) and ds.n_classes == 3
    np.testing.assert_array_equal(ds.x_train, x_tr.astype(np.float32))
    st_ = load(path, standardize=True, flatten=False)  # (N, D) data stays (N, D), per feature
    assert st_.x_train.shape == (20, 6) and st_.mean is not None and st_.mean.shape == (6,)
    np.testing.assert_allclose(st_.x_train.mean(axis=0), 0, atol=1e-5)
    img = load(_own(tmp_path, "img.npz")[0], standardize=True, flatten=False)
    assert img.mean is not None and img.mean.shape == (3, 1, 1)  # per channel, as for the built-ins


def test_own_file_without_npz_suffix_and_unknown_names(tmp_path):
    path, _ = _own(tmp_path)
    other = tmp_path / "mydata.bin"
    path.rename(other)
    assert load(other).n_classes == 4
    with pytest.raises(ValueError, match=r"unknown data set 'nope'.*npz"):
        load("nope")


def test_own_npz_object_arrays_are_refused(tmp_path):
    path = tmp_path / "obj.npz"
    _, a = _own(tmp_path)
    a["y_train"] = np.array([0, 1, "x", None] * 3, dtype=object)
    np.savez(path, **a)  # savez pickles object arrays; the reader refuses them from the header
    with pytest.raises(ValueError, match=r"obj\.npz: y_train is an object array"):
        load(path)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"y_test": None}, r"missing key 'y_test'"),
        ({"x_train": np.zeros((12, 3, 4), np.uint8)}, r"x_train must be \(N, D\) or \(N, C, H, W\)"),
        ({"y_train": np.zeros((12, 1), np.int64)}, r"y_train must be 1-D"),
        ({"y_train": np.zeros(11, np.int64)}, r"x_train has 12 samples but y_train has 11"),
        ({"x_test": np.zeros((5, 3, 4, 5), np.uint8)}, r"x_test samples have shape \(3, 4, 5\)"),
        ({"x_train": np.zeros((12, 3, 4, 4), np.int16)}, r"x_train must be uint8 .* or floating point, got int16"),
        ({"y_test": np.zeros(5, np.float32)}, r"y_test must be an integer array, got float32"),
        ({"y_test": np.array([0, 1, 2, 3, 4])}, r"test labels must be in \[0, 4\), got min 0, max 4"),
        ({"y_train": -(np.arange(12) % 4)}, r"train labels must be in \[0, 1\), got min -3"),
        ({"x_train": np.full((12, 3, 4, 4), np.nan), "x_test": np.zeros((5, 3, 4, 4))}, r"x_train contains 576 NaN"),
        ({"x_train": np.zeros((12, 3, 4, 4))}, r"x_train is float64 but x_test is uint8"),
        ({"x_train": np.full((12, 3, 4, 4), 1e300), "x_test": np.zeros((5, 3, 4, 4))}, r"x_train contains 576"),
        ({"x_test": np.zeros((0, 3, 4, 4), np.uint8), "y_test": np.zeros(0, np.int64)}, r"x_test is empty"),
    ],
)
def test_own_npz_bad_contents_are_refused_naming_file_and_key(tmp_path, overrides, message):
    path, _ = _own(tmp_path, "bad.npz", **overrides)
    with pytest.raises(ValueError, match=r"bad\.npz: " + message):
        load(path)


def test_own_npz_lying_header_is_refused_before_any_allocation(tmp_path):
    path, a = _own(tmp_path, "lie.npz")
    members = {}
    for key, arr in a.items():
        buf = io.BytesIO()
        np.save(buf, arr)
        members[key] = buf.getvalue()
    # Claim 10^12 samples of x_train in the header, keeping its length (the header is padded with spaces).
    raw, old, new = members["x_train"], b"'shape': (12, 3, 4, 4), }", b"'shape': (1000000000000, 3, 4, 4), }"
    i = raw.index(old)
    j = raw.index(b"\n", i)
    assert j - i >= len(new)
    members["x_train"] = raw[:i] + new + b" " * (j - i - len(new)) + raw[j:]
    with zipfile.ZipFile(path, "w") as zf:  # a well-formed zip (right CRCs) around a lying header
        for key, data in members.items():
            zf.writestr(key + ".npy", data)
    with pytest.raises(ValueError, match=r"lie\.npz: x_train's header says shape \(1000000000000, 3, 4, 4\)"):
        load(path)


def test_own_npz_that_is_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"junk\.npz: not a readable \.npz file"):
        load(path)
    with pytest.raises(ValueError, match=r"missing\.npz: not a readable"):
        load(tmp_path / "missing.npz")
