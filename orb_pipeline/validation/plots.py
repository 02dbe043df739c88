"""Pictures of the validation stage as PNG bytes, and the markdown that embeds them in Dagster metadata.

The Dagster UI renders ``dg.MetadataValue.md`` with inline ``data:image/png;base64`` images, so the
picture travels with the materialization event and needs no file server.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # headless: runs in daemons and ECS tasks

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """Markdown embedding ``png`` inline (for ``dg.MetadataValue.md``)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def equity_png(
    session_labels: Sequence[str],
    oos_equity: np.ndarray,
    in_sample_equity: np.ndarray,
    fold_starts: Sequence[int],
    title: str,
) -> bytes:
    """Stitched out-of-sample equity against the full-window pick's equity over the same sessions.

    ``fold_starts`` are positions (into the plotted sessions) where a new fold's test window starts;
    they are drawn as vertical lines. Units: dollars per share.
    """
    figure, axis = plt.subplots(figsize=(8, 3.6))
    x = np.arange(len(oos_equity))
    axis.plot(
        x, in_sample_equity, label="in-sample pick (full-window sweep winner)", color="tab:gray"
    )
    axis.plot(x, oos_equity, label="walk-forward out-of-sample (stitched)", color="tab:blue")
    for start in fold_starts:
        axis.axvline(start, color="tab:orange", alpha=0.25, linewidth=0.8)
    axis.axhline(0.0, color="black", linewidth=0.5)
    ticks = np.linspace(0, max(len(x) - 1, 0), num=min(6, len(x)), dtype=int) if len(x) else []
    axis.set_xticks(ticks, [session_labels[i] for i in ticks], rotation=20, fontsize=7)
    axis.set_ylabel("cumulative net, $/share")
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=7, loc="upper left")
    return _png(figure)


def bootstrap_png(rows: Sequence[dict], title: str) -> bytes:
    """5/50/95th percentile bars of total profit and maximum drawdown per backtest (one row each)."""
    figure, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
    labels = [str(row["label"]) for row in rows]
    y = np.arange(len(rows))
    for axis, name, color in ((axes[0], "profit", "tab:green"), (axes[1], "drawdown", "tab:red")):
        p5 = np.array([row[f"{name}_p5"] for row in rows])
        p50 = np.array([row[f"{name}_p50"] for row in rows])
        p95 = np.array([row[f"{name}_p95"] for row in rows])
        axis.hlines(y, p5, p95, color=color, linewidth=3, alpha=0.5)
        axis.plot(p50, y, "o", color=color)
        axis.set_title(
            f"{'total profit' if name == 'profit' else 'max drawdown'}, $/share (5-50-95 %)",
            fontsize=8,
        )
        axis.axvline(0.0, color="black", linewidth=0.5)
    axes[0].set_yticks(y, labels, fontsize=7)
    axes[0].invert_yaxis()
    figure.suptitle(title, fontsize=9)
    return _png(figure)
