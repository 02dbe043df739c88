"""A small swept window stored in a results store without Dagster: what the plain leaderboard and
Monte Carlo functions start from (``engine.sweep`` rows upserted as ``sweep_results`` would)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from orb_pipeline import engine
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.results import schema
from orb_pipeline.results.leaderboard_run import LeaderboardRun, build_leaderboard
from orb_pipeline.results.resource import SqliteResultsStore
from orb_pipeline.staging.resource import StagedWindow
from orb_pipeline.sweeps.assets import result_rows
from orb_pipeline_tests.staging.window_data import make_window

START = dt.date(2025, 1, 2)
SESSIONS = 20
GRID = engine.make_grid(
    range_seconds=[30, 60],
    stop_distance=[0.05, 0.1, 0.2],
    stop_count_limit=[1, 2],
    stop_cooloff_period=[0, 60],
    limit_distance=[0.1, 0.2, 0.5],
)


def swept_window(
    store, ticker: str = "SPY", data_version: str = "dv"
) -> tuple[StagedWindow, pl.DataFrame]:
    """20 sessions from ``START``, the 72-row ``GRID`` swept cost-free and upserted into
    ``store``'s ``results`` (run id ``run-0``); returns the staged window and the stored rows."""
    series, sessions = make_window(n_sessions=SESSIONS, ticks_per_session=300, start=START)
    end = sessions["session_date"].max()
    costs = engine.Costs(0.0, 0.0, "bps")
    rows = result_rows(
        engine.sweep(series, sessions, GRID, costs=costs),
        ticker,
        START,
        end,
        data_version,
        "run-0",
        costs=costs,
    ).sort("backtest_id")
    store.ensure_tables()
    store.upsert(schema.results, rows)
    return StagedWindow(ticker, data_version, START, end, series, sessions), rows


def stored_leaderboard(
    tmp_path, top: int
) -> tuple[SqliteResultsStore, CacheStore, StagedWindow, LeaderboardRun]:
    """:func:`swept_window` of SPY in a SQLite store under ``tmp_path`` and its leaderboard of
    ``top`` rows (one curve plotted), built without Dagster."""
    store = SqliteResultsStore(path=str(tmp_path / "r.sqlite"))
    window, _ = swept_window(store)
    cache = CacheStore(url=str(tmp_path / "cache"))
    board = build_leaderboard(store, cache, window, top=top, plotted=1, run_id="run-1")
    return store, cache, window, board
