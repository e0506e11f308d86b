"""Peak memory of the hostile files of issue 12: ``python -m benchmarks bombs [--size-mb 1536] [--out bombs.json]``.

Three small files whose headers announce far more than they hold or than the format allows are written to a
temporary folder: an IDX ``.gz`` whose header says one image and whose stream inflates to ``--size-mb`` MB, a
``cifar-10-python.tar.gz`` whose ``data_batch_1`` member inflates as much, and a 1.5 KB checkpoint whose spec says
``Dense(12000, 12000)``. Each is read by nnlite in a fresh interpreter (``nnlite.data.read_idx``,
``nnlite.data.load("cifar10")``, ``nnlite.load``), which reports its extra peak resident memory
(``resource.getrusage``, above the baseline after importing nnlite), its time and the error it raised.
Run it with ``PYTHONPATH`` pointing at another checkout to measure that one (the "before" of the issue).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import textwrap
from pathlib import Path

import numpy as np

from .harness import keep_partial, machine_header, meta, write_json

_READ = {
    "idx": "nnlite.data.read_idx({path!r})",
    "cifar": "nnlite.data.load('cifar10', root={root!r}, download=False)",
    "checkpoint": "nnlite.load({path!r})",
}


class _Zeros(io.RawIOBase):
    def __init__(self, n: int) -> None:
        self.n = n

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        k = min(len(b), self.n)
        b[:k] = bytes(k)
        self.n -= k
        return k


def make_bombs(folder: Path, size_mb: int) -> dict[str, Path]:
    """Write the three files into ``folder``; their paths by kind."""
    idx = folder / "bomb-idx.gz"
    with gzip.open(idx, "wb", 9) as f:
        f.write(b"\x00\x00\x08\x01" + (1).to_bytes(4, "big") + b"\0")  # uint8, 1-d, one element
        chunk = bytes(1 << 20)
        for _ in range(size_mb):
            f.write(chunk)
    cifar = folder / "cifar-10-python.tar.gz"
    with tarfile.open(cifar, "w:gz", compresslevel=9) as t:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = size_mb << 20
        t.addfile(info, io.BufferedReader(_Zeros(info.size)))
    spec = {
        "format": 1,
        "input_shape": [12000],
        "layers": [
            {"type": "Dense", "config": {"d_in": 12000, "d_out": 12000, "init": "he", "bias": True, "dtype": "float32"}}
        ],
        "frozen_units": {},
    }
    buf = io.BytesIO()
    arrays = {"layer0.param.W": np.zeros((1, 1), np.float32), "layer0.param.b": np.zeros(1, np.float32)}
    np.savez(buf, __spec__=np.array(json.dumps(spec)), **arrays)
    ckpt = folder / "bomb-checkpoint.npz"
    ckpt.write_bytes(buf.getvalue())
    return {"idx": idx, "cifar": cifar, "checkpoint": ckpt}


def measure(kind: str, path: Path) -> dict:
    """Read one bomb in a fresh interpreter: extra peak RSS (MB), seconds, and what it raised."""
    call = _READ[kind].format(path=str(path), root=str(path.parent))
    code = textwrap.dedent(
        f"""
        import json, resource, time
        import nnlite, nnlite.data
        print(nnlite.__file__)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        try:
            {call}
            result = "accepted"
        except BaseException as exc:
            result = f"{{type(exc).__name__}}: {{str(exc)[:100]}}"
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
        print(json.dumps({{"peak_mb": peak, "seconds": time.perf_counter() - t, "result": result}}))
        """
    )
    # cwd: the bombs' folder, so that the nnlite imported is the installed one or PYTHONPATH's, never a checkout in cwd
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600, cwd=path.parent
    )
    lines = out.stdout.strip().splitlines()
    return {"file_bytes": path.stat().st_size, "nnlite": lines[0], **json.loads(lines[-1])}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks bombs", description=__doc__.split("\n\n")[0])
    p.add_argument("--size-mb", type=int, default=1536, help="what the IDX and CIFAR bombs inflate to (default 1536)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    result = {"meta": meta(size_mb=args.size_mb), "bombs": {}}
    print(machine_header(result["meta"]["machine"]))
    print(f"peak resident memory above the baseline after importing nnlite; {args.size_mb} MB inflated bombs")
    with tempfile.TemporaryDirectory() as d:
        for kind, path in make_bombs(Path(d), args.size_mb).items():
            r = measure(kind, path)
            result["bombs"][kind] = r
            keep_partial(args.out, result)
            print(
                f"{kind:10s} file {r['file_bytes'] / 1e6:6.2f} MB  extra peak {r['peak_mb']:8.1f} MB  "
                f"{r['seconds']:6.2f} s  {r['result']}"
            )
        print(f"(nnlite imported from {r['nnlite']})")
    if args.out:
        write_json(args.out, result)
        print(f"wrote {args.out}")
    return 0
