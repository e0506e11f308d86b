"""Draw the landing page's figure, ``docs/figures/headline.png``, from the headline table of
``docs/measurements.md`` (the `nnlite compare` run on Fashion-MNIST): test accuracy and alignment with BP per
hidden layer, for each rule.

Usage: ``python docs/figures/headline.py`` (commit the PNG it writes). The figure is drawn as wide as every figure
of nnlite (:data:`nnlite.figures.WIDTH_IN`, the site's text column at 100 pixels per inch), so its 10-pt text is
at least 10 pt on the page; it is saved at twice that resolution for sharp screens.
"""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "measurements.md"
FONT_PT = 10


def headline_table(text: str) -> dict[str, tuple[float, list[float]]]:
    """``{rule: (test accuracy %, [cos h1, cos h2, cos h3])}`` from the first rule table of measurements.md."""
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^\|\s*([A-Z]+)\s*\|\s*([\d.]+) %\s*\|((?:\s*-?[\d.]+\s*\|)+)\s*$", line)
        if m:
            rows[m.group(1)] = (float(m.group(2)), [float(v) for v in m.group(3).split("|") if v.strip()])
        elif rows:
            break
    return rows


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nnlite.figures import WIDTH_IN

    rows = headline_table(SOURCE.read_text(encoding="utf-8"))
    rules = list(rows)
    plt.rcParams.update({"font.size": FONT_PT, "axes.titlesize": FONT_PT + 1})
    fig, (ax_acc, ax_cos) = plt.subplots(
        1, 2, figsize=(WIDTH_IN, 3.2), gridspec_kw={"width_ratios": [1, 1.6]}, layout="constrained"
    )
    colors = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9"]
    ax_acc.bar(rules, [rows[r][0] for r in rules], color=colors[: len(rules)])
    low = min(rows[r][0] for r in rules)
    ax_acc.set_ylim(low - 3, 90)
    ax_acc.set_ylabel("test accuracy %")
    ax_acc.set_title("accuracy after 10 epochs")
    for i, r in enumerate(rules):
        ax_acc.text(i, rows[r][0] + 0.2, f"{rows[r][0]:.1f}", ha="center", va="bottom")
    layers = range(1, len(rows[rules[0]][1]) + 1)
    for r, c in zip(rules, colors):
        ax_cos.plot(list(layers), rows[r][1], marker="o", color=c, label=r)
    ax_cos.set_xticks(list(layers), [f"hidden {k}" for k in layers])
    ax_cos.set_ylim(0, 1.05)
    ax_cos.set_ylabel("cosine with BP's signal")
    ax_cos.set_title("alignment with BP")
    ax_cos.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.suptitle("Fashion-MNIST, 784-800-800-800-10 tanh MLP, Adam 1e-3\n(docs/measurements.md)", fontsize=FONT_PT)
    fig.savefig(HERE / "headline.png", dpi=200)
    print(f"wrote {HERE / 'headline.png'}")


if __name__ == "__main__":
    main()
