"""Everything a research report shows, read from the stores (no Dagster, no HTML).

:func:`gather` reads one ticker's window: the leaderboard (top backtests with parameters in words),
the equity of distinct top backtests and the underlying's move per session, the grid's backtests
for the explorable heatmap, the stored trade ledgers of the top backtests, the walk-forward run
(folds, stitched out-of-sample equity), the bootstrap percentiles and the verdict in words.
Money is dollars per share, times UTC seconds, dates ISO strings (the report is JSON inside HTML).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.results import display, plots
from orb_pipeline.results import schema as results_schema
from orb_pipeline.results.leaderboard import plotted_curves, top_backtests, window_filter
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.validation import schema
from orb_pipeline.validation.verdict import read_verdict, verdict_text

# The heatmap explorer embeds at most this many backtests; larger grids keep the rows that share
# the #1's range length, then its stops per day, then its cooloff, until they fit.
MAX_GRID_ROWS = 200_000
GRID_METRICS = ("sharpe", "backtest_profit", "max_drawdown", "win_rate_percent", "trades")


@dataclass
class ReportContent:
    ticker: str
    window_start: dt.date
    window_end: dt.date
    data_version: str
    leaderboard: list[dict]  # top backtests: results columns + "parameters" (words)
    sessions: list[str]  # session dates of the window, ISO
    underlying_percent: list[float]  # per session, % from the window's first price
    curves: dict[str, list[float]]  # label -> cumulative net per session ($/share)
    curve_note: str
    grid: dict[str, list]  # column -> values, one entry per backtest (GRID_COLUMNS + metrics)
    grid_note: str
    trades: dict[str, list[dict]]  # backtest_id -> its ledger rows (stored for the top ones)
    verdict: str  # validation.verdict.verdict_text
    holds_up: bool | None
    folds: list[dict] = field(default_factory=list)
    oos_equity: list[dict] = field(default_factory=list)  # session_date, oos and in-sample equity
    bootstrap: list[dict] = field(default_factory=list)
    engine_version: str = engine.ENGINE_VERSION


def _iso(value) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _records(frame: pl.DataFrame) -> list[dict]:
    return [
        {k: _iso(v) if isinstance(v, dt.date) else v for k, v in row.items()}
        for row in frame.iter_rows(named=True)
    ]


def grid_rows(
    store: ResultsStore, ticker: str, start: dt.date, end: dt.date, best: dict
) -> tuple[pl.DataFrame, str]:
    """The window's backtests (parameters + :data:`GRID_METRICS`), at most :data:`MAX_GRID_ROWS`
    (module docstring), and a note saying what was left out."""
    table = results_schema.results
    columns = [table.c[name] for name in (*engine.GRID_COLUMNS, *GRID_METRICS)]
    conditions = list(window_filter(ticker, start, end))

    def count() -> int:
        counted = sa.select(sa.func.count().label("n")).select_from(table).where(*conditions)
        return int(store.read(counted)["n"][0])

    total_rows = count()
    fixed = []
    for name in ("range_seconds", "stop_count_limit", "stop_cooloff_period"):
        if count() <= MAX_GRID_ROWS:
            break
        conditions.append(table.c[name] == best[name])
        fixed.append(f"{display.label(name)} {display.text(name, best[name])}")
    rows = store.read(sa.select(*columns).where(*conditions))
    note = (
        f"all {total_rows:,} backtests of the window"
        if not fixed
        else f"{rows.height:,} of {total_rows:,} backtests (fixed: {', '.join(fixed)})"
    )
    return rows, note


def _validation(store: ResultsStore, verdict) -> tuple[list[dict], list[dict], list[dict]]:
    folds, equity, boot = [], [], []
    run = verdict.walk_forward
    if run is not None:
        vid = run["validation_id"]
        folds = _records(
            store.read(
                sa.select(schema.walk_forward_folds)
                .where(schema.walk_forward_folds.c.validation_id == vid)
                .order_by(schema.walk_forward_folds.c.fold)
            )
        )
        equity = _records(
            store.read(
                sa.select(
                    schema.walk_forward_equity.c.session_date,
                    schema.walk_forward_equity.c.fold,
                    schema.walk_forward_equity.c.oos_equity,
                    schema.walk_forward_equity.c.in_sample_equity,
                )
                .where(schema.walk_forward_equity.c.validation_id == vid)
                .order_by(schema.walk_forward_equity.c.session_date)
            )
        )
    if sa.inspect(store.engine()).has_table(schema.monte_carlo.name) and verdict.winner:
        boot = _records(
            store.read(
                sa.select(schema.monte_carlo)
                .where(schema.monte_carlo.c.ticker == verdict.ticker)
                .order_by(schema.monte_carlo.c.rank)
            )
        )
    return folds, equity, boot


def gather(
    store: ResultsStore, window, ticker: str, top: int = 10, plotted: int = 5
) -> ReportContent:
    """The :class:`ReportContent` of ``ticker`` over ``window`` (a staged window: ``series``,
    ``sessions``, ``window_start``, ``window_end``, ``data_version``). ``ValueError`` naming the
    ticker and window when nothing is ranked."""
    start, end = window.window_start, window.window_end
    pool = top_backtests(store, ticker, max(top, 100), window_start=start, window_end=end)
    if pool.height == 0:
        raise ValueError(
            f"no ranked results for {ticker} over {start}..{end}: materialize sweep_results and "
            f"leaderboard for {ticker} first"
        )
    ranked = pool.head(top)
    leaderboard = [{**row, "parameters": display.parameters_text(row)} for row in _records(ranked)]
    curves, curve_note = plotted_curves(window, pool, plotted)
    move = plots.underlying_move(window.series, window.sessions)
    best = ranked.row(0, named=True)
    grid, grid_note = grid_rows(store, ticker, start, end, best)
    ids = ranked["backtest_id"].to_list()
    trades_table = results_schema.trades
    trades = store.read(
        sa.select(trades_table)
        .where(trades_table.c.backtest_id.in_(ids))
        .order_by(trades_table.c.backtest_id, trades_table.c.trade_index)
    )
    by_id: dict[str, list[dict]] = {backtest_id: [] for backtest_id in ids}
    for row in _records(trades):
        by_id[row["backtest_id"]].append(row)
    verdict = read_verdict(store, ticker, start, end)
    folds, oos_equity, bootstrap = _validation(store, verdict)
    return ReportContent(
        ticker=ticker,
        window_start=start,
        window_end=end,
        data_version=window.data_version,
        leaderboard=leaderboard,
        sessions=[_iso(d) for d in move["session_date"].to_list()],
        underlying_percent=move["move_percent"].to_list(),
        curves={label: curve["equity"].to_list() for label, curve in curves.items()},
        curve_note=curve_note,
        grid=grid.to_dict(as_series=False),
        grid_note=grid_note,
        trades=by_id,
        verdict=verdict_text(verdict),
        holds_up=verdict.holds_up,
        folds=folds,
        oos_equity=oos_equity,
        bootstrap=bootstrap,
    )
