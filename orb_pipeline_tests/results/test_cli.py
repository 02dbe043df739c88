"""``orb-pipeline ledger BACKTEST_ID`` regenerates a stored backtest's ledger and plot."""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.cli import main
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.results import schema
from orb_pipeline.results.leaderboard import engine_options_of
from orb_pipeline_tests.staging.window_data import make_window, write_cached_window
from orb_pipeline_tests.sweeps.chain import SMALL_GRID, Chain


def test_ledger_command_writes_the_ledger_and_its_plot(tmp_path, monkeypatch, capsys):
    series, sessions = make_window(n_sessions=20, ticks_per_session=300, start=dt.date(2025, 1, 2))
    write_cached_window(CacheStore(url=str(tmp_path / "cache")), "SPY", series, sessions)
    chain = Chain(
        {
            "ticker": "SPY",
            "grid": {**SMALL_GRID, "chunks": 1},
            "cache_dir": str(tmp_path / "cache"),
            "staging_dir": str(tmp_path / "staging"),
            "sqlite_path": str(tmp_path / "results.sqlite"),
        }
    )
    instance = chain.instance()
    chain.stage(instance)
    chain.sweep(instance, "000")
    store = chain.resources()["results"]
    best = store.read(
        sa.select(schema.results)
        .order_by(schema.results.c.trades.desc(), schema.results.c.backtest_id)
        .limit(1)
    ).row(0, named=True)
    assert best["trades"] > 0

    monkeypatch.setenv("ORB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ORB_CACHE_URL", str(tmp_path / "cache"))
    monkeypatch.setenv("ORB_RESULTS_PATH", str(tmp_path / "results.sqlite"))
    monkeypatch.delenv("ORB_RESULTS", raising=False)
    assert main(["ledger", best["backtest_id"], "--output", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert best["backtest_id"] in printed and f"trades {best['trades']} (" in printed
    assert "winning (" in printed and "average holding " in printed

    # Written through the cache store under the backtest's ticker, window and engine version ...
    stored = tmp_path / "cache" / "artifacts" / "SPY" / "2025-01-02_2025-01-31"
    stored = stored / ("engine-" + engine.ENGINE_VERSION) / "ledgers"
    assert f"ledger: {stored / (best['backtest_id'] + '.csv')}" in printed
    for suffix in (".csv", ".png"):  # ... and copied to --output
        name = best["backtest_id"] + suffix
        assert (stored / name).read_bytes() == (tmp_path / "out" / name).read_bytes()
    written = pl.read_csv(stored / (best["backtest_id"] + ".csv"), try_parse_dates=True)
    expected = engine.ledger(
        series, sessions, {k: best[k] for k in engine.GRID_COLUMNS}, **engine_options_of(best)
    )
    assert written.height == best["trades"] == expected.height
    assert written["profit"].to_list() == expected["profit"].to_list()
    assert written["entry_utc"].to_list() == expected["entry_utc"].to_list()
    picture = (tmp_path / "out" / (best["backtest_id"] + ".png")).read_bytes()
    assert picture[:8] == b"\x89PNG\r\n\x1a\n" and len(picture) > 10_000

    assert main(["ledger", "0" * 32, "--output", str(tmp_path / "out")]) == 1
    assert "backtest_id '" + "0" * 32 + "' is not in the results store" in capsys.readouterr().err


def test_ledger_command_on_a_damaged_results_file_says_which_and_what_to_do(
    tmp_path, monkeypatch, capsys
):
    """Issue 15: it printed a raw traceback."""
    from orb_pipeline_tests.results.test_resource import damaged_sqlite_store

    path = tmp_path / "results.sqlite"
    damaged_sqlite_store(path)
    monkeypatch.setenv("ORB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ORB_CACHE_URL", str(tmp_path / "cache"))
    monkeypatch.setenv("ORB_RESULTS_PATH", str(path))
    monkeypatch.delenv("ORB_RESULTS", raising=False)
    assert main(["ledger", "f" * 32, "--output", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err
    assert f"the results store SQLite {path} is damaged" in error and "Traceback" not in error
