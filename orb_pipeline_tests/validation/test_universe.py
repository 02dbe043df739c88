"""``rank_universe`` without Dagster: two tickers with the same data hold up on exactly the
parameter sets whose deflated Sharpe beats noise on one of them."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.results.leaderboard_run import build_leaderboard
from orb_pipeline.results.resource import SqliteResultsStore
from orb_pipeline.validation import schema
from orb_pipeline.validation.universe import NOISE_LEVEL, UniverseError, rank_universe
from orb_pipeline_tests.results.swept_window import GRID, swept_window


def test_the_shared_window_is_ranked_and_the_best_kept(tmp_path):
    store = SqliteResultsStore(path=str(tmp_path / "r.sqlite"))
    cache = CacheStore(url=str(tmp_path / "cache"))
    with pytest.raises(UniverseError, match="no leaderboard selections stored"):
        rank_universe(store, None, keep=5, run_id="r")
    boards = {}
    for ticker in ("SPY", "QQQ"):
        window, _ = swept_window(store, ticker=ticker)
        boards[ticker] = build_leaderboard(store, cache, window, top=3, plotted=1, run_id="r")

    run = rank_universe(store, None, keep=5, run_id="run-9")
    assert (run.window_start, run.window_end) == (window.window_start, window.window_end)
    assert run.tickers == ["QQQ", "SPY"] and run.ranking.height == GRID.height
    beating = int((boards["SPY"].selection.ranked["deflated_sharpe"] > NOISE_LEVEL).sum())
    # Same data for both tickers: a parameter set beats noise on both or on neither.
    assert sorted(set(run.ranking["tickers_beating_noise"].to_list())) <= [0, 2]
    assert 0 < int((run.ranking["tickers_beating_noise"] == 2).sum()) == beating < GRID.height
    stored = store.read(sa.select(schema.universe_rankings))
    assert stored.height == 5 and set(stored["universe_id"].to_list()) == {run.universe_id}

    with pytest.raises(
        UniverseError, match="no ranked backtests stored for 2024-01-02..2024-01-31"
    ):
        rank_universe(store, (dt.date(2024, 1, 2), dt.date(2024, 1, 31)), keep=5, run_id="r")
