"""Hostile inputs at the library's API, one test item per input: checkpoint files that are not checkpoints, and
data files and data arguments. Each item asserts the exact exception class and a key part of its message.
"""

import hashlib
import io
import json
import os
import pickle
import stat
import struct

import numpy as np
import pytest
from hostile_helpers import CheckpointError, unblock_fifo_after

import nnlite as nn
from nnlite.data import read_cifar_batch

# ----------------------------------------------------------------------------------------------------------------
# Checkpoint files


def _good_checkpoint(tmp_path):
    net = nn.Sequential([nn.Dense(3, 4, rng=0), nn.BatchNorm(4), nn.ReLU(), nn.Dense(4, 2, rng=1)])
    path = tmp_path / "good.npz"
    nn.save(net, path)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    return path, arrays, json.loads(str(arrays["__spec__"]))


def _write(folder, arrays):
    path = folder / "bad.npz"
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())
    return path


def _with_spec(arrays, spec):
    return {**arrays, "__spec__": np.array(json.dumps(spec))}


def _edit(arrays, **members):
    out = dict(arrays)
    for k, v in members.items():
        k = k.replace("__", ".")
        if v is None:
            del out[k]
        else:
            out[k] = v
    return out


def _spec_edit(spec, fn):
    s = json.loads(json.dumps(spec))
    fn(s)
    return s


def _npy_bytes(a, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=allow_pickle)
    return buf.getvalue()


#: name -> (a function (tmp_path, good path, arrays, spec) -> the file, the message's key part)
BAD_CHECKPOINTS = {
    "truncated-half": (lambda t, p, a, s: _bytes(t, p.read_bytes()[: p.stat().st_size // 2]), "truncated or corrupt"),
    "truncated-10-bytes": (lambda t, p, a, s: _bytes(t, p.read_bytes()[:10]), "truncated or corrupt"),
    "empty": (lambda t, p, a, s: _bytes(t, b""), r"is empty \(0 bytes\)"),
    "text": (lambda t, p, a, s: _bytes(t, b"hello, not a zip file at all"), "not a zip archive"),
    "npy": (lambda t, p, a, s: _bytes(t, _npy_bytes(np.zeros(3))), r"is an \.npy file"),
    "npy-object": (lambda t, p, a, s: _bytes(t, _npy_bytes(np.array([1, "a"], object), True)), r"is an \.npy file"),
    "missing-weight": (lambda t, p, a, s: _write(t, _edit(a, layer3__param__W=None)), "lacks layer3.param.W"),
    "missing-spec": (lambda t, p, a, s: _write(t, {k: v for k, v in a.items() if k != "__spec__"}), "lacks __spec__"),
    "complex-weight": (
        lambda t, p, a, s: _write(t, _edit(a, layer0__param__W=a["layer0.param.W"].astype(np.complex64))),
        "param.W is complex64 in the file, but the layer is float32",
    ),
    "float64-weight": (
        lambda t, p, a, s: _write(t, _edit(a, layer0__param__W=a["layer0.param.W"].astype(np.float64))),
        "param.W is float64 in the file, but the layer is float32",
    ),
    "int-weight": (
        lambda t, p, a, s: _write(t, _edit(a, layer0__param__W=a["layer0.param.W"].astype(np.int32))),
        "param.W is int32 in the file",
    ),
    "float32-weights-in-a-float64-spec": (
        lambda t, p, a, s: _write(
            t, _with_spec(a, _spec_edit(s, lambda s: s["layers"][0]["config"].update(dtype="float64")))
        ),
        "param.W is float32 in the file, but the layer is float64",
    ),
    "running-var-of-shape-1": (
        lambda t, p, a, s: _write(t, _edit(a, layer1__buffer__running_var=np.array([2.0], np.float32))),
        r"running_var has shape \(1,\) in the file, but its configuration needs \(4,\)",
    ),
    "object-member": (lambda t, p, a, s: _object_member(t, a), "object array"),
    "format-99": (lambda t, p, a, s: _write(t, _with_spec(a, {**s, "format": 99})), "format 99 is not one"),
    "format-missing": (
        lambda t, p, a, s: _write(t, _with_spec(a, {k: v for k, v in s.items() if k != "format"})),
        "format None is not one",
    ),
    "spec-not-json": (lambda t, p, a, s: _write(t, {**a, "__spec__": np.array("{not json")}), "not valid JSON"),
    "spec-a-list": (lambda t, p, a, s: _write(t, {**a, "__spec__": np.array("[1, 2]")}), "must be a JSON object"),
    "spec-an-int-array": (lambda t, p, a, s: _write(t, {**a, "__spec__": np.arange(3)}), "must be one JSON string"),
    "spec-without-layers": (
        lambda t, p, a, s: _write(t, _with_spec(a, {k: v for k, v in s.items() if k != "layers"})),
        "layers must be a non-empty list",
    ),
    "layer-without-config": (
        lambda t, p, a, s: _write(t, _with_spec(a, _spec_edit(s, lambda s: s["layers"][0].pop("config")))),
        "layer 0 must be an object",
    ),
    "unknown-config-key": (
        lambda t, p, a, s: _write(t, _with_spec(a, _spec_edit(s, lambda s: s["layers"][0]["config"].update(bogus=1)))),
        "bad configuration.*bogus",
    ),
    "input-shape-that-does-not-fit": (
        lambda t, p, a, s: _write(t, _with_spec(a, {**s, "input_shape": [5]})),
        "does not describe a network",
    ),
    "frozen-unit-out-of-range": (
        lambda t, p, a, s: _write(t, _with_spec(a, {**s, "frozen_units": {"0": [99]}})),
        "does not describe a network.*frozen units",
    ),
    "frozen-units-bad-key": (
        lambda t, p, a, s: _write(t, _with_spec(a, {**s, "frozen_units": {"x": [1]}})),
        "frozen_units must map block numbers",
    ),
    "nan-weights": (
        lambda t, p, a, s: _write(t, _edit(a, layer0__param__W=np.full_like(a["layer0.param.W"], np.nan))),
        "holds 12 NaN/inf values",
    ),
    "negative-running-var": (
        lambda t, p, a, s: _write(t, _edit(a, layer1__buffer__running_var=np.full(4, -1.0, np.float32))),
        "negative variances",
    ),
    "folder": (lambda t, p, a, s: _folder(t), "is a folder"),
    "fifo": (lambda t, p, a, s: _fifo(t), "not a regular file"),
}


def _bytes(folder, data):
    path = folder / "bad.npz"
    path.write_bytes(data)
    return path


def _object_member(folder, arrays):
    import zipfile

    path = folder / "bad.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in arrays.items():
            if k == "layer0.param.W":
                v = np.array([[1, "x"]], dtype=object)
            zf.writestr(k + ".npy", _npy_bytes(v, allow_pickle=True))
    return path


def _folder(folder):
    path = folder / "folder.npz"
    path.mkdir()
    return path


def _fifo(folder):
    path = folder / "fifo.npz"
    os.mkfifo(path)
    return path


class TestCheckpointFiles:
    @pytest.mark.parametrize("case", sorted(BAD_CHECKPOINTS))
    def test_load_refuses_with_checkpoint_error_naming_the_file(self, tmp_path, case):
        good, arrays, spec = _good_checkpoint(tmp_path)
        make, key = BAD_CHECKPOINTS[case]
        (tmp_path / "case").mkdir()
        path = make(tmp_path / "case", good, arrays, spec)
        unblocker = unblock_fifo_after(path) if stat.S_ISFIFO(os.lstat(path).st_mode) else None
        try:
            with pytest.raises(CheckpointError, match=key) as err:
                nn.load(path)
        finally:
            if unblocker is not None:
                unblocker.set()
        msg = str(err.value)
        assert str(path) in msg and "allow_pickle" not in msg
        assert isinstance(err.value, ValueError)

    def test_load_refuses_a_rule_state_of_another_dtype(self, tmp_path):
        net, rule = nn.mlp([4, 3, 2], seed=0), nn.KP(lr=0.1, weight_decay=0.0, seed=0)
        nn.save(net, tmp_path / "m.npz", rule=rule)
        with np.load(tmp_path / "m.npz") as f:
            arrays = {k: f[k] for k in f.files}
        arrays["rule.B1"] = arrays["rule.B1"].astype(np.float64)
        path = _write(tmp_path, arrays)
        with pytest.raises(CheckpointError, match="B1 is float64, expected float32"):
            nn.load(path, rule=nn.KP(lr=0.1, weight_decay=0.0))

    def test_load_refuses_a_brsf_state_without_its_generator(self, tmp_path):
        net, rule = nn.mlp([4, 3, 2], seed=0), nn.BRSF(seed=0)
        nn.save(net, tmp_path / "m.npz", rule=rule)
        with np.load(tmp_path / "m.npz") as f:
            arrays = {k: f[k] for k in f.files if k != "rule.rng"}
        path = _write(tmp_path, arrays)
        with pytest.raises(CheckpointError, match="generator 'rng'"):
            nn.load(path, rule=nn.BRSF(seed=0))


# ----------------------------------------------------------------------------------------------------------------
# Data files and data arguments


def _idx(arr):
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def _cifar_pickle(labels):
    x = np.zeros((len(labels), 3072), np.uint8)
    return pickle.dumps({b"data": x, b"labels": labels}, protocol=4)


def _serve(tmp_path, payload=b"the payload\n" * 100):
    src = tmp_path / "served.bin"
    src.write_bytes(payload)
    return src.as_uri(), hashlib.sha256(payload).hexdigest(), payload


class TestData:
    def test_standardize_with_an_empty_training_split(self, tmp_path, monkeypatch):
        monkeypatch.delenv("NNLITE_DATA", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        root = tmp_path / "mnist"
        root.mkdir()
        rng = np.random.default_rng(0)
        files = {
            "train-images-idx3-ubyte": np.zeros((0, 28, 28), np.uint8),
            "train-labels-idx1-ubyte": np.zeros(0, np.uint8),
            "t10k-images-idx3-ubyte": rng.integers(0, 256, (4, 28, 28)).astype(np.uint8),
            "t10k-labels-idx1-ubyte": np.arange(4).astype(np.uint8),
        }
        for name, arr in files.items():
            (root / name).write_bytes(_idx(arr))
        with pytest.raises(ValueError, match="training split is empty"):
            nn.data.load("mnist", root=tmp_path, download=False, standardize=True)

    @pytest.mark.parametrize("labels", [[1.7, 2.2], [True, False], ["1", "2"]], ids=["float", "bool", "str"])
    def test_cifar_labels_that_are_not_integers(self, labels):
        with pytest.raises(ValueError, match="labels must be integers"):
            read_cifar_batch(_cifar_pickle(labels), "b")

    @pytest.mark.parametrize("kind", ["fifo", "folder"])
    def test_download_never_replaces_a_special_file(self, tmp_path, kind):
        url, sha, _ = _serve(tmp_path)
        dest = tmp_path / "dest.bin"
        os.mkfifo(dest) if kind == "fifo" else dest.mkdir()
        with pytest.raises(ValueError, match="nnlite replaces only regular files"):
            nn.data.download_file(url, dest, sha)
        mode = os.lstat(dest).st_mode
        assert stat.S_ISFIFO(mode) if kind == "fifo" else stat.S_ISDIR(mode)

    def test_download_gets_the_umask_mode_not_mkstemp_0600(self, tmp_path):
        url, sha, _ = _serve(tmp_path)
        old = os.umask(0o022)
        try:
            nn.data.download_file(url, tmp_path / "new.bin", sha)
        finally:
            os.umask(old)
        assert stat.S_IMODE(os.stat(tmp_path / "new.bin").st_mode) == 0o644

    def test_download_writes_through_a_symlink(self, tmp_path):
        url, sha, payload = _serve(tmp_path)
        target, link = tmp_path / "target.bin", tmp_path / "link.bin"
        target.write_bytes(b"old")
        link.symlink_to(target)
        nn.data.download_file(url, link, sha)
        assert link.is_symlink() and target.read_bytes() == payload

    def test_a_fifo_under_a_cifar_layout_name_is_not_read(self, tmp_path, monkeypatch):
        monkeypatch.delenv("NNLITE_DATA", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        fifo = tmp_path / "cifar-10-python.tar.gz"
        os.mkfifo(fifo)
        unblocker = unblock_fifo_after(fifo)
        try:
            with pytest.raises(nn.data.DataNotFoundError):
                nn.data.load("cifar10", root=tmp_path, download=False)
        finally:
            unblocker.set()

    @pytest.mark.parametrize("flag", ["standardize", "flatten", "download"])
    def test_load_flags_must_be_booleans(self, flag):
        with pytest.raises(TypeError, match=f"{flag} must be True or False, got 'no'"):
            nn.data.load("digits", **{flag: "no"})

    def test_batches_of_a_list(self):
        with pytest.raises(TypeError, match="x must be a numpy array"):
            list(nn.data.batches([[1.0], [2.0]], None, 1))
