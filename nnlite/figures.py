"""What every figure nnlite writes shares: a colour-blind-safe palette with markers, alignment axes scaled to the
data (never to noise) with 0 and 1 marked, integer epoch ticks, and the atomic PNG write.

The figures are drawn on matplotlib's ``Figure`` (the Agg canvas, no pyplot state), so writing one never touches
a user's pyplot figures.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .training.io import atomic_write

__all__ = [
    "MARKERS",
    "MIN_COSINE_SPAN",
    "PALETTE",
    "alignment_axis",
    "cosine_limits",
    "epoch_axis",
    "new_figure",
    "save_png",
    "style",
]

#: Okabe & Ito's colour-blind-safe palette (black left out: it is the reference lines' colour).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#999999")
#: One marker per line, so that lines stay apart in grey print and where colours are hard to tell.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: The smallest span of a cosine axis: a series flatter than this is shown in a window of this height, so that
#: noise in the fourth decimal never fills the panel.
MIN_COSINE_SPAN = 0.2


def style(i: int) -> dict[str, Any]:
    """Colour, marker and line style of the i-th line: past the palette's length the marker shifts and the line is
    dashed, so no two of the first 16 lines look alike."""
    turn = i // len(PALETTE)
    return {
        "color": PALETTE[i % len(PALETTE)],
        "marker": MARKERS[(i + 3 * turn) % len(MARKERS)],
        "linestyle": "-" if turn % 2 == 0 else "--",
    }


def _finite(values: Iterable[Any]) -> list[float]:
    out = []
    for v in values:
        if v is None:
            continue
        f = float(v)
        if math.isfinite(f):
            out.append(f)
    return out


def cosine_limits(values: Iterable[Any], *, min_span: float = MIN_COSINE_SPAN) -> tuple[float, float]:
    """Y limits for cosines: the data's range with a margin, always including 0 (no alignment), never narrower
    than ``min_span`` (a flat series gets a window of that height, not a magnified view of its noise) and never
    beyond [-1.05, 1.05]. No finite value gives the whole range."""
    data = _finite(values)
    if not data:
        return (-1.05, 1.05)
    lo, hi = min(min(data), 0.0), max(max(data), 0.0)
    pad = 0.08 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    if hi - lo < min_span:
        grow = (min_span - (hi - lo)) / 2
        lo, hi = lo - grow, hi + grow
    return (max(lo, -1.05), min(hi, 1.05))


def alignment_axis(ax: Any, values: Iterable[Any], ylabel: str = "cosine with BP's signal") -> None:
    """Scale ``ax``'s y axis to the cosines ``values`` (:func:`cosine_limits`) and mark 0 (no alignment) and 1
    (BP's own signal) where they fall inside it."""
    lo, hi = cosine_limits(values)
    ax.set_ylim(lo, hi)
    for level, text in ((0.0, "0: orthogonal"), (1.0, "1: BP")):
        if lo <= level <= hi:
            ax.axhline(level, color="black", linewidth=0.8, linestyle=":" if level else "-", zorder=0)
            ax.annotate(text, (0.995, level), xycoords=("axes fraction", "data"), ha="right", va="bottom", fontsize=7)
    ax.set_ylabel(ylabel)


def epoch_axis(ax: Any, epochs: Sequence[float]) -> None:
    """Integer epoch ticks on ``ax``'s x axis."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if epochs:
        ax.set_xlim(min(0.8, min(epochs) - 0.2), max(epochs) + 0.2)
    ax.set_xlabel("epoch")


def new_figure(panels: int, *, width: float = 4.6, height: float = 3.6) -> tuple[Any, list[Any]]:
    """A ``Figure`` with ``panels`` axes side by side (constrained layout)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * panels, height), layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    return fig, list(axes)


def save_png(fig: Any, path: str | Path, dpi: int = 110, *, own: bool = False) -> None:
    """Write ``fig`` as PNG atomically (a full disk never leaves half a plot); ``own``: a file nnlite names
    itself, never written through a link (:func:`nnlite.training.io.atomic_file`)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write(path, buf.getvalue(), own=own)
