"""Benchmark: the sweep chain for one ticker-year: staging, read-back, sweep, upsert.

Run from the repository root (needs the loopback Redis and MariaDB of the tests):
``.venv/bin/python -m benchmarks.sweep_chain [--sessions 252] [--ticks 19048] [--grid default|large]``

Side by side in one process, after a numba warm-up:
- staging and read-back of the window in Redis: the old way (one JSON value per session) against
  Arrow IPC in 8 MB parts with lz4, zstd and no compression; MB/s are of the window's in-memory
  Arrow size (``DataFrame.estimated_size``), so every format is measured against the same bytes;
- ``engine.sweep`` over the window for the grid (default: the original 9,747 combinations;
  ``large``: 993,600 combinations, six range lengths);
- the upsert of the grid's rows into MariaDB, each variant in its own scratch database: the default
  store (``LOAD DATA LOCAL INFILE ... REPLACE`` over 2 connections) against 1 connection, against 1
  connection into the table with the two secondary indexes it used to have, and against multi-row
  ``INSERT ... ON DUPLICATE KEY UPDATE`` (on at most the first 20,000 rows: it is slow); new rows
  into the existing table (best of ``--repeat`` windows, each with its own ids) and a re-run over
  the last window's rows;
- the grid's backtest ids (on at most 100,000 rows): the numba BLAKE2b against ``hashlib`` per
  row (``backtest_id``, the reference);
- the chain's split: staging + read-back (zstd, the default) + sweep + ids + upsert.
Redis keys go under a unique ``orb_bench:`` prefix and are deleted; the MariaDB databases are
scratch ones, dropped at the end. Nothing is asserted: figures are printed.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

import polars as pl
import pymysql
import redis
import sqlalchemy as sa

from benchmarks.walk_forward import synthetic_window
from orb_pipeline import engine
from orb_pipeline.results import schema
from orb_pipeline.results.ids import backtest_id, backtest_ids
from orb_pipeline.results.resource import MySqlResultsStore
from orb_pipeline.staging.resource import RedisStagingStore
from orb_pipeline.sweeps.assets import result_rows
from orb_pipeline.sweeps.grid import parse_settings
from orb_pipeline_tests import services

LARGE_GRID = {
    "blocks": [
        {
            "range_seconds": [15, 30, 60, 120, 300, 600],
            "stop_distance": {"start": 0.05, "stop": 2.0, "step": 0.05},
            "stop_count_limit": [1, 2, 3],
            "stop_cooloff_period": {"start": 0, "stop": 270, "step": 30},
            "limit_distance": {"start": 0.25, "stop": 34.5, "step": 0.25},
        }
    ]
}


def upsert_variants(rows: pl.DataFrame) -> list[tuple[str, dict, sa.Table, pl.DataFrame]]:
    """The default store first, then what it is measured against (label, options, table, rows)."""
    # The table as it was before it lost its two secondary indexes (schema.py says why).
    indexed = schema.results.to_metadata(sa.MetaData())
    sa.Index("ix_results_ticker_profit", indexed.c.ticker, indexed.c.backtest_profit)
    sa.Index("ix_results_ticker_sharpe", indexed.c.ticker, indexed.c.sharpe)
    return [
        (
            "LOAD DATA ... REPLACE, 2 connections (default)",
            {"write_connections": 2},
            schema.results,
            rows,
        ),
        ("LOAD DATA ... REPLACE, 1 connection", {"write_connections": 1}, schema.results, rows),
        (
            "same + indexes on (ticker, profit), (ticker, sharpe)",
            {"write_connections": 1},
            indexed,
            rows,
        ),
        (
            "multi-row INSERT ... ON DUPLICATE KEY UPDATE, 2 conn.",
            {"use_load_data": False, "write_connections": 2},
            schema.results,
            rows.head(20_000),
        ),
    ]


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - started


def json_stage(client: redis.Redis, prefix: str, series: pl.DataFrame) -> None:
    """The original engine's way: one JSON document per session (column lists, the kindest form)."""
    with client.pipeline(transaction=False) as pipe:
        for (day,), frame in series.group_by(["session_date"], maintain_order=True):
            document = {
                "timestamp_utc": frame["timestamp_utc"].to_list(),
                "price": frame["price"].to_list(),
            }
            pipe.set(prefix + "json:" + day.isoformat(), json.dumps(document))
        pipe.execute()


def json_read(client: redis.Redis, prefix: str, days: list) -> pl.DataFrame:
    with client.pipeline(transaction=False) as pipe:
        for day in days:
            pipe.get(prefix + "json:" + day.isoformat())
        values = pipe.execute()
    frames = [
        pl.DataFrame(json.loads(value)).with_columns(session_date=pl.lit(day))
        for day, value in zip(days, values, strict=True)
    ]
    return pl.concat(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=252)
    parser.add_argument("--ticks", type=int, default=19_048, help="ticks per session")
    parser.add_argument("--grid", choices=["default", "large"], default="default")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for staging/read-back")
    args = parser.parse_args()

    series, sessions = synthetic_window(args.sessions, args.ticks)
    frame_mb = (series.estimated_size() + sessions.estimated_size()) / 1e6
    print(f"window: {args.sessions} sessions, {series.height:,} ticks, {frame_mb:.1f} MB in memory")

    settings = redis_settings = services.redis_settings()
    prefix = "orb_bench:" + uuid.uuid4().hex[:12] + ":"
    client = redis.Redis(**redis_settings)
    rows_out = []
    try:
        days = sessions["session_date"].to_list()
        stage = timed(json_stage, client, prefix, series)[1]  # slow: once
        read = timed(json_read, client, prefix, days)[1]
        rows_out.append(("per-session JSON (old way)", stage, read, None))
        for compression in ("lz4", "zstd", "uncompressed"):
            staging = RedisStagingStore(
                host=settings["host"],
                port=settings["port"],
                password=settings["password"],
                key_prefix=prefix,
                compression=compression,
                part_megabytes=8,
            )
            stage = min(
                timed(staging.put, "BENCH", "v1", series, sessions)[1] for _ in range(args.repeat)
            )
            payload = staging.put("BENCH", "v1", series, sessions).payload_bytes
            window, read = timed(staging.get, "BENCH", "v1")
            read = min(
                [read] + [timed(staging.get, "BENCH", "v1")[1] for _ in range(args.repeat - 1)]
            )
            assert window.series.equals(series)
            rows_out.append((f"Arrow IPC {compression}, 8 MB parts", stage, read, payload))
            if compression == "zstd":  # the default
                chain_staging = (stage, read)
    finally:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()

    print(f"\nstaging in Redis (Arrow: best of {args.repeat}; JSON: once)")
    print(f"{'format':34} {'stage s':>8} {'MB/s':>7} {'read s':>8} {'MB/s':>7} {'stored MB':>10}")
    for name, stage, read, payload in rows_out:
        stored = f"{payload / 1e6:10.1f}" if payload else f"{'':>10}"
        print(
            f"{name:34} {stage:8.3f} {frame_mb / stage:7.0f} {read:8.3f} {frame_mb / read:7.0f} {stored}"
        )

    grid = engine.default_grid() if args.grid == "default" else parse_settings(LARGE_GRID).grid()
    engine.sweep(series.head(2000), sessions.head(1), grid.head(10))  # compile outside the timing
    metrics, sweep_seconds = timed(engine.sweep, series, sessions, grid)
    print(
        f"\nsweep: {grid.height:,} backtests x {args.sessions} sessions in {sweep_seconds:.2f} s "
        f"({grid.height / sweep_seconds:,.0f} backtests/s)"
    )

    rows, id_seconds = timed(
        result_rows,
        metrics,
        "BENCH",
        sessions["session_date"].min(),
        sessions["session_date"].max(),
        "bench-data",
        "bench-run",
    )
    print(f"result rows with ids: {id_seconds:.2f} s")
    sample = grid.head(100_000)
    first, last = sessions["session_date"].min(), sessions["session_date"].max()
    fast = timed(backtest_ids, sample, "BENCH", first, last, engine.ENGINE_VERSION)[1]
    slow = timed(
        lambda: [
            backtest_id("BENCH", first, last, params, engine.ENGINE_VERSION)
            for params in sample.iter_rows(named=True)
        ]
    )[1]
    print(
        f"ids of {sample.height:,} backtests: numba BLAKE2b {fast:.3f} s "
        f"({sample.height / fast:,.0f}/s) vs hashlib per row (the reference) {slow:.3f} s "
        f"({sample.height / slow:,.0f}/s): {slow / fast:.1f}x"
    )

    mysql = services.mysql_settings()
    admin = pymysql.connect(**{k: v for k, v in mysql.items() if k != "database"}, autocommit=True)
    databases = []
    best_upsert = None
    print(
        f"\nupsert into MariaDB (table already created; best of {args.repeat} new windows, "
        "then a re-run over the last one)"
    )
    try:
        for label, options, table, sample in upsert_variants(rows):
            database = "orb_bench_" + uuid.uuid4().hex[:10]
            admin.cursor().execute("CREATE DATABASE `" + database + "`")
            databases.append(database)
            store = MySqlResultsStore(
                host=mysql["host"],
                port=mysql["port"],
                user=mysql["user"],
                password=mysql["password"],
                database=database,
                **options,
            )
            store.ensure_tables(table)
            fresh = []
            for index in range(args.repeat):
                ticker = f"B{index}"
                window_rows = sample.with_columns(
                    backtest_id=backtest_ids(
                        sample,
                        ticker,
                        sample["window_start"][0],
                        sample["window_end"][0],
                        sample["engine_version"][0],
                    ),
                    ticker=pl.lit(ticker),
                )
                fresh.append(store.upsert(table, window_rows).seconds)
            again = store.upsert(table, window_rows)
            store.dispose()
            best = min(fresh)
            if best_upsert is None:  # the first variant is the default configuration
                best_upsert = best
            print(
                f"{label:58} {sample.height:9,} new rows {best:6.2f} s "
                f"{sample.height / best:9,.0f} rows/s | re-run {again.seconds:6.2f} s "
                f"{again.rows_per_second:9,.0f} rows/s"
            )
    finally:
        for database in databases:
            admin.cursor().execute("DROP DATABASE IF EXISTS `" + database + "`")
        admin.close()

    stage, read = chain_staging
    total = stage + read + sweep_seconds + id_seconds + best_upsert
    print(
        f"\nchain for {grid.height:,} backtests: stage {stage:.2f} s, read back {read:.2f} s, sweep "
        f"{sweep_seconds:.2f} s, ids {id_seconds:.2f} s, upsert {best_upsert:.2f} s; "
        f"engine share {100 * sweep_seconds / total:.0f}%"
    )


if __name__ == "__main__":
    main()
