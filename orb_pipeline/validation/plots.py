"""Pictures of the validation stage as PNG bytes (embedded in Dagster metadata with
:func:`orb_pipeline.core.pictures.markdown_image`)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from orb_pipeline.core.pictures import figure_png


def equity_png(
    session_labels: Sequence[str],
    oos_equity: np.ndarray,
    in_sample_equity: np.ndarray,
    fold_starts: Sequence[int],
    title: str,
) -> bytes:
    """Stitched out-of-sample equity against the full-window pick's equity over the same sessions,
    above the drawdowns of both. Every session shown is out of sample for the walk-forward picks.

    ``fold_starts`` are positions (into the plotted sessions) where a new fold's test window starts;
    they are drawn as vertical lines. Units: dollars per share.
    """
    from orb_pipeline.results.plots import drawdown

    figure, (axis, under) = plt.subplots(
        2, 1, figsize=(8, 5.0), sharex=True, gridspec_kw={"height_ratios": [2.6, 1]}
    )
    x = np.arange(len(oos_equity))
    picks = "walk-forward picks, out of sample (stitched)"
    winner = "full-window winner over the same sessions (picked with hindsight)"
    for values, label, color in ((in_sample_equity, winner, "tab:gray"),
                                 (oos_equity, picks, "tab:blue")):  # fmt: skip
        axis.plot(x, values, label=label, color=color)
        under.fill_between(x, drawdown(values), 0.0, color=color, alpha=0.25)
        under.plot(x, drawdown(values), color=color, linewidth=0.8)
    for start in fold_starts:
        for panel in (axis, under):
            panel.axvline(start, color="tab:orange", alpha=0.35, linewidth=0.8)
    axis.axhline(0.0, color="black", linewidth=0.5)
    ticks = np.linspace(0, max(len(x) - 1, 0), num=min(6, len(x)), dtype=int) if len(x) else []
    under.set_xticks(ticks, [session_labels[i] for i in ticks], rotation=20, fontsize=7)
    axis.set_ylabel("cumulative net ($ per share)", fontsize=8)
    under.set_ylabel("drawdown ($/sh)", fontsize=8)
    axis.set_title(title + "\n(orange lines: a new fold's test sessions start)", fontsize=9)
    axis.legend(fontsize=7, loc="upper left")
    return figure_png(figure, dpi=90)


def bootstrap_png(rows: Sequence[dict], title: str) -> bytes:
    """5/50/95th percentile bars of total profit and maximum drawdown per backtest (one row each)."""
    figure, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
    from orb_pipeline.results.plots import literal

    labels = [literal(str(row["label"])) for row in rows]
    y = np.arange(len(rows))
    for axis, name, color in ((axes[0], "profit", "tab:green"), (axes[1], "drawdown", "tab:red")):
        p5 = np.array([row[f"{name}_p5"] for row in rows])
        p50 = np.array([row[f"{name}_p50"] for row in rows])
        p95 = np.array([row[f"{name}_p95"] for row in rows])
        axis.hlines(y, p5, p95, color=color, linewidth=3, alpha=0.5)
        axis.plot(p50, y, "o", color=color)
        axis.set_title(
            f"{'total profit' if name == 'profit' else 'max drawdown'}, $/share (bar: 5th-95th percentile, dot: median)",
            fontsize=8,
        )
        axis.axvline(0.0, color="black", linewidth=0.5)
    axes[0].set_yticks(y, labels, fontsize=7)
    axes[0].invert_yaxis()
    figure.suptitle(title, fontsize=9)
    return figure_png(figure, dpi=90)
