"""``run_monte_carlo`` without Dagster: the leaders' stored ledgers bootstrapped as the slow
reference does, leaders without a complete ledger left out, and no leaderboard named."""

from __future__ import annotations

import polars as pl
import pytest
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.results import schema as results_schema
from orb_pipeline.results.leaderboard import engine_options_of, params_of
from orb_pipeline.validation import schema
from orb_pipeline.validation.monte_carlo_run import (
    MonteCarloError,
    run_monte_carlo,
    with_complete_ledgers,
)
from orb_pipeline_tests.results.swept_window import stored_leaderboard
from orb_pipeline_tests.validation import reference


def test_complete_ledgers_are_those_with_every_counted_trade():
    top = pl.DataFrame({"backtest_id": ["a", "b", "c", "d"], "trades": [2, 1, 0, 1]})
    trades = pl.DataFrame({"backtest_id": ["a", "a", "d", "d"], "profit": [1.0, 2.0, 3.0, 4.0]})
    # a: 2 of 2; b: 0 of 1; c: 0 of 0 (nothing to store); d: 2 of 1 (not its ledger).
    assert with_complete_ledgers(top, trades)["backtest_id"].to_list() == ["a", "c"]


@pytest.fixture
def board(tmp_path):
    store, cache, window, board = stored_leaderboard(tmp_path, top=3)
    store.ensure_tables(schema.monte_carlo)
    return store, cache, window, board


def test_bootstrap_of_each_leader_matches_the_slow_reference(board):
    store, cache, window, leaders = board
    run = run_monte_carlo(
        store,
        cache,
        "SPY",
        window.window_start,
        window.window_end,
        top=3,
        samples=200,
        seed=4,
        run_id="run-2",
    )
    assert run.rows["backtest_id"].to_list() == leaders.top["backtest_id"].to_list()
    assert (run.without_ledger, run.sessions) == (0, 20)
    assert run.picture.png.startswith(b"\x89PNG")
    stored = store.read(sa.select(schema.monte_carlo)).sort("rank")
    assert stored["backtest_id"].to_list() == run.rows["backtest_id"].to_list()
    dates = window.sessions["session_date"]
    for row, leader in zip(
        stored.iter_rows(named=True), leaders.top.iter_rows(named=True), strict=True
    ):
        ledger = engine.ledger(
            window.series, window.sessions, params_of(leader), **engine_options_of(leader)
        )
        nets = [ledger.filter(pl.col("session_date") == d)["profit"].sum() for d in dates]
        for key, value in reference.bootstrap(nets, samples=200, seed=4).items():
            assert row[key] == pytest.approx(value, abs=1e-9), key


def test_a_leader_without_its_ledger_is_left_out(board):
    store, cache, window, leaders = board
    missing = leaders.top["backtest_id"][1]
    trades = results_schema.trades
    store.run_in_transaction(
        lambda connection: connection.execute(
            sa.delete(trades).where(trades.c.backtest_id == missing)
        )
    )
    run = run_monte_carlo(
        store, cache, "SPY", window.window_start, window.window_end, top=3, samples=50, run_id="r"
    )
    assert run.without_ledger == 1 and missing not in run.rows["backtest_id"].to_list()
    assert run.rows.height == 2


def test_no_leaderboard_names_what_to_materialize(board):
    store, cache, window, _ = board
    with pytest.raises(
        MonteCarloError, match="no leaderboard for QQQ .* leaderboard for QQQ first"
    ):
        run_monte_carlo(store, cache, "QQQ", window.window_start, window.window_end, run_id="r")
