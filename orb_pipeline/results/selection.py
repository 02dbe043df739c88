"""Honest selection over one ticker-window: every backtest's deflated Sharpe ratio, the window's
probability of backtest overfitting, and the parameter stability of the leaders (Dagster-free).

Inputs are the window's rows of ``results`` (every backtest the sweep stored) and the staged window.

- **Deflated Sharpe ratio** of every row (``statistics.overfitting.deflated_sharpe_ratios``):
  ``n_trials`` = every backtest stored for the window, ``trials_sharpe_variance`` = the sample
  variance (ddof 1) of their per-session Sharpe ratios (stored annualized Sharpe / sqrt(252)),
  ``n_observations`` = the window's sessions, skew and (non-excess) kurtosis of the row's
  per-session net P&L as the sweep stored them (``pnl_skewness``, ``pnl_kurtosis``; defined in
  docs/SEMANTICS_EXTENSIONS.md).
- **PBO** of the window (CSCV, ``probability_of_backtest_overfitting``) over the per-session net
  P&L of every backtest, recomputed with ``engine.session_stats`` on the staged window under each
  row's stored cost model and distance unit. Above
  ``pbo_max_trials`` backtests it uses a uniform random sample of that many (without replacement,
  ``numpy.random.default_rng(pbo_seed)``, in grid order): each backtest is equally likely to be in
  it, so it estimates the PBO of selecting among that many trials of this grid. The recomputation
  is checked against the stored profits; a mismatch (other costs, distances or data) is an error.
- **Parameter stability** of a row: its grid neighbours are the rows one step away along one
  parameter (the adjacent value of that parameter among the window's values, the other four
  equal); stability is the share of them whose Sharpe ratio is at least half of the row's. 1 is a
  plateau, 0 a lone spike; NULL when the row's Sharpe is not positive or it has no neighbour.
- **Ranking**: backtests with a positive Sharpe ratio first, by deflated Sharpe ratio at the
  precision it is shown with (3 decimals), highest first; then the others by raw Sharpe alone;
  ties by raw Sharpe, then total profit (both descending), then ``backtest_id``. Rows with fewer than ``min_days_traded`` days traded,
  no Sharpe or no stored moments are not ranked. The raw Sharpe stays beside it. Why not the
  deflated figure alone: its variance term grows with the Sharpe ratio squared, so a backtest that
  loses nearly the same amount every session (a per-session Sharpe of -20 with fat tails) can get
  a larger, still negligible, deflated figure than a profitable one; and when the best of the grid
  does not survive the number of trials every deflated figure is about 0, where raw Sharpe is
  the more informative order.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import polars as pl
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.results import schema
from orb_pipeline.results.leaderboard import (
    engine_options_of,
    risk_adjusted_win_rate,
    selection_id,
    window_filter,
)
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.statistics.overfitting import (
    PBOResult,
    deflated_sharpe_ratios,
    expected_maximum_sharpe,
    probability_of_backtest_overfitting,
)

RESULTS = schema.results
SESSIONS_PER_YEAR = 252
# The deflated Sharpe ratio is compared at the precision it is shown with (a probability).
RANK_DECIMALS = 3
STABILITY_SHARE = 0.5  # a neighbour "holds up" when it keeps at least this share of the Sharpe
# Per-session statistics held at once while recomputing the window (7 int64 per backtest-session).
SESSION_STATS_BYTES = 256 * 2**20


@dataclass(frozen=True)
class WindowSelection:
    """The selection statistics of one ticker-window.

    ``ranked``: every ranked row (``results`` columns plus ``risk_adjusted_win_rate``,
    ``sharpe_per_session``, ``pnl_skewness``, ``pnl_kurtosis``, ``deflated_sharpe``), best first,
    with ``rank`` (1 = best). ``pbo`` is None when the window is too short for two blocks of two
    sessions.
    """

    ranked: pl.DataFrame
    n_trials: int
    sessions: int
    sharpe_variance: float
    expected_max_sharpe: float
    pbo: PBOResult | None
    pbo_blocks: int
    pbo_trials: int
    pbo_sampled: bool
    all_rows: pl.DataFrame


def window_rows(
    store: ResultsStore,
    ticker: str,
    window_start: dt.date,
    window_end: dt.date,
    engine_version: str = engine.ENGINE_VERSION,
) -> pl.DataFrame:
    """Every stored row of the window (``results`` columns but ``trade_stats``, plus
    ``risk_adjusted_win_rate``), in ``backtest_id`` order."""
    columns = [column for column in RESULTS.c if column.name != "trade_stats"]
    found = store.read(
        sa.select(*columns, risk_adjusted_win_rate())
        .where(*window_filter(ticker, window_start, window_end, engine_version))
        .order_by(RESULTS.c.backtest_id)
    )
    if found.height:
        found = found.with_columns(
            pl.col("window_start", "window_end").cast(pl.String).str.to_date()
        )
    return found


def pbo_blocks_for(sessions: int, requested: int | None) -> int:
    """CSCV blocks for a window of ``sessions``: ``requested``, or by default 16 lowered to the
    largest even count leaving 2 sessions per block (0 when not even 2 blocks fit)."""
    if requested is not None:
        return requested
    fitting = (sessions // 2) // 2 * 2
    return min(16, fitting)


def _check_recomputed(rows: pl.DataFrame, recomputed: pl.DataFrame) -> None:
    stored = np.round(rows["backtest_profit"].to_numpy() * 10000)
    again = np.round(recomputed["total_profit"].to_numpy() * 10000)
    differ = np.flatnonzero(stored != again)
    if differ.size:
        first = int(differ[0])
        raise ValueError(
            f"{differ.size} stored results of the window do not match the engine recomputed over "
            f"the staged window (e.g. backtest {rows['backtest_id'][first]}: stored profit "
            f"{rows['backtest_profit'][first]}, recomputed {recomputed['total_profit'][first]}); "
            "the sweep ran with other costs, distances or data: re-run sweep_results"
        )


COST_COLUMNS = ("commission_per_share", "slippage", "slippage_unit", "distance_unit")


def _sample_nets(rows: pl.DataFrame, series: pl.DataFrame, sessions: pl.DataFrame) -> np.ndarray:
    """Per-session net P&L (sessions x ``rows``, units of $0.0001) recomputed with
    ``engine.session_stats`` under each row's own cost model, in chunks of bounded memory; the
    recomputed profits must equal the stored ones (else ``ValueError`` naming a backtest)."""
    per_row = 7 * 8 * max(1, sessions.height)
    chunk = max(1, SESSION_STATS_BYTES // per_row)
    nets = np.zeros((sessions.height, rows.height), dtype=np.float64)
    indexed = rows.with_row_index("_position")
    for _, group in indexed.group_by(list(COST_COLUMNS), maintain_order=True):
        options = engine_options_of(group.row(0, named=True))
        for start in range(0, group.height, chunk):
            part = group.slice(start, chunk)
            stats = engine.session_stats(
                series, sessions, part.select(engine.GRID_COLUMNS), **options
            )
            _check_recomputed(part, engine.aggregate(stats))
            nets[:, part["_position"].to_numpy()] = stats.net_units.T
    return nets


def stability(rows: pl.DataFrame, targets: pl.DataFrame) -> pl.DataFrame:
    """``backtest_id``, ``stability``, ``neighbours`` of each row of ``targets`` among the grid
    ``rows`` (both with the five parameters and ``sharpe``; module docstring)."""
    axes = {name: rows[name].unique().sort().to_list() for name in engine.GRID_COLUMNS}
    position = {name: {value: i for i, value in enumerate(values)} for name, values in axes.items()}
    sharpe = {
        tuple(row[:5]): row[5] for row in rows.select(*engine.GRID_COLUMNS, "sharpe").iter_rows()
    }
    out = []
    for row in targets.iter_rows(named=True):
        own = row["sharpe"]
        point = [row[name] for name in engine.GRID_COLUMNS]
        neighbours = []
        for axis, name in enumerate(engine.GRID_COLUMNS):
            index = position[name][point[axis]]
            for step in (-1, 1):
                if 0 <= index + step < len(axes[name]):
                    moved = list(point)
                    moved[axis] = axes[name][index + step]
                    value = sharpe.get(tuple(moved), math.nan)
                    if value is not None and not math.isnan(value):
                        neighbours.append(value)
        score = None
        if own is not None and own > 0 and neighbours:
            score = sum(1 for v in neighbours if v >= STABILITY_SHARE * own) / len(neighbours)
        out.append(
            {"backtest_id": row["backtest_id"], "stability": score, "neighbours": len(neighbours)}
        )
    return pl.DataFrame(
        out, schema={"backtest_id": pl.String, "stability": pl.Float64, "neighbours": pl.Int64}
    )


def parameter_profiles(rows: pl.DataFrame, row: dict) -> dict[str, pl.DataFrame]:
    """Per parameter, the window's rows that differ from ``row`` only in that parameter
    (``value``, ``sharpe``, sorted by value): the stability picture's lines."""
    profiles = {}
    for name in engine.GRID_COLUMNS:
        others = [pl.col(o) == row[o] for o in engine.GRID_COLUMNS if o != name]
        profiles[name] = (
            rows.filter(*others).select(pl.col(name).alias("value"), "sharpe").sort("value")
        )
    return profiles


def select_window(
    rows: pl.DataFrame,
    series: pl.DataFrame,
    sessions: pl.DataFrame,
    *,
    min_days_traded: int = 1,
    pbo_blocks: int | None = None,
    pbo_max_trials: int = 10_000,
    pbo_seed: int = 0,
) -> WindowSelection:
    """The selection statistics of a window (module docstring) from its stored ``rows``
    (:func:`window_rows`) and the staged ``series`` / ``sessions`` the sweep ran on."""
    if rows.height == 0:
        raise ValueError("the window has no stored results")
    n_sessions = sessions.height
    blocks = pbo_blocks_for(n_sessions, pbo_blocks)
    if pbo_blocks is not None and n_sessions // pbo_blocks < 2:
        raise ValueError(
            f"pbo_blocks={pbo_blocks} leaves {n_sessions // pbo_blocks} session(s) per block of "
            f"the window's {n_sessions}; at least 2 are needed"
        )
    keep = np.ones(rows.height, dtype=bool)
    sampled = rows.height > pbo_max_trials
    if sampled:
        keep[:] = False
        chosen = np.random.default_rng(pbo_seed).choice(rows.height, pbo_max_trials, replace=False)
        keep[chosen] = True
    nets = _sample_nets(rows.filter(pl.Series(keep)), series, sessions)

    per_session = rows["sharpe"].cast(pl.Float64) / math.sqrt(SESSIONS_PER_YEAR)
    valid = per_session.drop_nulls().drop_nans().to_numpy()
    variance = float(np.var(valid, ddof=1)) if valid.size > 1 else 0.0
    all_rows = rows.with_columns(sharpe_per_session=per_session)
    rankable = all_rows.filter(
        pl.col("days_traded") >= min_days_traded,
        pl.col("sharpe").is_not_null(),
        pl.col("sharpe").is_not_nan(),
        pl.col("pnl_skewness").is_not_null(),
        pl.col("pnl_kurtosis").is_not_null(),
    )
    deflated = deflated_sharpe_ratios(
        rankable["sharpe_per_session"].to_numpy(),
        rows.height,
        variance,
        max(2, n_sessions),
        rankable["pnl_skewness"].to_numpy(),
        rankable["pnl_kurtosis"].to_numpy(),
    )
    ranked = (
        rankable.with_columns(deflated_sharpe=pl.Series(deflated, dtype=pl.Float64))
        .sort(
            [
                pl.col("sharpe") > 0,
                # Without a positive Sharpe ratio the deflated figure carries no information
                # (module docstring): those rows are ordered by raw Sharpe alone.
                pl.when(pl.col("sharpe") > 0)
                .then(pl.col("deflated_sharpe").round(RANK_DECIMALS))
                .otherwise(0.0),
                "sharpe",
                "backtest_profit",
                "backtest_id",
            ],
            descending=[True, True, True, True, False],
        )
        .with_row_index("rank", offset=1)
        .with_columns(pl.col("rank").cast(pl.Int64))
    )
    pbo = probability_of_backtest_overfitting(nets, blocks) if blocks >= 2 else None
    return WindowSelection(
        ranked=ranked,
        n_trials=rows.height,
        sessions=n_sessions,
        sharpe_variance=variance,
        expected_max_sharpe=expected_maximum_sharpe(rows.height, variance),
        pbo=pbo,
        pbo_blocks=blocks,
        pbo_trials=int(keep.sum()),
        pbo_sampled=sampled,
        all_rows=all_rows,
    )


def leaders(selection: WindowSelection, top: int) -> pl.DataFrame:
    """The ``top`` best ranked rows with ``stability``, ``neighbours`` and the window's ``pbo``,
    best first."""
    head = selection.ranked.head(top)
    return head.join(
        stability(selection.all_rows, head), on="backtest_id", how="left", maintain_order="left"
    ).with_columns(pbo=pl.lit(selection.pbo.pbo if selection.pbo else None, dtype=pl.Float64))


def store_selection(
    store: ResultsStore,
    selection: WindowSelection,
    top: pl.DataFrame,
    *,
    ticker: str,
    window_start: dt.date,
    window_end: dt.date,
    data_version: str,
    run_id: str,
) -> str:
    """Replace the window's rows in the selection tables (``window_deflated``, ``leaderboard_rows``,
    then ``selection_windows`` last); returns the ``selection_id``. ``top``: :func:`leaders`."""
    store.ensure_tables(*schema.SELECTION_TABLES)
    sid = selection_id(ticker, window_start, window_end)
    pbo = selection.pbo
    deflated = selection.ranked.select(
        pl.lit(sid).alias("selection_id"), "backtest_id", "deflated_sharpe"
    )
    board = top.with_columns(
        selection_id=pl.lit(sid),
        run_id=pl.lit(run_id),
        walk_forward_folds=pl.lit(None, dtype=pl.Int64),
        walk_forward_passed=pl.lit(None, dtype=pl.Int64),
        verdict=pl.lit(None, dtype=pl.String),
        verdict_reason=pl.lit(None, dtype=pl.String),
    ).select([c.name for c in schema.leaderboard_rows.columns])
    window_row = pl.DataFrame(
        [
            {
                "selection_id": sid,
                "ticker": ticker,
                "window_start": window_start,
                "window_end": window_end,
                "engine_version": engine.ENGINE_VERSION,
                "data_version": data_version,
                "sessions": selection.sessions,
                "n_trials": selection.n_trials,
                "sharpe_variance": selection.sharpe_variance,
                "expected_max_sharpe": selection.expected_max_sharpe,
                "pbo": pbo.pbo if pbo else None,
                "pbo_blocks": selection.pbo_blocks,
                "pbo_splits": pbo.n_splits if pbo else 0,
                "pbo_trials": selection.pbo_trials,
                "pbo_sampled": selection.pbo_sampled,
                "run_id": run_id,
            }
        ],
        schema_overrides={"pbo": pl.Float64},
    )
    for table, frame in (
        (schema.window_deflated, deflated),
        (schema.leaderboard_rows, board),
        (schema.selection_windows, window_row),
    ):
        store.replace_rows(table, "selection_id", [sid], frame)
    return sid
