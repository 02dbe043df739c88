"""A sweep partition's process killed (SIGKILL) in the middle of its upserts, then re-run: the
store holds exactly the grid's rows, identical to what a clean run writes."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time

import polars as pl
import pymysql
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.results import schema
from orb_pipeline.results.ids import backtest_ids
from orb_pipeline_tests.staging.window_data import make_window, write_cached_window
from orb_pipeline_tests.sweeps.chain import FIRST, LAST, Chain

DEFAULT_GRID_ONE_CHUNK = {"chunks": 1}


def _count(settings: dict) -> int:
    connection = pymysql.connect(**settings)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM results")
            return cursor.fetchone()[0]
    except pymysql.err.ProgrammingError:  # table not created yet
        return 0
    finally:
        connection.close()


def test_killed_partition_rerun_gives_exactly_the_clean_rows(tmp_path, mysql_database):
    series, sessions = make_window(n_sessions=20, ticks_per_session=300, start=dt.date(2025, 1, 2))
    write_cached_window(CacheStore(url=str(tmp_path / "cache")), "SPY", series, sessions)
    mysql = {k: mysql_database[k] for k in ("host", "port", "user", "password", "database")}
    chain = Chain(
        {
            "ticker": "SPY",
            "grid": DEFAULT_GRID_ONE_CHUNK,
            "cache_dir": str(tmp_path / "cache"),
            "staging_dir": str(tmp_path / "staging"),
            # Small batches: many transactions, so the kill lands between and inside them.
            "mysql": {**mysql, "batch_rows": 50},
        }
    )
    chain.stage(chain.instance())
    total = chain.settings.grid().height

    worker = subprocess.Popen(
        [sys.executable, "-m", "orb_pipeline_tests.sweeps.chain", json.dumps(chain.spec), "000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    seen = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and worker.poll() is None:
        seen = _count(mysql)
        if 0 < seen < total // 2:
            break
        time.sleep(0.002)
    assert worker.poll() is None, "the sweep finished before it could be killed: " + str(
        worker.stderr.read()[-2000:]
    )
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    worker.stderr.close()
    partial = _count(mysql)
    assert worker.returncode == -signal.SIGKILL
    assert 0 < partial < total, partial

    rerun = Chain({**chain.spec, "mysql": mysql})  # the store's default batch size
    result = rerun.sweep(rerun.instance(), "000")
    assert result.success
    store = rerun.resources()["results"]
    stored = store.read(sa.select(schema.results).order_by(schema.results.c.backtest_id))
    grid = chain.settings.grid()
    clean = engine.sweep(series, sessions, grid, **chain.settings.engine_options())
    clean = clean.with_columns(
        backtest_id=backtest_ids(
            clean,
            "SPY",
            dt.date.fromisoformat(FIRST),
            dt.date.fromisoformat(LAST),
            engine.ENGINE_VERSION,
            **chain.settings.engine_options(),
        )
    ).sort("backtest_id")
    assert stored.height == total == 9747
    assert stored["backtest_id"].to_list() == clean["backtest_id"].to_list()
    for metric, column in schema.METRIC_COLUMNS.items():
        assert stored[column].to_list() == clean[metric].to_list(), metric
    assert stored["run_id"].n_unique() == 1  # every row rewritten by the re-run
    assert stored.filter(pl.col("ticker") != "SPY").height == 0
