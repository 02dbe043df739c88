"""The leaderboard reads one window's rows through the primary key (``results`` has no other index)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa

from orb_pipeline.results import schema
from orb_pipeline.results.ids import window_id_range
from orb_pipeline.results.leaderboard import window_filter
from orb_pipeline.results.selection import window_rows
from orb_pipeline_tests.results.test_resource import END, START, mysql_store, result_rows

OTHER_END = dt.date(2024, 7, 31)


def two_windows(store) -> pl.DataFrame:
    """The same grid over two windows of SPY whose ids share their 8-character prefix (as a
    32-bit prefix collision would); returns the first window's rows."""
    store.ensure_tables()
    mine = result_rows(400)
    other = result_rows(400, profit_offset=100.0).with_columns(  # better rows that must not leak in
        backtest_id=pl.col("backtest_id").str.slice(0, 8)
        + pl.col("backtest_id").str.slice(8).str.reverse(),
        window_end=pl.lit(OTHER_END),
        sharpe=pl.col("sharpe") + 5.0,
    )
    store.upsert(schema.results, pl.concat([mine, other]))
    return mine


def test_window_rows_reads_only_the_window(results_store):
    mine = two_windows(results_store)
    rows = window_rows(results_store, "SPY", START, END, engine_version="test-1")
    assert rows["backtest_id"].to_list() == sorted(mine["backtest_id"].to_list())
    assert set(rows["window_end"].to_list()) == {END}


def test_window_query_uses_the_primary_key_range(mysql_database):
    store = mysql_store(mysql_database)
    two_windows(store)
    statement = sa.select(schema.results.c.backtest_id).where(
        *window_filter("SPY", START, END, "test-1")
    )
    compiled = statement.compile(
        dialect=store.engine().dialect, compile_kwargs={"literal_binds": True}
    )
    with store.engine().connect() as connection:
        plan = connection.exec_driver_sql("EXPLAIN " + str(compiled)).mappings().all()
    assert [row["key"] for row in plan] == ["PRIMARY"]
    assert [row["type"] for row in plan] == ["range"]
    store.dispose()


def test_the_readme_sql_prefix_matches_window_id_range(mysql_database):
    """docs/RESULTS.md: ``LEFT(SHA2(CONCAT_WS('|', 'orb-backtest-v1', ticker, start, end, version), 256), 8)``."""
    store = mysql_store(mysql_database)
    with store.engine().connect() as connection:
        prefix = connection.exec_driver_sql(
            "SELECT LEFT(SHA2(CONCAT_WS('|', 'orb-backtest-v1', %s, %s, %s, %s), 256), 8)",
            ("SPY", START.isoformat(), END.isoformat(), "test-1"),
        ).scalar_one()
    assert window_id_range("SPY", START, END, "test-1") == (prefix + "0" * 24, prefix + "f" * 24)
    store.dispose()
