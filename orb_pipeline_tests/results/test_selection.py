"""The leaderboard's selection statistics: deflated ranking, PBO, stability, storage."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.results import schema
from orb_pipeline.results.leaderboard import top_backtests
from orb_pipeline.results.selection import (
    leaders,
    pbo_blocks_for,
    select_window,
    stability,
    store_selection,
    window_rows,
)
from orb_pipeline.statistics.overfitting import probability_of_backtest_overfitting
from orb_pipeline.sweeps.assets import result_rows
from orb_pipeline_tests.results.selection_reference import expected_ranking
from orb_pipeline_tests.results.swept_window import GRID
from orb_pipeline_tests.staging.window_data import make_window

START = dt.date(2025, 1, 2)


@pytest.fixture(scope="module")
def window():
    series, sessions = make_window(n_sessions=20, ticks_per_session=300, start=START)
    grid = GRID
    end = sessions["session_date"].max()
    costs = engine.Costs(0.005, 2.0, "bps")
    metrics = engine.sweep(series, sessions, grid, costs=costs)
    rows = result_rows(metrics, "SPY", START, end, "dv", "run", costs=costs)
    return series, sessions, rows.sort("backtest_id")


def test_ranking_is_by_deflated_sharpe(window):
    series, sessions, rows = window
    selection = select_window(rows, series, sessions)
    expected = expected_ranking(rows, series, sessions)
    assert selection.ranked["backtest_id"].to_list() == [item[0] for item in expected]
    assert selection.ranked["deflated_sharpe"].to_list() == pytest.approx(
        [item[1] for item in expected], rel=1e-9
    )
    assert selection.ranked["rank"].to_list() == list(range(1, len(expected) + 1))
    assert selection.n_trials == rows.height
    # Net of costs no row of this grid has a positive Sharpe ratio: they rank by raw Sharpe alone.
    assert selection.ranked.filter(pl.col("sharpe") > 0).height == 0
    by_raw = selection.ranked.sort(
        ["sharpe", "backtest_profit", "backtest_id"], descending=[True, True, False]
    )
    assert by_raw["backtest_id"].to_list() == selection.ranked["backtest_id"].to_list()


def test_deflation_reorders_profitable_backtests(window):
    series, sessions, _ = window
    grid = GRID
    costs = engine.Costs(0.0, 0.0, "bps")
    metrics = engine.sweep(series, sessions, grid, costs=costs)
    end = sessions["session_date"].max()
    rows = result_rows(metrics, "SPY", START, end, "dv", "run", costs=costs).sort("backtest_id")
    selection = select_window(rows, series, sessions)
    assert selection.ranked["backtest_id"].to_list() == [
        item[0] for item in expected_ranking(rows, series, sessions)
    ]
    profitable = selection.ranked.filter(pl.col("sharpe") > 0)
    assert profitable.height >= 2
    by_raw = profitable.sort(
        ["sharpe", "backtest_profit", "backtest_id"], descending=[True, True, False]
    )
    assert by_raw["backtest_id"].to_list() != profitable["backtest_id"].to_list()


def test_pbo_uses_every_backtest_or_a_seeded_sample(window):
    series, sessions, rows = window
    stats = engine.session_stats(
        series, sessions, rows.select(engine.GRID_COLUMNS), costs=engine.Costs(0.005, 2.0, "bps")
    )
    nets = stats.net_units.T.astype(np.float64)
    assert pbo_blocks_for(sessions.height, None) == 10
    full = select_window(rows, series, sessions)
    assert full.pbo_blocks == 10 and full.pbo_trials == rows.height and not full.pbo_sampled
    assert full.pbo.logits.tolist() == probability_of_backtest_overfitting(nets, 10).logits.tolist()

    sampled = select_window(rows, series, sessions, pbo_max_trials=30, pbo_seed=7, pbo_blocks=4)
    chosen = np.sort(np.random.default_rng(7).choice(rows.height, 30, replace=False))
    assert sampled.pbo_sampled and sampled.pbo_trials == 30
    expected = probability_of_backtest_overfitting(nets[:, chosen], 4)
    assert sampled.pbo.logits.tolist() == expected.logits.tolist()
    again = select_window(rows, series, sessions, pbo_max_trials=30, pbo_seed=7, pbo_blocks=4)
    assert again.pbo.logits.tolist() == sampled.pbo.logits.tolist()


def test_bad_blocks_and_tampered_results_are_named(window):
    series, sessions, rows = window
    with pytest.raises(ValueError, match="pbo_blocks=12 leaves 1 session"):
        select_window(rows, series, sessions, pbo_blocks=12)
    tampered = rows.with_columns(
        backtest_profit=pl.when(pl.int_range(pl.len()) == 5)
        .then(pl.col("backtest_profit") + 0.01)
        .otherwise(pl.col("backtest_profit"))
    )
    with pytest.raises(ValueError, match=f"1 stored results .*{rows['backtest_id'][5]}"):
        select_window(tampered, series, sessions)


def test_stability_plateau_spike_and_edges():
    # A 3 x 3 grid of stop x limit (other parameters fixed): the centre is a lone spike (Sharpe 4,
    # neighbours 1.9, 1.6, 1 and 1), the corner (0.1, 1) sits on a plateau (neighbours 1.9 and 1.6
    # keep half of its 3).
    stops, limits = [0.1, 0.2, 0.3], [1.0, 2.0, 3.0]
    sharpe = {(0.1, 1.0): 3.0, (0.2, 1.0): 1.9, (0.1, 2.0): 1.6, (0.2, 2.0): 4.0}
    rows = pl.DataFrame(
        [
            {
                "backtest_id": f"{s}-{lim}",
                "range_seconds": 30,
                "stop_distance": s,
                "stop_count_limit": 1,
                "stop_cooloff_period": 0,
                "limit_distance": lim,
                "sharpe": sharpe.get((s, lim), 1.0),
            }
            for s in stops
            for lim in limits
        ]
    )
    targets = rows.filter(pl.col("backtest_id").is_in(["0.2-2.0", "0.1-1.0", "0.3-3.0"]))
    found = {r["backtest_id"]: r for r in stability(rows, targets).iter_rows(named=True)}
    assert found["0.2-2.0"] == {"backtest_id": "0.2-2.0", "stability": 0.0, "neighbours": 4}
    assert found["0.1-1.0"] == {"backtest_id": "0.1-1.0", "stability": 1.0, "neighbours": 2}
    assert found["0.3-3.0"]["stability"] == 1.0  # neighbours 1.0 and 1.0 keep half of 1.0
    negative = rows.with_columns(sharpe=-pl.col("sharpe"))
    negative_targets = negative.filter(
        pl.col("backtest_id").is_in(targets["backtest_id"].to_list())
    )
    assert stability(negative, negative_targets)["stability"].to_list() == [None, None, None]


def test_store_selection_is_idempotent(window, results_store):
    series, sessions, rows = window
    results_store.ensure_tables()
    results_store.upsert(schema.results, rows)
    end = rows["window_end"][0]
    read = window_rows(results_store, "SPY", START, end)
    assert read.height == rows.height
    selection = select_window(read, series, sessions)
    top = leaders(selection, 5)
    for run in ("run-1", "run-2"):
        sid = store_selection(
            results_store,
            selection,
            top,
            ticker="SPY",
            window_start=START,
            window_end=end,
            data_version="dv",
            run_id=run,
        )
    board = top_backtests(results_store, "SPY", 10, window_start=START, window_end=end)
    assert board["rank"].to_list() == [1, 2, 3, 4, 5]
    assert board["backtest_id"].to_list() == top["backtest_id"].to_list()
    assert board["deflated_sharpe"].to_list() == pytest.approx(top["deflated_sharpe"].to_list())
    counts = {
        table.name: results_store.read(
            sa.select(sa.func.count()).select_from(table).where(table.c.selection_id == sid)
        ).item()
        for table in schema.SELECTION_TABLES
    }
    assert counts == {
        "selection_windows": 1,
        "leaderboard_rows": 5,
        "window_deflated": selection.ranked.height,
    }
