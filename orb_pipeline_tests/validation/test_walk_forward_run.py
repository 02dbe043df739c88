"""``run_walk_forward`` without Dagster: fold counts, stored rows, the out-of-sample equity against
fresh ledgers, idempotent re-runs, and bad input refused before anything is stored."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.results.resource import SqliteResultsStore
from orb_pipeline.staging.resource import StagedWindow
from orb_pipeline.validation import schema
from orb_pipeline.validation.config import WalkForwardConfig
from orb_pipeline.validation.walk_forward_run import fold_starts, run_walk_forward
from orb_pipeline_tests.staging.window_data import make_window

GRID = engine.make_grid(
    range_seconds=[30, 60],
    stop_distance=[0.05, 0.2],
    stop_count_limit=[1, 2],
    stop_cooloff_period=0,
    limit_distance=[0.1, 0.5],
)


@pytest.fixture(scope="module")
def window() -> StagedWindow:
    series, sessions = make_window(n_sessions=20, ticks_per_session=300, start=dt.date(2025, 1, 2))
    end = sessions["session_date"].max()
    return StagedWindow("QQQ", "dv", dt.date(2025, 1, 2), end, series, sessions)


def stores(tmp_path):
    results = SqliteResultsStore(path=str(tmp_path / "r.sqlite"))
    results.ensure_tables(*schema.WALK_FORWARD_TABLES)
    return results, CacheStore(url=str(tmp_path / "cache"))


def test_fold_starts_marks_each_new_fold():
    assert fold_starts(pl.Series([0, 0, 1, 1, 1, 2])) == [0, 2, 5]
    assert fold_starts(pl.Series([3])) == [0]
    assert fold_starts(pl.Series([], dtype=pl.Int64)) == []


def test_three_folds_stored_and_the_equity_is_the_picks_ledgers(window, tmp_path):
    results, cache = stores(tmp_path)
    config = WalkForwardConfig(train_sessions=8, test_sessions=4)
    run = run_walk_forward(results, cache, window, GRID, config, run_id="run-1")

    # 20 sessions, 8 to train and 4 to test, rolling by 4: tests start at 8, 12, 16.
    assert (run.folds, run.sessions, run.skipped, run.combinations) == (3, 20, 0, 16)
    counts = {
        "walk_forward_runs": 1,
        "walk_forward_folds": 3,
        "walk_forward_results": 3 * 16,
        "walk_forward_equity": 12,
    }
    assert run.expected == counts and run.stored == counts

    # Each fold's out-of-sample sessions carry its pick's fresh ledger, cumulated across folds.
    dates = window.sessions["session_date"].to_list()
    expected = []
    for fold in run.folds_frame.sort("fold").iter_rows(named=True):
        params = {name: GRID[name][fold["combination"]] for name in engine.GRID_COLUMNS}
        ledger = engine.ledger(window.series, window.sessions, params)
        for date in dates[8 + 4 * fold["fold"] : 12 + 4 * fold["fold"]]:
            expected.append(ledger.filter(pl.col("session_date") == date)["profit"].sum())
    equity = results.read(sa.select(schema.walk_forward_equity)).sort("session_date")
    assert equity["oos_equity"].to_list() == pytest.approx(np.cumsum(expected).tolist(), abs=1e-9)
    assert run.run_row["oos_total_profit"] == pytest.approx(sum(expected), abs=1e-9)

    png = (
        tmp_path
        / "cache"
        / "artifacts"
        / "QQQ"
        / f"2025-01-02_{window.window_end}"
        / f"engine-{engine.ENGINE_VERSION}"
        / "validation"
        / "walk_forward_equity.png"
    )
    assert png.read_bytes() == run.equity.png and run.equity.png.startswith(b"\x89PNG")

    again = run_walk_forward(results, cache, window, GRID, config, run_id="run-2")
    assert again.validation_id == run.validation_id and again.stored == counts


def test_bad_input_is_refused_before_anything_is_stored(window, tmp_path):
    results, cache = stores(tmp_path)
    with pytest.raises(ValueError, match="train"):
        run_walk_forward(
            results, cache, window, GRID, WalkForwardConfig(train_sessions=30), run_id="r"
        )
    no_iv = window.sessions.select(
        "session_date",
        range_seconds=pl.lit(30),
        open_price=pl.lit(100.0),
        atm_iv=pl.lit(None, dtype=pl.Float64),
    )
    with pytest.raises(ValueError, match="distance_unit='expected_move' needs implied volatility"):
        run_walk_forward(
            results,
            cache,
            window,
            GRID,
            WalkForwardConfig(distance_unit="expected_move"),
            read_ranges=lambda seconds: no_iv,
            run_id="r",
        )
    for table in schema.WALK_FORWARD_TABLES:
        assert results.read(sa.select(sa.func.count()).select_from(table)).item() == 0
