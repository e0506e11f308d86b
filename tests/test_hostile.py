"""Hostile files: a small file must never make nnlite allocate what its header claims (peak memory measured in a
subprocess with resource.getrusage)."""

import gzip
import io
import json
import struct
import subprocess
import sys
import tarfile
import textwrap

import numpy as np
import pytest

from nnlite.data import read_idx

#: Peak resident memory a bomb may cost on top of importing nnlite (the bombs below inflate to >= 256 MB).
LIMIT_MB = 64


def _peak_mb(code: str) -> tuple[float, str]:
    """Run ``code`` after importing nnlite in a fresh interpreter; its extra peak RSS (MB) and what it printed."""
    prog = textwrap.dedent(
        f"""
        import resource, sys
        import nnlite, nnlite.data
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
        {textwrap.indent(textwrap.dedent(code), "    ")}
            print("NO ERROR")
        except ValueError as exc:
            print("ValueError:", exc)
        print("PEAK", (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
        """
    )
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=120, check=True).stdout
    peak = float(out.rsplit("PEAK", 1)[1])
    return peak, out


def _zeros_gz(path, header: bytes, n_zero_mb: int) -> None:
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header)
        chunk = bytes(1 << 20)
        for _ in range(n_zero_mb):
            f.write(chunk)


def test_idx_gzip_bomb_is_refused_without_inflating_it(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    _zeros_gz(path, struct.pack(">II", 0x801, 1) + b"\0", 256)  # header: 1 label; then 256 MB of zeros
    assert path.stat().st_size < 2 << 20
    peak, out = _peak_mb(f"nnlite.data.read_idx({str(path)!r})")
    assert "oversized IDX file" in out and str(path) in out
    assert peak < LIMIT_MB, out  # the old reader inflated the whole stream first (hundreds of MB)


def test_idx_header_reading_keeps_exact_errors_for_plain_files(tmp_path):
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    raw = struct.pack(">IIIi", 0x803 - 1, 3, 4, 0)[:12] + arr.tobytes()  # magic 0x802: 2 dimensions
    p = tmp_path / "a"
    p.write_bytes(raw)
    np.testing.assert_array_equal(read_idx(p), arr)
    p.write_bytes(raw + b"\0" * 5)
    with pytest.raises(ValueError, match=f"expected {len(raw)} bytes, got {len(raw) + 5} bytes"):
        read_idx(p)
    gz = tmp_path / "a.gz"
    gz.write_bytes(gzip.compress(raw + b"\0" * 5))
    with pytest.raises(ValueError, match=f"oversized.*more than {len(raw)} bytes"):
        read_idx(gz)


def _tar_with(path, name: str, size_mb: int) -> None:
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
        info.size = size_mb << 20

        class Zeros(io.RawIOBase):
            left = info.size

            def readable(self):
                return True

            def readinto(self, b):
                n = min(len(b), self.left)
                b[:n] = bytes(n)
                self.left -= n
                return n

        tar.addfile(info, io.BufferedReader(Zeros()))


def test_cifar_tar_bomb_is_refused_before_its_member_is_read(tmp_path):
    folder = tmp_path / "cifar10"
    folder.mkdir()
    _tar_with(folder / "cifar-10-python.tar.gz", "data_batch_1", 300)
    assert (folder / "cifar-10-python.tar.gz").stat().st_size < 4 << 20
    code = f"nnlite.data.load('cifar10', root={str(tmp_path)!r}, download=False)"
    peak, out = _peak_mb(code)
    assert "more than a CIFAR-10 batch can be" in out and "data_batch_1" in out, out
    assert peak < LIMIT_MB, out


def test_checkpoint_spec_bomb_is_refused_before_any_layer_is_built(tmp_path):
    # a 3 KB checkpoint whose spec says Dense(60000, 60000): the old loader drew 27 GB of weights first
    import nnlite as nn

    path = tmp_path / "bomb.npz"
    nn.save(nn.mlp([4, 3, 2], seed=0), path)
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    spec = json.loads(str(arrays["__spec__"]))
    spec["layers"][0]["config"].update(d_in=60000, d_out=60000)
    arrays["__spec__"] = np.array(json.dumps(spec))
    np.savez(path, **arrays)
    assert path.stat().st_size < 10_000
    peak, out = _peak_mb(f"nnlite.load({str(path)!r})")
    assert "has shape (3, 4) in the file, but its configuration needs (60000, 60000)" in out, out
    assert peak < LIMIT_MB, out


def test_resume_refuses_a_training_state_bomb_before_reading_it(tmp_path):
    # a 0.3 MB model.npz whose extra.optimizer member inflates to 300 MB: restore() used to np.load every
    # extra.optimizer.* member before checking anything
    import zipfile

    import nnlite as nn

    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            import numpy as np
            import nnlite as nn
            rng = np.random.default_rng(0)
            x, y = rng.standard_normal((64, 4)).astype(np.float32), rng.integers(0, 2, 64)
            nn.fit(nn.mlp([4, 3, 2], seed=0), nn.BP(), nn.softmax_cross_entropy, nn.SGD(0.1, momentum=0.9), (x, y),
                   epochs=1, batch_size=32, seed=0, progress=False, checkpoint_dir={str(tmp_path / "run")!r},
                   resume=RESUME)
            """
        )
    )
    code = f"RESUME = {{}}; exec(open({str(script)!r}).read())"
    _peak_mb(code.format("False"))  # a real checkpoint with training state
    path = tmp_path / "run" / "model.npz"
    n = 300 << 20
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (n // 4,)})
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("extra.optimizer.7.W.v.npy", "w", force_zip64=True) as fp:
            fp.write(header.getvalue())
            for _ in range(n >> 20):
                fp.write(bytes(1 << 20))
    assert path.stat().st_size < 1_000_000
    peak, out = _peak_mb(code.format("True"))
    assert "optimizer state '7.W.v' matches no parameter of this network" in out, out
    assert peak < LIMIT_MB, out
    assert nn.training.state.read_history(path) is not None  # the Ctrl-C report still reads the history
