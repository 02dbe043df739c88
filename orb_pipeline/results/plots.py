"""Pictures of the leaderboard (PNG bytes, matplotlib's Agg backend; no display needed).

- :func:`equity_figure`: cumulative per-session net P&L of backtests against the underlying's
  move over the same sessions (what the original ``display()`` showed), dollars per share.
- :func:`heatmap_figure`: total profit over stop distance x limit distance for one slice of the grid.
- :func:`markdown_image`: a PNG as Markdown with an embedded data URI, for Dagster metadata.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402


def equity_curve(ledger: pl.DataFrame, sessions: pl.DataFrame) -> pl.DataFrame:
    """``session_date``, ``equity``: cumulative net P&L after each session of ``sessions``
    (sessions without trades add 0), from an ``engine.ledger`` frame."""
    per_session = ledger.group_by("session_date").agg(pl.col("profit").sum())
    return (
        sessions.select("session_date")
        .join(per_session, on="session_date", how="left")
        .sort("session_date")
        .select("session_date", pl.col("profit").fill_null(0.0).cum_sum().alias("equity"))
    )


def underlying_move(series: pl.DataFrame, sessions: pl.DataFrame) -> pl.DataFrame:
    """``session_date``, ``move``: each session's last price minus the window's first price
    (dollars per share; carried forward over sessions without ticks)."""
    closes = series.group_by("session_date").agg(pl.col("price").last())
    first_price = series["price"][0] if series.height else 0.0
    return (
        sessions.select("session_date")
        .join(closes, on="session_date", how="left")
        .sort("session_date")
        .select(
            "session_date",
            (pl.col("price").forward_fill().fill_null(first_price) - first_price).alias("move"),
        )
    )


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def equity_figure(title: str, curves: dict[str, pl.DataFrame], move: pl.DataFrame) -> bytes:
    """Equity curves (label -> :func:`equity_curve` frame) and the underlying's move."""
    figure, axis = plt.subplots(figsize=(10, 5))
    for label, curve in curves.items():
        axis.plot(
            curve["session_date"].to_list(), curve["equity"].to_numpy(), label=label, linewidth=1.4
        )
    axis.plot(
        move["session_date"].to_list(),
        move["move"].to_numpy(),
        label="underlying move",
        color="black",
        linewidth=1.0,
        linestyle="--",
    )
    axis.axhline(0.0, color="grey", linewidth=0.6)
    axis.set_title(title)
    axis.set_ylabel("dollars per share")
    axis.legend(loc="upper left", fontsize=8)
    axis.grid(alpha=0.3)
    figure.autofmt_xdate()
    return _png(figure)


def heatmap_figure(title: str, rows: pl.DataFrame) -> bytes:
    """``rows`` with ``stop_distance``, ``limit_distance``, ``backtest_profit`` (one row per
    cell; missing cells blank) as a heatmap, stop distance on the y axis."""
    stops = sorted(rows["stop_distance"].unique().to_list())
    limits = sorted(rows["limit_distance"].unique().to_list())
    cells = np.full((len(stops), len(limits)), np.nan)
    stop_index = {v: i for i, v in enumerate(stops)}
    limit_index = {v: i for i, v in enumerate(limits)}
    for stop, limit, profit in rows.select(
        "stop_distance", "limit_distance", "backtest_profit"
    ).iter_rows():
        if profit is not None:
            cells[stop_index[stop], limit_index[limit]] = profit
    figure, axis = plt.subplots(figsize=(10, 6))
    bound = np.nanmax(np.abs(cells)) if np.isfinite(cells).any() else 1.0
    image = axis.imshow(
        cells, origin="lower", aspect="auto", cmap="RdYlGn", vmin=-bound, vmax=bound
    )
    axis.set_xticks(range(len(limits)), [f"{v:g}" for v in limits], fontsize=7)
    axis.set_yticks(range(len(stops)), [f"{v:g}" for v in stops], fontsize=7)
    axis.set_xlabel("limit distance ($)")
    axis.set_ylabel("stop distance ($)")
    axis.set_title(title)
    figure.colorbar(image, ax=axis, label="total profit ($ per share)")
    return _png(figure)


def markdown_image(png: bytes, alt: str) -> str:
    """Markdown that shows ``png`` inline (a base64 data URI)."""
    return "![" + alt + "](data:image/png;base64," + base64.b64encode(png).decode() + ")"
