"""The figures nnlite writes: axes scaled to the data (never magnifying noise), 0 and 1 marked, integer epoch
ticks, a colour-blind-safe palette with markers, and every PNG read back (size, something drawn)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from cli_helpers import _is_png

from nnlite.cli.report import describe, plot_compare, plot_history
from nnlite.experiments.report import _figure
from nnlite.figures import (
    COLUMN_PX,
    DPI,
    MARKERS,
    MIN_COSINE_SPAN,
    PALETTE,
    WIDTH_IN,
    alignment_axis,
    cosine_limits,
    epoch_axis,
    new_figure,
    page_points,
    unreadable,
)
from nnlite.training import History


def test_a_flat_series_gets_a_sensible_range():
    """launay-fig4 --quick once autoscaled its alignment axis to 0.013985-0.01402: noise filled the panel."""
    lo, hi = cosine_limits([0.013985, 0.01399, 0.01402])
    assert hi - lo >= MIN_COSINE_SPAN - 1e-12
    assert lo <= 0.0 <= hi and lo <= 0.013985 and hi >= 0.01402


@pytest.mark.parametrize(
    "values",
    [[0.1, 0.15, 0.2], [-0.02, 0.3, 0.6], [0.55, 0.6, 1.0], [-0.9, -0.5], [0.999, 1.0, 1.0]],
)
def test_cosine_limits_hold_the_data_and_zero_and_stay_close(values):
    lo, hi = cosine_limits(values)
    assert -1.05 <= lo <= min(min(values), 0.0) and max(max(values), 0.0) <= hi <= 1.05
    span = max(max(values), 0.0) - min(min(values), 0.0)
    assert hi - lo <= max(1.2 * span, MIN_COSINE_SPAN) + 1e-9  # scaled to the data, not fixed at -1..1


def test_cosine_limits_without_finite_values_show_the_whole_range():
    assert cosine_limits([None, float("nan")]) == (-1.05, 1.05)


def test_alignment_axis_marks_zero_and_one_where_they_fall():
    fig, (a, b) = new_figure(2)
    alignment_axis(a, [0.1, 0.2])
    alignment_axis(b, [0.2, 1.0])
    levels = [[line.get_ydata()[0] for line in ax.get_lines()] for ax in (a, b)]
    assert levels[0] == [0.0] and sorted(levels[1]) == [0.0, 1.0]
    assert a.get_ylim()[1] < 0.5  # a DFA cosine of 0.15 is not drawn flat on a -1..1 axis


def test_epoch_ticks_are_integers():
    fig, (ax,) = new_figure(1)
    ax.plot([1, 2], [0.5, 0.6])
    epoch_axis(ax, [1, 2])
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_palette_is_distinct_with_markers():
    assert len(set(PALETTE)) == len(PALETTE) >= 6 and len(set(MARKERS)) == len(MARKERS) >= 6


CFG = {
    "model": "mlp",
    "input_shape": [784],
    "hidden": [800, 800],
    "n_classes": 10,
    "activation": "tanh",
    "optimizer": "adam",
    "lr": 1e-3,
    "batch_size": 128,
    "dataset": "fashion-mnist",
    "n_train": 10000,
}


def _history(n_epochs=2, cos=(0.0140, 0.0141)):
    steps = list(range(0, 100 * n_epochs, 10))
    return History(
        epoch=list(range(1, n_epochs + 1)),
        train_loss=list(np.linspace(1.0, 0.5, n_epochs)),
        test_loss=list(np.linspace(1.1, 0.6, n_epochs)),
        train_acc=list(np.linspace(0.6, 0.8, n_epochs)),
        test_acc=list(np.linspace(0.55, 0.75, n_epochs)),
        seconds=[1.0] * n_epochs,
        alignment=[{"step": s, "signal_cos": [cos[0], cos[1]]} for s in steps],
        rule="dfa",
    )


def test_titles_name_the_network_optimizer_and_data():
    title = describe(CFG, "dfa")
    for part in ("dfa", "MLP 784-800-800-10 tanh", "adam lr 0.001", "batch 128", "fashion-mnist", "10000"):
        assert part in title


def test_curves_png_reads_back(tmp_path):
    plot_history(_history(), tmp_path / "curves.png", 2, describe(CFG, "dfa"))
    assert _is_png(tmp_path / "curves.png", min_size=(600, 300))


def test_compare_is_one_figure_with_a_panel_per_layer(tmp_path):
    results = {r: {"history": _history(cos=c).to_dict()} for r, c in (("bp", (1.0, 1.0)), ("dfa", (0.2, 0.1)))}
    files = plot_compare(results, tmp_path, 2, describe(CFG, "bp, dfa"))
    assert [f.name for f in files] == ["compare.png"]
    assert _is_png(files[0], min_size=(600, 400))  # three panels, two to a row


def test_report_figures_read_back(tmp_path):
    spec = SimpleNamespace(readings={"as written": {}, "as run": {}}, title="Launay et al., Figure 4")
    rows = [
        {"variation": f"bottleneck=1:{n} [{r}]", "paper": {}, "test_acc": 70 + n / 100, "test_acc_std": 0.5,
         "cos": [0.3, 0.0140 + n * 1e-6, 0.2]}
        for r in ("as written", "as run")
        for n in (1, 10, 100, 800)
    ]  # fmt: skip
    _figure("bottleneck", spec, rows, [], tmp_path, spec.title)
    assert _is_png(tmp_path / "bottleneck.png", min_size=(600, 300))
    al = [{"step": s, "error_angle": [80.0 - s / 10, 85.0], "readout_acc": [0.1 + s / 1000, 0.2]} for s in (0, 50, 100)]
    records = [
        {"status": "ok", "seed": 0, "variation": v, "result": {"history": {"alignment": al}}} for v in ("dfa", "lafs")
    ]
    spec = SimpleNamespace(readings={}, title="Gilmer et al., Figure 1")
    _figure("local_errors", spec, [], records, tmp_path, spec.title)
    assert _is_png(tmp_path / "local_errors.png", min_size=(600, 300))


def _saved_figures(monkeypatch):
    """Every figure saved from now on, with the dpi it was written at (whatever draws it)."""
    from matplotlib.figure import Figure

    seen = []
    original = Figure.savefig

    def savefig(self, *args, **kwargs):
        seen.append((self, kwargs.get("dpi")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return seen


def test_every_figure_reads_at_the_width_the_site_shows_it(tmp_path, monkeypatch):
    """Each figure nnlite draws (the command's curves and comparison, the reports' figures, the benchmark's and
    the landing page's) is no wider than the site's text column at 100 px per inch, and each of its texts is at
    least 9 pt on the page and inside the figure (nnlite/figures.py gives the rule)."""
    import importlib.util
    import json
    from pathlib import Path

    from benchmarks.bench_step import plot as plot_backward_cost

    root = Path(__file__).resolve().parent.parent
    seen = _saved_figures(monkeypatch)
    plot_history(_history(), tmp_path / "curves.png", 2, describe(CFG, "dfa"))
    rules = ["bp", "fa", "dfa", "ifa", "lafs", "usf", "brsf", "frsf", "kp", "drtp", "sdfa", "dkp", "local", "dtp"]
    hist = _history(cos=(0.3, 0.2)).to_dict()
    for a in hist["alignment"]:
        a["signal_cos"].append(0.1)
    plot_compare({r: {"history": hist} for r in rules}, tmp_path, 3, describe(CFG, ", ".join(rules)))
    report = json.loads((root / "docs" / "reproductions" / "launay-fig4" / "report.json").read_text())
    spec = SimpleNamespace(readings={"as written": {}, "as run": {}}, title=report["title"])
    _figure("bottleneck", spec, report["rows"], [], tmp_path, report["title"])
    al = [{"step": s, "error_angle": [80.0 - s / 10, 85.0], "readout_acc": [0.1 + s / 1000, 0.2]} for s in (0, 50)]
    records = [
        {"status": "ok", "seed": 0, "variation": v, "result": {"history": {"alignment": al}}} for v in ("dfa", "lafs")
    ]
    long_title = "Gilmer et al. (2017), Figure 1: the local errors of DFA and LAFS (epochs=3; on fashion-mnist)"
    _figure("local_errors", SimpleNamespace(readings={}, title=long_title), [], records, tmp_path, long_title)
    plot_backward_cost(json.loads((root / "docs" / "bench" / "steps.json").read_text())["sweeps"], tmp_path / "b.png")
    spec_ = importlib.util.spec_from_file_location("headline", root / "docs" / "figures" / "headline.py")
    headline = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(headline)
    monkeypatch.setattr(headline, "HERE", tmp_path)
    headline.main()
    assert len(seen) == 6
    for fig, dpi in seen:
        assert unreadable(fig, dpi) == [], fig.get_suptitle() if hasattr(fig, "get_suptitle") else fig


def test_the_readability_check_sees_small_wide_and_cut_text():
    from matplotlib.figure import Figure

    fig, (ax,) = new_figure(1)
    ax.set_title("small", fontsize=7)
    ax.annotate("far out", (1.4, 0.5), xycoords="axes fraction")
    problems = unreadable(fig, DPI)
    assert any("'small'" in p and "under 9 pt" in p for p in problems)
    assert any("'far out'" in p and "sticks out" in p for p in problems)
    wide = Figure(figsize=(COLUMN_PX / DPI + 2, 3))
    assert any("shrunk" in p for p in unreadable(wide, DPI))
    assert not any("shrunk" in p for p in unreadable(Figure(figsize=(WIDTH_IN, 3)), 2 * DPI))  # a sharper PNG
    assert page_points(9, WIDTH_IN, DPI) >= 9 > page_points(9, 2 * WIDTH_IN, DPI)


def test_the_roofline_figure_reads_at_the_width_the_site_shows_it(tmp_path, monkeypatch):
    from benchmarks.bench_roofline import figure

    seen = _saved_figures(monkeypatch)
    phases = {ph: {"measured_s": 0.004, "roofline_s": 0.002} for ph in ("forward", "backward", "update")}
    rows = [{"model": m, "rule": r, "phases": phases} for m, r in [("mlp", "bp"), ("mlp", "dfa"), ("cnn", "bp")]]
    figure({"configs": [{"threads": t, "gemm": "numpy", "rows": rows} for t in (1, 2)]}, tmp_path / "r.png")
    assert len(seen) == 1
    for fig, dpi in seen:
        assert unreadable(fig, dpi) == []
