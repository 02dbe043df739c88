"""``build_leaderboard`` without Dagster: the ranking, the stored ledgers and pictures of a swept
window, and the errors that name what to do."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.results import schema
from orb_pipeline.results.leaderboard import top_backtests
from orb_pipeline.results.leaderboard_run import LeaderboardError, build_leaderboard
from orb_pipeline_tests.results.selection_reference import expected_ranking
from orb_pipeline_tests.results.swept_window import swept_window


def test_leaders_ledgers_selection_and_pictures_are_stored(results_store, tmp_path):
    window, rows = swept_window(results_store)
    cache = CacheStore(url=str(tmp_path / "cache"))
    board = build_leaderboard(results_store, cache, window, top=3, plotted=2, run_id="run-1")

    expected = [item[0] for item in expected_ranking(rows, window.series, window.sessions)]
    assert board.top["backtest_id"].to_list() == expected[:3]
    assert board.best["backtest_id"] == expected[0] and board.top["rank"].to_list() == [1, 2, 3]
    stored = top_backtests(
        results_store, "SPY", 10, window_start=window.window_start, window_end=window.window_end
    )
    assert stored["backtest_id"].to_list() == expected[:3]

    # The ledgers hold exactly the trades the sweep counted for the three leaders.
    swept_trades = rows.filter(pl.col("backtest_id").is_in(expected[:3]))["trades"].sum()
    trades = results_store.read(sa.select(schema.trades))
    assert board.ledger_trades == swept_trades == trades.height
    assert set(trades["backtest_id"].to_list()) <= set(expected[:3])

    # 20 sessions: 10 CSCV blocks of 2, C(10, 5) = 252 splits, so a PBO picture.
    assert board.selection.pbo is not None and board.selection.pbo.n_splits == 252
    folder = tmp_path / "cache" / "artifacts" / "SPY" / "2025-01-02_2025-01-31"
    for picture, name in [
        (board.equity, "equity"),
        (board.heatmap, "heatmap"),
        (board.stability, "parameter_stability"),
        (board.pbo_logits, "pbo_logits"),
    ]:
        written = folder / f"engine-{engine.ENGINE_VERSION}" / "leaderboard" / f"{name}.png"
        data = written.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and data == picture.png
        assert picture.file.sha256 == hashlib.sha256(data).hexdigest()

    # A re-run replaces the leaders' ledgers instead of adding to them.
    again = build_leaderboard(results_store, cache, window, top=3, plotted=2, run_id="run-2")
    assert again.selection_id == board.selection_id
    assert results_store.read(sa.select(schema.trades)).height == swept_trades


def test_nothing_to_rank_names_the_stage_to_run(tmp_path):
    from orb_pipeline.results.resource import SqliteResultsStore

    store = SqliteResultsStore(path=str(tmp_path / "r.sqlite"))
    window, _ = swept_window(store, ticker="QQQ")
    cache = CacheStore(url=str(tmp_path / "cache"))
    other = type(window)(
        "IWM", "dv", window.window_start, window.window_end, window.series, window.sessions
    )
    with pytest.raises(
        LeaderboardError, match="no ranked results for IWM over 2025-01-02..2025-01-31"
    ):
        build_leaderboard(store, cache, other, run_id="r")
    with pytest.raises(
        LeaderboardError, match="none of the 72 backtests of QQQ .* min_days_traded=21"
    ):
        build_leaderboard(store, cache, window, min_days_traded=21, run_id="r")
    assert store.read(sa.select(schema.trades)).height == 0


def test_rows_of_another_data_version_are_refused_naming_their_chunks(tmp_path):
    from orb_pipeline.results.resource import SqliteResultsStore

    store = SqliteResultsStore(path=str(tmp_path / "r.sqlite"))
    window, rows = swept_window(store)
    stale = rows.head(30).with_columns(data_version=pl.lit("old"), run_id=pl.lit("run-7"))
    store.upsert(schema.results, stale)
    tags = {"run-7": {"dagster/partition/chunk": "002"}}
    with pytest.raises(LeaderboardError) as refused:
        build_leaderboard(
            store,
            CacheStore(url=str(tmp_path / "cache")),
            window,
            run_id="r",
            run_tags=lambda run_id: tags.get(run_id, {}),
        )
    message = str(refused.value)
    assert "30 of 72 results rows were swept on another data version" in message
    assert "chunk 002 (run run-7, 30 rows, data version old)" in message
    assert "re-run sweep_results for those chunks of SPY" in message
