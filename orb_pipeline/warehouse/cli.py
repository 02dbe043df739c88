"""``orb-pipeline load-warehouse``: copy the generated demo warehouse into a MySQL warehouse.

So the production path (``ORB_WAREHOUSE=mysql``) can be tried locally::

    export ORB_WAREHOUSE_HOST=127.0.0.1 ORB_WAREHOUSE_USER=root ORB_WAREHOUSE_PASSWORD=
    orb-pipeline load-warehouse --to mysql                 # into database `options`, table `greeks`
    ORB_WAREHOUSE=mysql orb-pipeline demo

The source is the embedded SQLite warehouse (``--from``, default ``ORB_WAREHOUSE_PATH`` or
``$ORB_DATA_DIR/warehouse.sqlite``, generated from the demo generator when absent). The target's
host and user come from ``--host``/``--user`` or ``ORB_WAREHOUSE_HOST``/``ORB_WAREHOUSE_USER``;
the password only from ``ORB_WAREHOUSE_PASSWORD`` (never a command-line argument); port,
database and table from the flags or the usual settings. The database is created when absent.
Rows go by ``LOAD DATA LOCAL INFILE`` of CSV chunks (multi-row ``INSERT`` when the server refuses
local infile), each chunk committed on its own. A re-run is idempotent: a target holding the
source's first rows (an interrupted or finished copy) resumes after them; a table holding other
rows is refused unless ``--replace`` (which empties it first).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def add_load_warehouse_command(subcommands) -> None:
    parser = subcommands.add_parser(
        "load-warehouse",
        help="copy the generated demo warehouse (SQLite) into a MySQL warehouse",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
    )
    parser.add_argument(
        "--from",
        dest="source",
        metavar="PATH",
        help="SQLite warehouse file (default: ORB_WAREHOUSE_PATH, else "
        "$ORB_DATA_DIR/warehouse.sqlite, generated from the demo generator when absent)",
    )
    parser.add_argument("--to", choices=["mysql"], required=True, help="target kind")
    parser.add_argument("--host", help="default: ORB_WAREHOUSE_HOST")
    parser.add_argument("--port", type=int, help="default: ORB_WAREHOUSE_PORT, else 3306")
    parser.add_argument("--user", help="default: ORB_WAREHOUSE_USER")
    parser.add_argument("--database", help="default: ORB_WAREHOUSE_DATABASE, else options")
    parser.add_argument("--table", help="default: ORB_WAREHOUSE_TABLE, else greeks")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="empty a target table that holds rows other than the source's first rows",
    )
    parser.add_argument(
        "--chunk-rows",
        type=int,
        default=250_000,
        help="rows per LOAD DATA chunk, each committed on its own (default 250000)",
    )
    parser.set_defaults(handler=_load_warehouse)


def _load_warehouse(args: argparse.Namespace) -> int:
    from orb_pipeline.core import settings
    from orb_pipeline.warehouse.loading import WarehouseNotEmptyError, copy_warehouse
    from orb_pipeline.warehouse.resource import (
        MySqlWarehouse,
        SqliteWarehouse,
        WarehouseUnavailableError,
    )

    chosen = settings.current()
    source_path = Path(
        args.source or chosen.warehouse_path or chosen.data_dir / "warehouse.sqlite"
    ).resolve()
    # The command runs now, outside a Dagster run: it resolves the run-time variables itself.
    host = args.host or settings.env_var("ORB_WAREHOUSE_HOST").get_value() or ""
    user = args.user or settings.env_var("ORB_WAREHOUSE_USER").get_value() or ""
    missing = [
        name
        for name, value in (
            ("--host or ORB_WAREHOUSE_HOST", host),
            ("--user or ORB_WAREHOUSE_USER", user),
        )
        if not value
    ]
    if missing:
        print(f"load-warehouse: set {' and '.join(missing)}", file=sys.stderr)
        return 2
    try:
        source = SqliteWarehouse(
            path=str(source_path),
            build_demo_if_missing=args.source is None,
            table=chosen.warehouse_table,
            order_column=chosen.warehouse_order_column,
        )
        target = MySqlWarehouse(
            host=host,
            port=args.port or chosen.warehouse_port,
            user=user,
            password=settings.env_var("ORB_WAREHOUSE_PASSWORD").get_value() or "",
            database=args.database or chosen.warehouse_database,
            table=args.table or chosen.warehouse_table,
            order_column=chosen.warehouse_order_column,
            tls_ca_path=chosen.warehouse_tls_ca,
        )
        create_database(target)
        print(f"copying {source.describe()} -> {target.describe()}")
        started = time.perf_counter()
        last_print = [0.0]

        def progress(message: str) -> None:
            if time.perf_counter() - last_print[0] >= 2:
                last_print[0] = time.perf_counter()
                print("  " + message, flush=True)

        rows = copy_warehouse(
            source, target, chunk_rows=args.chunk_rows, replace=args.replace, progress=progress
        )
    except (WarehouseNotEmptyError, WarehouseUnavailableError, ValueError, RuntimeError) as error:
        print(f"load-warehouse: {error}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    print(
        f"loaded {rows:,} rows into {target.describe()} in {seconds:.1f} s "
        f"({rows / max(seconds, 1e-9):,.0f} rows/s); row count and id range checked against "
        "the source"
    )
    print(
        "use it: ORB_WAREHOUSE=mysql ORB_WAREHOUSE_DATABASE="
        f"{target.database} (with ORB_WAREHOUSE_HOST/USER/PASSWORD as here)"
    )
    return 0


def create_database(target) -> None:
    """Create ``target``'s database when it does not exist (its name is a validated identifier)."""
    import sqlalchemy as sa

    from orb_pipeline.warehouse import schema

    name = schema.validate_identifier(target.database, "database")
    url = target._sqlalchemy_url()
    server = sa.engine.URL.create(  # the same server, no database selected
        url.drivername,
        username=url.username,
        password=url.password,
        host=url.host,
        port=url.port,
        query=url.query,
    )
    engine = sa.create_engine(
        server, poolclass=sa.pool.NullPool, connect_args=target._connect_args()
    )

    def run() -> None:
        with engine.begin() as connection:
            connection.execute(sa.schema.CreateSchema(name, if_not_exists=True))

    try:
        target._with_retries("create database", run)
    finally:
        engine.dispose()
