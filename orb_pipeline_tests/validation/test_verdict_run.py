"""``judge_leaderboard`` without Dagster: the walk-forward folds counted per leaderboard row from the
stored walk-forward results, the verdicts stored in ``leaderboard_rows``, and no leaderboard named."""

from __future__ import annotations

import polars as pl
import pytest
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.results import schema as results_schema
from orb_pipeline.validation import schema
from orb_pipeline.validation.config import WalkForwardConfig
from orb_pipeline.validation.selection_verdict import VerdictThresholds
from orb_pipeline.validation.verdict_run import VerdictError, judge_leaderboard
from orb_pipeline.validation.walk_forward_run import run_walk_forward
from orb_pipeline_tests.results.swept_window import GRID, stored_leaderboard


@pytest.fixture
def judged_window(tmp_path):
    store, cache, window, board = stored_leaderboard(tmp_path, top=8)
    return store, cache, window, board


def test_without_a_walk_forward_nothing_is_promoted(judged_window):
    store, _, window, board = judged_window
    median = float(board.top["deflated_sharpe"].median())
    thresholds = VerdictThresholds(reject_deflated_sharpe=median, promote_deflated_sharpe=median)
    run = judge_leaderboard(store, "SPY", window.window_start, window.window_end, "dv", thresholds)
    assert run.walk_forward is None and run.counts["promote"] == 0
    assert sum(run.counts.values()) == run.board.height == 8
    for row in run.board.iter_rows(named=True):
        assert row["walk_forward_folds"] is None and row["walk_forward_passed"] is None
        if row["deflated_sharpe"] < median:
            assert row["verdict"] == "reject" and "deflated Sharpe" in row["verdict_reason"]
    stored = store.read(
        sa.select(results_schema.leaderboard_rows).order_by(results_schema.leaderboard_rows.c.rank)
    )
    assert stored["verdict"].to_list() == run.board["verdict"].to_list()


def test_walk_forward_folds_are_counted_per_row(judged_window):
    store, cache, window, board = judged_window
    config = WalkForwardConfig(train_sessions=8, test_sessions=4, min_test_win_rate=40.0)
    store.ensure_tables(*schema.WALK_FORWARD_TABLES)
    walk = run_walk_forward(store, cache, window, GRID, config, run_id="run-2")
    run = judge_leaderboard(
        store, "SPY", window.window_start, window.window_end, "dv", VerdictThresholds()
    )
    assert run.walk_forward["validation_id"] == walk.validation_id

    # Independently: how many of the 3 folds marked each leader's parameters promotion-ready.
    results = store.read(sa.select(schema.walk_forward_results))
    for row in run.board.iter_rows(named=True):
        same = results.filter(*[pl.col(name) == row[name] for name in engine.GRID_COLUMNS])
        assert row["walk_forward_folds"] == 3 == same.height
        assert row["walk_forward_passed"] == int(same["promotion_ready"].cast(pl.Int64).sum())
        if row["walk_forward_passed"] == 0:
            assert row["verdict"] == "reject"


def test_no_leaderboard_names_what_to_materialize(judged_window):
    store, _, window, _ = judged_window
    with pytest.raises(VerdictError, match="no stored leaderboard for QQQ .* leaderboard for QQQ"):
        judge_leaderboard(
            store, "QQQ", window.window_start, window.window_end, None, VerdictThresholds()
        )
