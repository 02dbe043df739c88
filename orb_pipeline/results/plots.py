"""Pictures of the leaderboard (PNG bytes, matplotlib's Agg backend; no display needed).

- :func:`equity_figure`: cumulative per-session net P&L of backtests (dollars per share) above
  their drawdowns, with the underlying's move in percent on its own right-hand axis.
- :func:`distinct_curves`: which of many ranked backtests to draw so that the lines differ
  (near-duplicates, whose per-session P&L correlates above a threshold, are left out).
- :func:`heatmap_figure`: a ranking figure over stop x limit distance, one panel per value of a
  third parameter, the best cell marked, and :func:`edge_warnings` when the optimum lies on the
  grid's edge (the grid should then be wider).
- :func:`pbo_histogram`, :func:`stability_figure`: the selection statistics (results/selection.py).

Files and their inline thumbnails go through ``orb_pipeline.core.artifacts``; PNG bytes come
from :func:`orb_pipeline.core.pictures.figure_png`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import polars as pl

from orb_pipeline.core.pictures import figure_png
from orb_pipeline.results import display

# Parameters a heatmap may split into panels, and the most panels it draws side by side.
PANEL_PARAMETERS = ("stop_count_limit", "range_seconds", "stop_cooloff_period")
MAX_PANELS = 4


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
    """``session_date``, ``move`` (dollars per share) and ``move_percent``: each session's last
    price against the window's first price (carried forward over sessions without ticks)."""
    closes = series.group_by("session_date").agg(pl.col("price").last())
    first_price = series["price"][0] if series.height else 0.0
    last = pl.col("price").forward_fill().fill_null(first_price)
    percent = (last / first_price - 1.0) * 100.0 if first_price else pl.lit(0.0)
    return (
        sessions.select("session_date")
        .join(closes, on="session_date", how="left")
        .sort("session_date")
        .select("session_date", (last - first_price).alias("move"), percent.alias("move_percent"))
    )


def drawdown(equity: np.ndarray) -> np.ndarray:
    """``equity`` minus its running maximum (starting from 0): 0 at a new high, negative below."""
    values = np.asarray(equity, dtype=np.float64)
    if values.size == 0:
        return values
    return values - np.maximum.accumulate(np.maximum(values, 0.0))


def distinct_curves(nets: np.ndarray, limit: int, max_correlation: float = 0.95) -> list[int]:
    """Row indices of ``nets`` (backtests x sessions, best first) to draw: greedily in order, a
    row is kept when its per-session P&L correlates at most ``max_correlation`` with every kept
    row (a row with no variance counts as a duplicate of another such row); at most ``limit``."""
    kept: list[int] = []
    values = np.asarray(nets, dtype=np.float64)
    spread = values.std(axis=1) if values.size else np.zeros(len(values))
    for index in range(len(values)):
        if len(kept) >= limit:
            break
        duplicate = False
        for other in kept:
            if spread[index] == 0 or spread[other] == 0:
                duplicate = spread[index] == spread[other] == 0
            else:
                duplicate = np.corrcoef(values[index], values[other])[0, 1] > max_correlation
            if duplicate:
                break
        if not duplicate:
            kept.append(index)
    return kept


def equity_figure(
    title: str,
    curves: Mapping[str, pl.DataFrame],
    move: pl.DataFrame,
    note: str | None = None,
) -> bytes:
    """Equity curves (label -> :func:`equity_curve` frame) in $/share over their drawdowns, the
    underlying's move in percent on the right-hand axis; ``note`` is printed under the title."""
    figure, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(11, 7.2),
        sharex=True,
        gridspec_kw={"height_ratios": [3, 1.4]},
        layout="constrained",
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (name, curve) in enumerate(curves.items()):
        dates = curve["session_date"].to_list()
        equity = curve["equity"].to_numpy()
        color = colors[index % len(colors)]
        top.plot(dates, equity, label=literal(name), linewidth=1.6, color=color)
        bottom.fill_between(dates, drawdown(equity), 0.0, alpha=0.2, color=color)
        bottom.plot(dates, drawdown(equity), linewidth=0.9, color=color)
    top.axhline(0.0, color="grey", linewidth=0.6)
    top.set_ylabel("cumulative net profit ($ per share)")
    top.grid(alpha=0.3)
    underlying = top.twinx()
    underlying.plot(
        move["session_date"].to_list(),
        move["move_percent"].to_numpy(),
        color="dimgrey",
        linewidth=1.0,
        linestyle="--",
        label="underlying, % from the window's first price (right axis)",
    )
    underlying.set_ylabel("underlying move (%)", color="dimgrey")
    underlying.tick_params(axis="y", colors="dimgrey")
    handles, labels = top.get_legend_handles_labels()
    more_handles, more_labels = underlying.get_legend_handles_labels()
    figure.legend(
        handles + more_handles,
        labels + more_labels,
        loc="outside lower center",
        fontsize=8,
        frameon=False,
    )
    bottom.set_ylabel("drawdown ($ per share)")
    bottom.axhline(0.0, color="grey", linewidth=0.6)
    bottom.grid(alpha=0.3)
    bottom.tick_params(axis="x", labelrotation=20)
    top.set_title(literal(title + ("\n" + note if note else "")), fontsize=10)
    return figure_png(figure, dpi=100)


def literal(text: str) -> str:
    """``text`` shown as written (matplotlib reads ``$...$`` as math)."""
    return text.replace("$", r"\$")


def edge_warnings(grid_values: Mapping[str, Sequence], best: Mapping) -> list[str]:
    """One sentence per parameter whose best value is the smallest or largest the grid tried
    (parameters with a single value are not warned about: they were not searched)."""
    warnings = []
    for name, values in grid_values.items():
        values = sorted(set(values))
        if len(values) < 2:
            continue
        if best[name] in (values[0], values[-1]):
            side = "smallest" if best[name] == values[0] else "largest"
            warnings.append(
                f"best {display.label(name)} {display.text(name, best[name])} is the {side} the "
                "grid tried: widen the grid"
            )
    return warnings


def panel_parameter(grid_values: Mapping[str, Sequence]) -> str | None:
    """The parameter the heatmap splits into panels: of :data:`PANEL_PARAMETERS`, the first with
    2..:data:`MAX_PANELS` values in the grid; None when none fits (one panel)."""
    for name in PANEL_PARAMETERS:
        count = len(set(grid_values.get(name, ())))
        if 2 <= count <= MAX_PANELS:
            return name
    return None


def _ticks(values: Sequence[float], most: int = 12) -> tuple[list[int], list[str]]:
    step = max(1, -(-len(values) // most))
    positions = list(range(0, len(values), step))
    return positions, [f"{values[i]:g}" for i in positions]


def heatmap_figure(
    title: str,
    rows: pl.DataFrame,
    best: Mapping,
    value: str = "sharpe",
    panel_by: str | None = None,
    warnings: Sequence[str] = (),
    unit: str = "$",
) -> bytes:
    """``value`` over stop distance (y) x limit distance (x) from ``rows`` (one row per cell,
    columns ``stop_distance``, ``limit_distance``, ``value`` and ``panel_by`` when given): one
    panel per value of ``panel_by``, a diverging scale centred on 0 shared by the panels, the
    ``best`` row's cell ringed in black (each other panel's best in white), ``warnings`` in red
    under the panels. Missing cells stay blank."""
    stops = sorted(rows["stop_distance"].unique().to_list())
    limits = sorted(rows["limit_distance"].unique().to_list())
    panels = sorted(rows[panel_by].unique().to_list()) if panel_by else [None]
    stop_index = {v: i for i, v in enumerate(stops)}
    limit_index = {v: i for i, v in enumerate(limits)}
    cells = np.full((len(panels), len(stops), len(limits)), np.nan)
    for number, panel in enumerate(panels):
        part = rows.filter(pl.col(panel_by) == panel) if panel_by else rows
        for stop, limit, figure_value in part.select(
            "stop_distance", "limit_distance", value
        ).iter_rows():
            if figure_value is not None and np.isfinite(figure_value):
                cells[number, stop_index[stop], limit_index[limit]] = figure_value
    bound = float(np.nanmax(np.abs(cells))) if np.isfinite(cells).any() else 1.0
    bound = bound or 1.0
    width = min(6.0 * len(panels), 17.0)
    figure, axes = plt.subplots(
        1, len(panels), figsize=(width, 5.6), squeeze=False, sharey=True, layout="constrained"
    )
    image = None
    for number, (axis, panel) in enumerate(zip(axes[0], panels, strict=True)):
        image = axis.imshow(
            cells[number], origin="lower", aspect="auto", cmap="RdYlGn", vmin=-bound, vmax=bound
        )
        positions, labels = _ticks(limits)
        axis.set_xticks(positions, labels, fontsize=8)
        axis.set_xlabel(literal(f"{display.label('limit_distance')} ({unit})"), fontsize=9)
        if panel_by:
            chosen = panel == best[panel_by]
            axis.set_title(
                literal(f"{display.label(panel_by)}: {display.text(panel_by, panel)}")
                + ("  (best)" if chosen else ""),
                fontsize=9,
                fontweight="bold" if chosen else "normal",
            )
        if np.isfinite(cells[number]).any():
            if panel_by is None or panel == best[panel_by]:
                y, x = stop_index[best["stop_distance"]], limit_index[best["limit_distance"]]
                color, size = "black", 2.6
            else:
                y, x = np.unravel_index(np.nanargmax(cells[number]), cells[number].shape)
                color, size = "white", 1.8
            axis.plot(
                x,
                y,
                marker="o",
                markersize=14,
                markerfacecolor="none",
                markeredgecolor=color,
                markeredgewidth=size,
            )
    positions, labels = _ticks(stops)
    axes[0][0].set_yticks(positions, labels, fontsize=8)
    axes[0][0].set_ylabel(literal(f"{display.label('stop_distance')} ({unit})"), fontsize=9)
    figure.colorbar(image, ax=axes[0].tolist(), label=display.label(value), shrink=0.9)
    figure.suptitle(literal(title), fontsize=10)
    if warnings:
        figure.text(
            0.01,
            -0.02,
            literal("\n".join("WARNING: " + w for w in warnings)),
            color="firebrick",
            fontsize=9,
            va="top",
            ha="left",
        )
    return figure_png(figure, dpi=100)


def pbo_histogram(title: str, logits: np.ndarray, pbo: float) -> bytes:
    """Histogram of the CSCV logits, the line at 0 marking the out-of-sample median: the share of
    splits at or left of it is the PBO."""
    figure, axis = plt.subplots(figsize=(8, 4))
    finite = logits[np.isfinite(logits)]
    axis.hist(finite, bins=min(40, max(5, len(np.unique(finite)))), color="steelblue")
    axis.axvline(0.0, color="firebrick", linewidth=1.5, label=f"overfit side (PBO {pbo:.2f})")
    axis.set_xlabel("logit of the in-sample best's out-of-sample rank (> 0: above the median)")
    axis.set_ylabel("splits")
    axis.set_title(title)
    axis.legend(loc="upper left", fontsize=8)
    axis.grid(alpha=0.3)
    return figure_png(figure, dpi=100)


def stability_figure(title: str, profiles: dict[str, pl.DataFrame], row: dict) -> bytes:
    """One panel per parameter: the annualized Sharpe of the rows that differ from ``row`` only
    in that parameter (``profiles``: parameter -> ``value``, ``sharpe``), ``row``'s value marked.
    A plateau around the mark holds up; a lone spike does not."""
    figure, axes = plt.subplots(1, len(profiles), figsize=(3.2 * len(profiles), 3.2), sharey=True)
    for axis, (name, profile) in zip(np.atleast_1d(axes), profiles.items(), strict=True):
        axis.plot(profile["value"].to_numpy(), profile["sharpe"].to_numpy(), marker="o", ms=3)
        axis.axvline(row[name], color="firebrick", linewidth=1.0)
        axis.axhline(0.0, color="grey", linewidth=0.6)
        axis.axhline(0.5 * row["sharpe"], color="grey", linewidth=0.6, linestyle=":")
        axis.set_xlabel(name.replace("_", " "))
        axis.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("Sharpe (annualized)")
    figure.suptitle(title + " (dotted: half the leader's Sharpe)", fontsize=10)
    return figure_png(figure, dpi=100)
