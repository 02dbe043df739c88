"""Benchmark: the warehouse pull on loopback MariaDB, side by side in one process.

Run from the repository root: ``.venv/bin/python -m benchmarks.warehouse [--tickers 3] [--repeat 3]``

Loads the demo generator's rows (SPY, QQQ, IWM over the 63 demo sessions, about 0.9 M rows) into a
scratch database on the MariaDB at ``ORB_TEST_MYSQL_HOST/PORT/USER/PASSWORD`` (default
127.0.0.1:3306 root), then pulls one ticker's 63 sessions (about 0.3 M rows) with:

- ``connectorx, 4 parallel queries`` (the pipeline's path): ``pull_sessions`` sends one query per
  group of sessions as a list to connectorx, which runs them on parallel connections; no server
  ORDER BY, polars sorts by (time, id);
- ``connectorx, one query at a time`` (``connections=1``), the same queries in turn;
- ``OR-ed windows in turn`` (the path before): per 40 sessions one query testing every window on
  every row, one after the other;
- ``connectorx + ORDER BY``: one query with the server sorting;
- ``pymysql cursor`` (plain DB-API, fetchall, then a polars frame), server ORDER BY;
- ``sqlalchemy reference`` (the pipeline's bound-parameter reference path), server ORDER BY;
- the embedded SQLite warehouse, parallel and one query at a time;

each best of ``--repeat``; prints rows per second and ratios, checks every path returns identical
rows, then times the whole ``cached_bars`` computation (pull + bars + Parquet writes) per ticker.
Last, the embedded demo end to end through Dagster (``--skip-demo`` to leave it out). The scratch
database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid

import polars as pl
import pymysql

from orb_pipeline.bars.build import bars_from_prints, check_prints
from orb_pipeline.calendar import session_table
from orb_pipeline.core.cache_store import BARS_PREFIX, CacheStore, partition_path
from orb_pipeline.warehouse.demo import DEMO_FIRST_SESSION, DEMO_LAST_SESSION, DEMO_TICKERS
from orb_pipeline.warehouse.loading import create_table, demo_rows, insert_rows
from orb_pipeline.warehouse.resource import PULL_SCHEMA, MySqlWarehouse, SqliteWarehouse
from orb_pipeline.warehouse.schema import pull_query


def best_of(repeat: int, action):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=3, help="demo tickers to load (1-3)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-demo", action="store_true", help="skip the demo lineage timing")
    args = parser.parse_args(argv)

    settings = {
        "host": os.environ.get("ORB_TEST_MYSQL_HOST", "127.0.0.1"),
        "port": int(os.environ.get("ORB_TEST_MYSQL_PORT", "3306")),
        "user": os.environ.get("ORB_TEST_MYSQL_USER", "root"),
        "password": os.environ.get("ORB_TEST_MYSQL_PASSWORD", ""),
    }
    database = "orb_bench_" + uuid.uuid4().hex[:10]
    admin = pymysql.connect(**settings, autocommit=True)
    with admin.cursor() as cursor:
        # Identifiers cannot be bound; the name is generated above, never input.
        cursor.execute("CREATE DATABASE `" + database + "`")
    try:
        tickers = DEMO_TICKERS[: max(1, min(3, args.tickers))]
        started = time.perf_counter()
        rows = demo_rows(tickers, DEMO_FIRST_SESSION, DEMO_LAST_SESSION)
        warehouse = MySqlWarehouse(database=database, **settings)
        create_table(warehouse)
        insert_rows(warehouse, rows, batch_rows=50_000)
        print(
            f"loaded {rows.height:,} rows ({', '.join(tickers)}) into MariaDB {settings['host']}:"
            f"{settings['port']}/{database} in {time.perf_counter() - started:.1f} s"
        )
        with tempfile.TemporaryDirectory() as scratch:
            sqlite = SqliteWarehouse(
                path=os.path.join(scratch, "warehouse.sqlite"), build_demo_if_missing=False
            )
            create_table(sqlite)
            insert_rows(sqlite, rows, batch_rows=50_000)
            run(warehouse, sqlite, settings, database, tickers, args.repeat, scratch)
        if not args.skip_demo:
            demo_lineage()
    finally:
        with admin.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS `" + database + "`")
        admin.close()
    return 0


def run(warehouse, sqlite, settings, database, tickers, repeat, scratch) -> None:
    sessions = session_table(DEMO_FIRST_SESSION, DEMO_LAST_SESSION)
    windows = [(int(o), int(c)) for o, c in sessions.select("open_utc", "close_utc").iter_rows()]
    ticker = tickers[0]
    table = warehouse.greeks_table()

    def connectorx_ordered() -> pl.DataFrame:
        import connectorx

        statement = pull_query(table, "id", ticker, windows, ordered=True)
        query = str(
            statement.compile(
                dialect=warehouse.engine().dialect, compile_kwargs={"literal_binds": True}
            )
        )
        return connectorx.read_sql(warehouse._connectorx_url(), query, return_type="polars").cast(
            PULL_SCHEMA
        )

    def pymysql_cursor() -> pl.DataFrame:
        statement = pull_query(table, "id", ticker, windows, ordered=True).compile(
            dialect=warehouse.engine().dialect
        )
        connection = pymysql.connect(**settings, database=database)
        try:
            with connection.cursor() as cursor:
                # The compiled statement's own pyformat placeholders; the driver binds the values.
                cursor.execute(str(statement), statement.params)
                data = cursor.fetchall()
        finally:
            connection.close()
        return pl.DataFrame(data, schema=PULL_SCHEMA, orient="row")

    def or_windows_in_turn(source) -> pl.DataFrame:
        """The path before this change: per 40 sessions one query testing the OR-ed windows on
        every row, the queries one after the other."""
        import connectorx

        dialect = source.engine().dialect
        frames = []
        for start in range(0, len(windows), 40):
            text = str(
                pull_query(
                    source.greeks_table(), "id", ticker, windows[start : start + 40], True
                ).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
            ).split(" ORDER BY")[0]
            frames.append(connectorx.read_sql(source._connectorx_url(), text, return_type="polars"))
        return pl.concat(frames).cast(PULL_SCHEMA).sort(["timestamp_utc", "row_order"])

    def without_session(action):
        return lambda: action().drop("session_date")

    paths = {
        "connectorx, 4 parallel queries (pipeline)": without_session(
            lambda: warehouse.pull_sessions(ticker, sessions, connections=4)
        ),
        "connectorx, one query at a time (in turn)": without_session(
            lambda: warehouse.pull_sessions(ticker, sessions, connections=1)
        ),
        "connectorx, OR-ed windows in turn (before)": lambda: or_windows_in_turn(warehouse),
        "connectorx + server ORDER BY": connectorx_ordered,
        "pymysql cursor + ORDER BY": pymysql_cursor,
        "sqlalchemy reference + ORDER BY": lambda: warehouse.pull(ticker, windows, reference=True),
        "sqlite, 4 parallel queries (pipeline)": without_session(
            lambda: sqlite.pull_sessions(ticker, sessions, connections=4)
        ),
        "sqlite, one query at a time (in turn)": without_session(
            lambda: sqlite.pull_sessions(ticker, sessions, connections=1)
        ),
        "sqlite, OR-ed windows in turn (before)": lambda: or_windows_in_turn(sqlite),
    }
    timings, frames = {}, {}
    for name, action in paths.items():
        action()  # warm-up: connection setup, caches
        timings[name], frames[name] = best_of(repeat, action)
    reference = frames["sqlalchemy reference + ORDER BY"]
    for name, frame in frames.items():
        if not frame.equals(reference):
            raise SystemExit(f"{name} returned different rows than the reference path")
    count = reference.height
    base = timings["pymysql cursor + ORDER BY"]
    print(
        f"\npull of {ticker}, {len(windows)} sessions, {count:,} rows (best of {repeat}; identical "
        "rows on every path)"
    )
    for name, seconds in timings.items():
        print(
            f"  {name:42s} {seconds:7.3f} s  {count / seconds / 1e6:6.2f} M rows/s  "
            f"{base / seconds:5.2f}x pymysql"
        )
    for engine in ("connectorx", "sqlite"):
        parallel = timings[f"{engine}, 4 parallel queries (pipeline)"]
        in_turn = timings[f"{engine}, one query at a time (in turn)"]
        before = timings[f"{engine}, OR-ed windows in turn (before)"]
        print(
            f"  {engine}: pipeline {count / parallel / 1e6:.2f} M rows/s, before this change "
            f"{count / before / 1e6:.2f} M rows/s ({before / parallel:.2f}x); the same queries "
            f"one at a time {in_turn / parallel:.2f}x the parallel time"
        )

    store = CacheStore(url=os.path.join(scratch, "cache"))
    print(
        "\ncached_bars computation per ticker (bulk pull + bars + one Parquet file per session, no Dagster)"
    )
    for name in tickers:
        start = time.perf_counter()
        prints = warehouse.pull_sessions(name, sessions)
        for (day,), frame in prints.partition_by("session_date", as_dict=True).items():
            check_prints(frame, name, day)
            store.write_frame(
                partition_path(BARS_PREFIX, name, day.isoformat()), bars_from_prints(frame, day)
            )
        seconds = time.perf_counter() - start
        print(
            f"  {name}: {prints.height:,} rows -> {len(windows)} bar files in {seconds:.2f} s "
            f"({prints.height / seconds / 1e6:.2f} M rows/s)"
        )


def demo_lineage() -> None:
    """The embedded demo end to end: build the SQLite warehouse, then the three data assets for
    every demo ticker and session in one Dagster run (ephemeral instance)."""
    import dagster as dg

    from orb_pipeline.bars.assets import cached_bars
    from orb_pipeline.partitions import materialize_requests, rectangle_run_request
    from orb_pipeline.ranges.assets import opening_ranges
    from orb_pipeline.series.assets import compressed_series
    from orb_pipeline.warehouse import list_warehouse_tickers
    from orb_pipeline.warehouse.demo import build_demo_warehouse

    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        rows = build_demo_warehouse(os.path.join(scratch, "warehouse.sqlite"))
        built = time.perf_counter() - start
        warehouse = SqliteWarehouse(
            path=os.path.join(scratch, "warehouse.sqlite"), build_demo_if_missing=False
        )
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions("tickers", list_warehouse_tickers(warehouse))
        request = rectangle_run_request(
            DEMO_FIRST_SESSION, DEMO_LAST_SESSION, instance.get_dynamic_partitions("tickers")
        )
        start = time.perf_counter()
        [result] = materialize_requests(
            [request],
            assets=[cached_bars, compressed_series, opening_ranges],
            resources={
                "warehouse": warehouse,
                "cache": CacheStore(url=os.path.join(scratch, "cache")),
            },
            instance=instance,
        )
        lineage = time.perf_counter() - start
        keys = len(result.asset_materializations_for_node("opening_ranges"))
        print(
            f"\ndemo: warehouse of {rows:,} rows built in {built:.1f} s; cached_bars + compressed_series + "
            f"opening_ranges for {keys} partitions in one run: {lineage:.1f} s (success={result.success})"
        )


if __name__ == "__main__":
    raise SystemExit(main())
