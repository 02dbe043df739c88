"""Benchmark: ``orb-pipeline load-warehouse`` (SQLite -> loopback MariaDB), side by side in one run.

Run from the repository root::

    .venv/bin/python -m benchmarks.warehouse_load [--from FILE] [--tickers 3] [--rows 0]

The source is ``--from`` (a SQLite warehouse file, e.g. a 10-ticker year built by
``build_demo_warehouse``), else the demo generator's ``--tickers`` over the 63 demo sessions,
written to a scratch file. Into scratch databases on the MariaDB at
``ORB_TEST_MYSQL_HOST/PORT/USER/PASSWORD`` (default 127.0.0.1:3306 root) it loads:

- ``copy_warehouse`` (the command's path): CSV chunks by ``LOAD DATA LOCAL INFILE``, the next chunk
  read while the server loads this one, the secondary index built once at the end;
- the same with the index kept up to date during the load;
- the path before (SQLAlchemy ``insert`` of dict rows), on the first ``--before-rows`` rows only
  (it is about 10x slower);

and a re-run of the command's path (resumes: nothing to copy). Prints rows/s, and the CPU seconds
of the MariaDB server (``/proc/<pid>/stat`` of ``mariadbd``/``mysqld``, when visible) and of this
process per million rows, which depend less on the machine's load than wall time (the server's
figure includes whatever else it serves meanwhile). Each copy checks its (rows, min id, max id)
against the source. Scratch databases are dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

import pymysql
import sqlalchemy as sa

from orb_pipeline.warehouse.demo import (
    DEMO_TICKERS,
    build_demo_warehouse,
)
from orb_pipeline.warehouse.loading import copy_warehouse, create_table
from orb_pipeline.warehouse.resource import MySqlWarehouse, SqliteWarehouse


def mariadb_settings() -> dict:
    """The benchmark server: ``ORB_TEST_MYSQL_HOST/PORT/USER/PASSWORD`` (default 127.0.0.1:3306
    root, no password)."""
    return {
        "host": os.environ.get("ORB_TEST_MYSQL_HOST", "127.0.0.1"),
        "port": int(os.environ.get("ORB_TEST_MYSQL_PORT", "3306")),
        "user": os.environ.get("ORB_TEST_MYSQL_USER", "root"),
        "password": os.environ.get("ORB_TEST_MYSQL_PASSWORD", ""),
    }


def server_pid() -> int | None:
    """The MariaDB/MySQL server on this machine (the oldest process of that name), if visible."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name = (entry / "comm").read_text().strip()
                start = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[19])
            except OSError:
                continue
            if name in ("mariadbd", "mysqld"):
                found.append((start, int(entry.name)))
    return min(found)[1] if found else None


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(action, server: int | None) -> tuple[float, float, float, object]:
    """(wall s, server CPU s, client CPU s, result) of ``action()``."""
    wall, server_cpu, client_cpu = time.perf_counter(), cpu_seconds(server), time.process_time()
    result = action()
    return (
        time.perf_counter() - wall,
        cpu_seconds(server) - server_cpu,
        time.process_time() - client_cpu,
        result,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", help="SQLite warehouse file to load")
    parser.add_argument("--tickers", type=int, default=3, help="demo tickers when no --from")
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--before-rows", type=int, default=200_000)
    parser.add_argument(
        "--skip-kept-index", action="store_true", help="leave out the index-kept-up-to-date load"
    )
    args = parser.parse_args(argv)

    settings = mariadb_settings()
    prefix = "orb_bench_load_" + uuid.uuid4().hex[:8]
    admin = pymysql.connect(**settings, autocommit=True)
    server = server_pid()
    created: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        if args.source:
            path = args.source
        else:
            path = os.path.join(scratch, "warehouse.sqlite")
            tickers = DEMO_TICKERS[: max(1, min(3, args.tickers))]
            build_demo_warehouse(path, tickers=tickers)
        source = SqliteWarehouse(path=path, build_demo_if_missing=False)
        [(rows,)] = source._execute(sa.select(sa.func.count()).select_from(source.greeks_table()))

        def target(name: str) -> MySqlWarehouse:
            database = prefix + "_" + name
            with admin.cursor() as cursor:
                # Identifiers cannot be bound; the name is generated above, never input.
                cursor.execute("CREATE DATABASE `" + database + "`")
            created.append(database)
            return MySqlWarehouse(database=database, **settings)

        try:
            print(
                f"source {path}: {rows:,} rows; MariaDB {settings['host']}:{settings['port']} "
                f"(server pid {server}); load average {os.getloadavg()[0]:.1f}"
            )
            results = {}
            loaded = target("copy")
            results["copy_warehouse (LOAD DATA, index built after)"] = measured(
                lambda: copy_warehouse(source, loaded, chunk_rows=args.chunk_rows), server
            )
            results["re-run of the same (resumes: nothing to copy)"] = measured(
                lambda: copy_warehouse(source, loaded, chunk_rows=args.chunk_rows), server
            )
            if not args.skip_kept_index:
                kept = target("kept")
                create_table(kept)
                results["LOAD DATA, index kept during the load"] = measured(
                    lambda: copy_warehouse(
                        source, kept, chunk_rows=args.chunk_rows, keep_indexes=True
                    ),
                    server,
                )
            before = target("before")
            results[f"before: SQLAlchemy insert, first {args.before_rows:,} rows"] = measured(
                lambda: insert_before(source, before, args.before_rows), server
            )
            print(f"load average after: {os.getloadavg()[0]:.1f}")
            for name, (wall, server_cpu, client_cpu, copied) in results.items():
                line = f"  {name:50s} {copied:>11,} rows {wall:7.1f} s"
                if copied:
                    per_million = 1e6 / copied
                    line += (
                        f" {copied / wall / 1e3:7.1f} k rows/s   CPU per M rows: server "
                        f"{server_cpu * per_million:5.2f} s, client "
                        f"{client_cpu * per_million:5.2f} s"
                    )
                print(line)
        finally:
            for database in created:
                with admin.cursor() as cursor:
                    cursor.execute("DROP DATABASE IF EXISTS `" + database + "`")
            admin.close()
    return 0


def insert_before(source: SqliteWarehouse, target: MySqlWarehouse, rows: int) -> int:
    """The copy before this change: SQLAlchemy Core ``insert`` of dict rows, 50,000 at a time."""
    source_table, target_table = source.greeks_table(), target.greeks_table()
    create_table(target)
    columns = [column.name for column in source_table.columns]
    copied = 0
    source_engine, target_engine = source.engine(), target.engine()
    try:
        with target_engine.begin() as writer, source_engine.connect() as reader:
            result = reader.execution_options(yield_per=50_000).execute(
                sa.select(source_table).order_by(source_table.c.id).limit(rows)
            )
            for batch in result.partitions():
                writer.execute(
                    target_table.insert(), [dict(zip(columns, row, strict=True)) for row in batch]
                )
                copied += len(batch)
    finally:
        source_engine.dispose()
        target_engine.dispose()
    return copied


if __name__ == "__main__":
    raise SystemExit(main())
