"""The demo's verdict per ticker, read back from stored validation tables (validation/verdict.py),
and the leaderboard as text (results/summary.py)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from orb_pipeline import engine
from orb_pipeline.results import schema as results_schema
from orb_pipeline.results.ids import backtest_ids
from orb_pipeline.results.leaderboard import selection_id
from orb_pipeline.results.resource import SqliteResultsStore
from orb_pipeline.results.summary import leaderboard_text
from orb_pipeline.validation import schema
from orb_pipeline.validation.verdict import read_verdict, verdict_text

START, END = dt.date(2025, 9, 2), dt.date(2025, 11, 28)


@pytest.fixture
def store(tmp_path):
    store = SqliteResultsStore(path=str(tmp_path / "results.sqlite"))
    store.ensure_tables()
    grid = pl.DataFrame(
        {
            "range_seconds": [30, 30, 60],
            "stop_distance": [0.4, 0.5, 0.4],
            "stop_count_limit": [3, 1, 2],
            "stop_cooloff_period": [270, 0, 60],
            "limit_distance": [1.0, 2.5, 1.0],
        }
    )
    rows = grid.with_columns(
        backtest_id=backtest_ids(grid, "SPY", START, END, engine.ENGINE_VERSION),
        ticker=pl.lit("SPY"),
        window_start=pl.lit(START),
        window_end=pl.lit(END),
        backtest_profit=pl.Series([10.930000000000003, 3.0, -1.0]),
        trades=pl.Series([136, 40, 12]),
        stops=pl.Series([50, 20, 6]),
        days_traded=pl.Series([63, 40, 12]),
        win_rate_percent=pl.Series([79.36507936507937, 55.0, 25.0]),
        trade_win_rate_percent=pl.Series([39.705882352941176, 50.0, 25.0]),
        average_holding_period=pl.Series([1234.5, 60.0, 30.0]),
        max_drawdown=pl.Series([2.3456, 1.0, 2.0]),
        sharpe=pl.Series([5.792503839959541, 2.0, -1.0]),
        profit_factor=pl.Series([1.8, 1.2, 0.5]),
        commission_per_share=pl.lit(0.0),
        slippage=pl.lit(0.0),
        slippage_unit=pl.lit("dollars"),
        distance_unit=pl.lit("dollars"),
        data_version=pl.lit("dv1"),
        engine_version=pl.lit(engine.ENGINE_VERSION),
        run_id=pl.lit("run-a"),
    )
    store.upsert(results_schema.results, rows)
    store_leaderboard(store, rows, deflated=[0.412, 0.2, 0.01], pbo=0.55)
    yield store, rows["backtest_id"][0]
    store.dispose()


def store_leaderboard(store, rows: pl.DataFrame, *, deflated: list[float], pbo: float) -> None:
    """The ``leaderboard`` asset's stored ranking of ``rows`` (in their order)."""
    store.ensure_tables(*results_schema.SELECTION_TABLES)
    board = rows.select(
        "backtest_id",
        "ticker",
        "window_start",
        "window_end",
        *engine.GRID_COLUMNS,
        "sharpe",
        "backtest_profit",
        "data_version",
        "run_id",
    ).with_columns(
        selection_id=pl.lit(selection_id("SPY", START, END)),
        rank=pl.int_range(1, rows.height + 1),
        deflated_sharpe=pl.Series(deflated),
        pbo=pl.lit(pbo),
        stability=pl.lit(None, dtype=pl.Float64),
        neighbours=pl.lit(0),
        pnl_skewness=pl.lit(0.0),
        pnl_kurtosis=pl.lit(3.0),
    )
    store.upsert(results_schema.leaderboard_rows, board)


def store_validation(store, winner_id, *, oos, ready, p5):
    store.ensure_tables(*schema.ALL_TABLES)
    store.upsert(
        schema.walk_forward_runs,
        pl.DataFrame(
            [
                {
                    "validation_id": "v" * 32,
                    "ticker": "SPY",
                    "window_start": START,
                    "window_end": END,
                    "mode": "walk_forward",
                    "distance_unit": "dollars",
                    "config": "{}",
                    "combinations": 3,
                    "sessions": 63,
                    "sessions_without_iv": 0,
                    "folds": 6,
                    "promotion_ready_folds": ready,
                    "promotion_ready_results": ready,
                    "oos_total_profit": oos,
                    "oos_max_drawdown": 6.0,
                    "in_sample_total_profit": 10.93,
                    "data_version": "dv1",
                    "engine_version": engine.ENGINE_VERSION,
                    "run_id": "run-b",
                }
            ]
        ),
    )
    store.upsert(
        schema.monte_carlo,
        pl.DataFrame(
            [
                {
                    "backtest_id": winner_id,
                    "samples": 10000,
                    "seed": 7,
                    "ticker": "SPY",
                    "rank": 1,
                    "sessions": 63,
                    "profit_p5": p5,
                    "profit_p50": 10.9,
                    "profit_p95": 22.3,
                    "drawdown_p5": 1.0,
                    "drawdown_p50": 2.0,
                    "drawdown_p95": 6.1,
                    "data_version": "dv1",
                    "run_id": "run-c",
                }
            ]
        ),
    )


def test_without_validation_the_verdict_says_not_validated(store):
    results, _ = store
    verdict = read_verdict(results, "SPY", START, END)
    assert verdict.holds_up is None
    text = verdict_text(verdict)
    assert "walk-forward:  not run yet" in text and "bootstrap:     not run yet" in text
    assert text.splitlines()[-1].startswith("VERDICT: not validated yet")


def test_a_winner_that_loses_out_of_sample_does_not_hold_up(store):
    results, winner = store
    store_validation(results, winner, oos=-4.890000000000001, ready=1, p5=-2.1)
    verdict = read_verdict(results, "SPY", START, END)
    assert verdict.holds_up is False and verdict.winner["backtest_id"] == winner
    text = verdict_text(verdict)
    assert "Sharpe 5.79, total profit +10.93 $/sh" in text
    assert "picks made -4.89 $/sh out of sample, the full-window winner" in text
    assert "(picked with hindsight) +10.93 $/sh over the same sessions" in text
    assert "1 of 6 folds passed" in text
    assert "5/50/95th percentile -2.10 / +10.90 / +22.30 $/sh" in text
    assert text.splitlines()[-1] == (
        "VERDICT: the winner does NOT hold up: out of sample it made -4.89 $/sh (the full-window "
        "winner +10.93 $/sh over the same sessions); 1 of 6 folds' picks passed the promotion "
        "criteria; its bootstrapped total profit has a 5th percentile of -2.10 $/sh."
    )


def test_one_failed_check_is_enough_to_say_no(store):
    results, winner = store
    store_validation(results, winner, oos=3.2, ready=3, p5=-0.01)
    verdict = read_verdict(results, "SPY", START, END)
    assert verdict.holds_up is False
    assert verdict.failures == ["its bootstrapped total profit has a 5th percentile of -0.01 $/sh"]


def test_a_winner_passing_every_check_holds_up(store):
    results, winner = store
    store_validation(results, winner, oos=3.2, ready=3, p5=0.5)
    verdict = read_verdict(results, "SPY", START, END)
    assert verdict.holds_up is True and verdict.failures == []
    assert verdict_text(verdict).splitlines()[-1].startswith("VERDICT: the winner holds up: ")


def test_leaderboard_text_is_rounded_and_names_both_win_rates(store):
    results, winner = store
    text = leaderboard_text(results, "SPY", START, END, top=2)
    lines = text.splitlines()
    assert lines[0] == "== SPY 2025-09-02..2025-11-28: top backtests by deflated Sharpe =="
    assert "winning days %" in lines[1] and "winning trades %" in lines[1]
    first = lines[2].split()
    assert first[:8] == ["1", "0.412", "5.79", "10.93", "2.35", "79.4", "39.7", "136"]
    assert first[-1] == winner and "20 min 34 s" in lines[2]
    assert lines[4] == (
        "  #1: 30 s range, stop $0.40, limit $1.00, at most 3 stops a day, 4 min 30 s cooloff"
    )
    assert "5.792503839959541" not in text
