"""Reading the results store: a window's rows, the old ``risk_adjusted_win_rate``, trade stats.

Ranking
    By deflated Sharpe ratio, the raw annualized Sharpe beside it (``results/selection.py``); the
    ranked leaderboard is stored in ``leaderboard_rows`` and read back by :func:`top_backtests`.

Continuity with the original engine's SQL
    ``risk_adjusted_win_rate = (stop_distance / backtest_profit) * stop_count_limit``, NULL when
    ``backtest_profit`` is 0 or NULL (the original divided by zero). Shown, not ranked by: it
    grows as profit shrinks toward 0 and flips sign with it.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import polars as pl
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.calendar import as_date
from orb_pipeline.core.artifacts import artifact_path
from orb_pipeline.engine.units import to_units, units_to_dollars
from orb_pipeline.results import display, schema
from orb_pipeline.results.ids import window_id_range
from orb_pipeline.results.resource import ResultsStore

RESULTS = schema.results


def risk_adjusted_win_rate(table: sa.Table = RESULTS) -> sa.ColumnElement:
    """The original ``(stop_distance / backtest_profit) * stop_count_limit``, guarded."""
    return sa.case(
        (table.c.backtest_profit == 0, sa.null()),
        else_=table.c.stop_distance / table.c.backtest_profit * table.c.stop_count_limit,
    ).label("risk_adjusted_win_rate")


def window_filter(
    ticker: str,
    window_start: dt.date,
    window_end: dt.date,
    engine_version: str = engine.ENGINE_VERSION,
) -> list[sa.ColumnElement]:
    """``WHERE`` terms for one window's rows of ``results``: its primary-key range (the table has
    no secondary index; see schema.py) and its columns (in case another window's prefix collides)."""
    low, high = window_id_range(ticker, window_start, window_end, engine_version)
    return [
        RESULTS.c.backtest_id.between(low, high),
        RESULTS.c.ticker == ticker,
        RESULTS.c.window_start == window_start,
        RESULTS.c.window_end == window_end,
        RESULTS.c.engine_version == engine_version,
    ]


def window_data_versions(
    store: ResultsStore,
    ticker: str,
    window_start: dt.date,
    window_end: dt.date,
    engine_version: str = engine.ENGINE_VERSION,
) -> pl.DataFrame:
    """How one window's rows split by ``data_version`` and ``run_id``: columns ``data_version``,
    ``run_id``, ``rows``, sorted by data version then run id. One scan of the window's key range."""
    statement = (
        sa.select(RESULTS.c.data_version, RESULTS.c.run_id, sa.func.count().label("rows"))
        .where(*window_filter(ticker, window_start, window_end, engine_version))
        .group_by(RESULTS.c.data_version, RESULTS.c.run_id)
        .order_by(RESULTS.c.data_version, RESULTS.c.run_id)
    )
    return store.read(statement)


def selection_id(
    ticker: str,
    window_start: dt.date,
    window_end: dt.date,
    engine_version: str = engine.ENGINE_VERSION,
) -> str:
    """32 hex characters naming one ticker-window's selection (same inputs, same id)."""
    parts = (
        "orb-selection-v1",
        ticker,
        window_start.isoformat(),
        window_end.isoformat(),
        engine_version,
    )
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def top_backtests(
    store: ResultsStore,
    ticker: str,
    limit: int = 10,
    *,
    window_start: dt.date,
    window_end: dt.date,
    engine_version: str = engine.ENGINE_VERSION,
) -> pl.DataFrame:
    """The stored leaderboard of ``ticker``'s window (inclusive session dates), best first: what
    the ``leaderboard`` asset ranked by deflated Sharpe ratio (``results/selection.py``).

    Columns: ``rank`` (1 = best), ``deflated_sharpe``, ``pbo`` (the window's), ``stability``,
    ``neighbours``, ``pnl_skewness``, ``pnl_kurtosis``, the verdict columns (NULL until the
    ``verdict`` asset ran), every ``results`` column but ``trade_stats``, and
    ``risk_adjusted_win_rate``. Empty before the leaderboard ran for this window.
    """
    board = schema.leaderboard_rows
    own = [
        c
        for c in board.c
        if c.name not in RESULTS.c and c.name not in ("selection_id", "run_id", "rank")
    ]
    statement = (
        sa.select(
            board.c.rank,
            *own,
            *[c for c in RESULTS.c if c.name != "trade_stats"],
            risk_adjusted_win_rate(),
        )
        .join_from(board, RESULTS, RESULTS.c.backtest_id == board.c.backtest_id)
        .where(
            board.c.selection_id == selection_id(ticker, window_start, window_end, engine_version)
        )
        .order_by(board.c.rank)
        .limit(limit)
    )
    if not sa.inspect(store.engine()).has_table(board.name):
        return pl.DataFrame()
    found = store.read(statement)
    if found.height == 0:
        return found
    return found.with_columns(pl.col("window_start", "window_end").cast(pl.String).str.to_date())


def trade_stats(ledger: pl.DataFrame) -> dict:
    """Summary of one ledger (``engine.ledger`` columns) for the ``trade_stats`` JSON column.
    Sums are taken in integer units of $0.0001, so they are exact."""
    units = pl.Series("profit", to_units(ledger["profit"].to_numpy()), dtype=pl.Int64)
    wins, losses = units.filter(units > 0), units.filter(units < 0)
    reasons = ledger.group_by("exit_reason").len().sort("exit_reason")
    return {
        "trades": ledger.height,
        "long_trades": int((ledger["side"] == "long").sum()),
        "short_trades": int((ledger["side"] == "short").sum()),
        "exit_reasons": dict(zip(reasons["exit_reason"], reasons["len"], strict=True)),
        "total_profit": units_to_dollars(int(units.sum())),
        "winning_trades": wins.len(),
        "losing_trades": losses.len(),
        "average_win": units_to_dollars(int(wins.sum())) / wins.len() if wins.len() else None,
        "average_loss": units_to_dollars(int(losses.sum())) / losses.len()
        if losses.len()
        else None,
        "largest_win": units_to_dollars(int(units.max())) if ledger.height else None,
        "largest_loss": units_to_dollars(int(units.min())) if ledger.height else None,
        "average_holding_seconds": float(ledger["holding_seconds"].mean())
        if ledger.height
        else 0.0,
        "first_session": str(ledger["session_date"].min()) if ledger.height else None,
        "last_session": str(ledger["session_date"].max()) if ledger.height else None,
    }


def set_trade_stats(
    store: ResultsStore,
    stats_by_id: dict[str, dict],
    ticker: str,
    window_start: dt.date,
    window_end: dt.date,
) -> None:
    """Store ``trade_stats`` for the given backtests and clear it for the window's other rows,
    so the column always describes the current leaderboard (one transaction)."""
    update = (
        sa.update(RESULTS)
        .where(RESULTS.c.backtest_id == sa.bindparam("target_id"))
        .values(trade_stats=sa.bindparam("stats", type_=sa.JSON))
    )
    clear = (
        sa.update(RESULTS)
        .where(
            *window_filter(ticker, window_start, window_end),
            RESULTS.c.trade_stats.is_not(None),
            RESULTS.c.backtest_id.not_in(list(stats_by_id)),
        )
        .values(trade_stats=sa.null())
    )

    def work(connection: sa.Connection) -> None:
        connection.execute(clear)
        if stats_by_id:
            connection.execute(
                update, [{"target_id": key, "stats": value} for key, value in stats_by_id.items()]
            )

    store.run_in_transaction(work)


def ledger_rows(backtest_id: str, ledger: pl.DataFrame) -> pl.DataFrame:
    """``engine.ledger`` output -> rows of the ``trades`` table."""
    return ledger.with_columns(
        backtest_id=pl.lit(backtest_id),
        trade_index=pl.int_range(0, ledger.height, dtype=pl.Int64),
    ).select([c.name for c in schema.trades.columns])


def backtest_row(store: ResultsStore, backtest_id: str) -> dict | None:
    """One ``results`` row by id (dates as ``datetime.date``), or None."""
    found = store.read(sa.select(RESULTS).where(RESULTS.c.backtest_id == backtest_id))
    if found.height == 0:
        return None
    row = found.row(0, named=True)
    row["window_start"], row["window_end"] = (
        as_date(row["window_start"]),
        as_date(row["window_end"]),
    )
    return row


def params_of(row: dict) -> dict:
    """The five engine parameters of a ``results`` row."""
    return {name: row[name] for name in engine.GRID_COLUMNS}


def engine_options_of(row: dict) -> dict:
    """The ``costs`` and ``distance_unit`` keyword arguments of ``engine.ledger`` that a ``results``
    row was computed with (its cost-model columns)."""
    costs = engine.Costs(row["commission_per_share"], row["slippage"], row["slippage_unit"])
    return {"costs": costs, "distance_unit": row["distance_unit"]}


def backtest_label(row: dict) -> str:
    """A picture legend for a ranked backtest: its rank and parameters in words, e.g.
    ``#1 30 s range, stop $0.40, limit $1.00, at most 3 stops a day, 4 min 30 s cooloff``. (Ids
    share their first 8 characters within a window, so a shortened id would not tell lines apart.)"""
    return f"#{row['rank']} {display.parameters_text(row)}"


def grid_values(
    store: ResultsStore, ticker: str, window_start: dt.date, window_end: dt.date
) -> dict[str, list]:
    """Each engine parameter's distinct values among the window's stored backtests, ascending."""
    values = {}
    for name in engine.GRID_COLUMNS:
        column = RESULTS.c[name]
        found = store.read(
            sa.select(column)
            .distinct()
            .where(*window_filter(ticker, window_start, window_end))
            .order_by(column)
        )
        values[name] = found[name].to_list()
    return values


def heatmap_rows(
    store: ResultsStore,
    ticker: str,
    window_start: dt.date,
    window_end: dt.date,
    best: dict,
    panel_by: str | None,
) -> pl.DataFrame:
    """The window's backtests that share ``best``'s parameters except the stop and limit
    distances (and ``panel_by``): ``stop_distance``, ``limit_distance``, ``panel_by``,
    ``sharpe``, ``backtest_profit``."""
    fixed = [
        RESULTS.c[name] == best[name]
        for name in engine.GRID_COLUMNS
        if name not in {"stop_distance", "limit_distance", panel_by}
    ]
    shown = [RESULTS.c.stop_distance, RESULTS.c.limit_distance]
    if panel_by:
        shown.append(RESULTS.c[panel_by])
    return store.read(
        sa.select(*shown, RESULTS.c.sharpe, RESULTS.c.backtest_profit).where(
            *window_filter(ticker, window_start, window_end), *fixed
        )
    )


def plotted_curves(
    window, ranked: pl.DataFrame, plotted: int, max_correlation: float = 0.95
) -> tuple[dict[str, pl.DataFrame], str]:
    """Equity curves of at most ``plotted`` of the ``ranked`` backtests (best first) that differ:
    per-session nets from ``engine.session_stats`` over ``window`` (a staged window: ``series``,
    ``sessions``) under each row's cost model and distance unit, near-duplicates left out (``plots.distinct_curves``). Returns
    label -> ``session_date``, ``equity`` ($/share), and a note saying what was left out."""
    from orb_pipeline.results import plots

    # One kernel pass per cost model and distance unit the rows were swept with.
    nets = np.zeros((ranked.height, window.sessions.height))
    dates = window.sessions["session_date"]
    for _, group in ranked.with_row_index("position").group_by(
        schema.COST_MODEL_COLUMNS, maintain_order=True
    ):
        stats = engine.session_stats(
            window.series,
            window.sessions,
            group.select(engine.GRID_COLUMNS),
            **engine_options_of(group.row(0, named=True)),
        )
        nets[group["position"].to_numpy()] = units_to_dollars(stats.net_units)
        dates = stats.session_dates
    kept = plots.distinct_curves(nets, plotted, max_correlation)
    curves = {
        backtest_label(ranked.row(index, named=True)): pl.DataFrame(
            {"session_date": dates, "equity": np.cumsum(nets[index])}
        )
        for index in kept
    }
    if len(kept) < plotted:
        note = (
            f"{len(kept)} of the best {ranked.height} on the leaderboard; the other "
            f"{ranked.height - len(kept)} are near-duplicates (per-session P&L correlation > "
            f"{max_correlation:g}) of a line shown"
        )
    else:
        last = int(ranked["rank"][kept[-1]])
        note = f"{len(kept)} distinct of the best {last} on the leaderboard" + (
            f"; the other {last - len(kept)} are near-duplicates (per-session P&L correlation > "
            f"{max_correlation:g}) of a line shown"
            if last > len(kept)
            else ""
        )
    return curves, note


# Where the reports stage writes a window's HTML report (the leaderboard links it in advance).
REPORT_NAME = "report/research_report.html"


def report_path(ticker: str, window_start: dt.date, window_end: dt.date) -> str:
    """The research report's path in the cache store:
    ``artifacts/<ticker>/<first>_<last>/engine-<ENGINE_VERSION>/report/research_report.html``."""
    return artifact_path(
        ticker, window_start, window_end, REPORT_NAME, engine_version=engine.ENGINE_VERSION
    )
