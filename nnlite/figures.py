"""What every figure nnlite writes shares: a colour-blind-safe palette with markers, alignment axes scaled to the
data (never to noise) with 0 and 1 marked, integer epoch ticks, one size and type scale, and the atomic PNG write.

The figures are drawn on matplotlib's ``Figure`` (the Agg canvas, no pyplot state), so writing one never touches
a user's pyplot figures.

Size: a figure is drawn for the documentation site's text column (:data:`COLUMN_PX` CSS pixels wide) and written
at :data:`DPI`, so its width in inches times :data:`DPI` is at most the column: the site shows it at its own size,
never shrunk (a PNG written at a multiple of :data:`DPI` for sharp screens is shown at :data:`DPI`). A browser
shows a PNG at one CSS pixel (1/96 in) per image pixel when the column holds it, so text of ``f`` points in a
figure written at ``dpi`` reads as ``f * min(dpi, column / width) / 96`` points on the page (:func:`page_points`);
every text is at least :data:`MIN_FONT_PT` there (:func:`unreadable` lists what is not, and what sticks out of
the figure). Panels beyond two go on further rows, long titles wrap.
"""

from __future__ import annotations

import functools
import io
import math
import textwrap
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from .training.io import atomic_write

__all__ = [
    "COLUMN_PX",
    "DPI",
    "MARKERS",
    "MIN_COSINE_SPAN",
    "MIN_FONT_PT",
    "PALETTE",
    "WIDTH_IN",
    "alignment_axis",
    "cosine_limits",
    "drawn",
    "epoch_axis",
    "new_figure",
    "page_points",
    "save_png",
    "style",
    "suptitle",
    "unreadable",
]

#: Okabe & Ito's colour-blind-safe palette (black left out: it is the reference lines' colour).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#999999")
#: One marker per line, so that lines stay apart in grey print and where colours are hard to tell.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: The smallest span of a cosine axis: a series flatter than this is shown in a window of this height, so that
#: noise in the fourth decimal never fills the panel.
MIN_COSINE_SPAN = 0.2

#: The documentation site's text column in CSS pixels, with a margin: a page with its contents beside it in a window
#: 1280 pixels wide shows 613 (``docs/check_offline.py`` measures what the site shows every figure at).
COLUMN_PX = 600
#: Pixels per inch of every PNG nnlite writes.
DPI = 100
#: The width of every figure, in inches: the column at :data:`DPI`.
WIDTH_IN = COLUMN_PX / DPI
#: The smallest text in a figure, in points, on the page as in the figure.
MIN_FONT_PT = 9.0
#: CSS pixels per inch: what a browser shows one inch of a page as.
CSS_PX_PER_IN = 96
#: The type sizes of every figure (points), none below :data:`MIN_FONT_PT`.
FONTS = {
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0,
    "legend.fontsize": 9.0,
    "figure.titlesize": 10.0,
}
_F = TypeVar("_F", bound=Callable[..., Any])


def drawn(func: _F) -> _F:
    """Decorate a function that draws a figure: its text is set in :data:`FONTS` (a user's matplotlib settings are
    left as they were)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(cast(Any, FONTS)):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def page_points(font_pt: float, width_in: float, dpi: float, column_px: float = COLUMN_PX) -> float:
    """The size on the page, in points, of a ``font_pt`` text in a figure ``width_in`` inches wide written at
    ``dpi``: the browser shows the figure ``min(width_in * dpi, column_px)`` CSS pixels wide."""
    return font_pt * min(dpi, column_px / width_in) / CSS_PX_PER_IN


def unreadable(fig: Any, dpi: float, column_px: float = COLUMN_PX) -> list[str]:
    """What keeps ``fig``, written at ``dpi``, from being read on the site: a figure wider than the column (it
    would be shrunk), a text smaller than :data:`MIN_FONT_PT` on the page, or one that sticks out of the figure.
    Empty when it reads well."""
    from matplotlib.text import Text

    width = fig.get_figwidth()
    problems = []
    if width * min(dpi, DPI) > column_px + 0.5:  # (a sharper PNG, at a multiple of DPI, is shown at DPI)
        problems.append(f"{width:g} in at {DPI} px per inch is wider than the {column_px:g} px column: shrunk")
    canvas = fig.canvas
    if not hasattr(canvas, "get_renderer"):  # a Figure never saved has no Agg canvas yet
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    fig.draw(renderer)
    box = fig.bbox

    def out(e: Any) -> bool:
        return bool(e.x0 < box.x0 - 1 or e.y0 < box.y0 - 1 or e.x1 > box.x1 + 1 or e.y1 > box.y1 + 1)

    # tick labels are placed only for the ticks in view: each axes' drawn extent holds them
    ticks = {id(t) for ax in fig.axes for t in (*ax.get_xticklabels(which="both"), *ax.get_yticklabels(which="both"))}
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip() or (t.axes is not None and not t.axes.get_visible()):
            continue
        pt = page_points(t.get_fontsize(), width, dpi, column_px)
        if pt < MIN_FONT_PT - 1e-9:
            problems.append(f"{t.get_text()!r} is {pt:.1f} pt on the page, under {MIN_FONT_PT:g} pt")
        if id(t) not in ticks and out(t.get_window_extent(renderer)):
            problems.append(f"{t.get_text()!r} sticks out of the figure")
    problems += [f"the ticks of {ax.get_title()!r} stick out" for ax in fig.axes if out(ax.get_tightbbox(renderer))]
    return problems


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
            ax.annotate(text, (0.995, level), xycoords=("axes fraction", "data"), ha="right", va="bottom")
    ax.set_ylabel(ylabel)


def epoch_axis(ax: Any, epochs: Sequence[float]) -> None:
    """Integer epoch ticks on ``ax``'s x axis."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if epochs:
        ax.set_xlim(min(0.8, min(epochs) - 0.2), max(epochs) + 0.2)
    ax.set_xlabel("epoch")


def new_figure(panels: int, *, columns: int = 2, row_height: float = 2.6) -> tuple[Any, list[Any]]:
    """A ``Figure`` :data:`WIDTH_IN` wide with ``panels`` axes, ``columns`` to a row (constrained layout)."""
    from matplotlib.figure import Figure

    cols = max(1, min(columns, panels))
    rows = math.ceil(panels / cols)
    fig = Figure(figsize=(WIDTH_IN, row_height * rows + 0.5), layout="constrained")
    axes = list(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax in axes[panels:]:
        ax.remove()
    return fig, axes[:panels]


def suptitle(fig: Any, text: str) -> None:
    """``fig``'s title, wrapped to the figure's width."""
    size = FONTS["figure.titlesize"]
    chars = int(fig.get_figwidth() * 72 / (0.55 * size))  # an average glyph is about 0.55 em wide
    fig.suptitle("\n".join(textwrap.wrap(text, chars)), fontsize=size)


def save_png(fig: Any, path: str | Path, dpi: int = DPI, *, own: bool = False) -> None:
    """Write ``fig`` as PNG atomically (a full disk never leaves half a plot); ``own``: a file nnlite names
    itself, never written through a link (:func:`nnlite.training.io.atomic_file`)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write(path, buf.getvalue(), own=own)
