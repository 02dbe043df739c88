"""A small seeded warehouse for the data-stage tests, loaded identically into MariaDB and SQLite.

SPY on 2025-03-07, 2025-03-10 (first session after the spring DST change), 2025-11-03 (after the
fall change), 2025-11-26 and 2025-11-28 (early close 13:00 New York); QQQ on 2025-11-28. Around
every session: rows one second before the open and after the close (must never be pulled) and
rows exactly at the open and the close (must be).
"""

from __future__ import annotations

import os

import polars as pl
import pytest
import sqlalchemy as sa

from orb_pipeline.calendar import session_table
from orb_pipeline.warehouse.loading import create_table, demo_rows, insert_rows
from orb_pipeline.warehouse.resource import MySqlWarehouse, SqliteWarehouse

SEEDED_SESSIONS = ["2025-03-07", "2025-03-10", "2025-11-03", "2025-11-26", "2025-11-28"]
SEED = 7


def seeded_rows() -> pl.DataFrame:
    frames = [demo_rows(["SPY"], day, day, seed=SEED) for day in SEEDED_SESSIONS]
    frames.append(demo_rows(["QQQ"], "2025-11-28", "2025-11-28", seed=SEED))
    outside = []
    for ticker, days in (("SPY", SEEDED_SESSIONS), ("QQQ", ["2025-11-28"])):
        for day in days:
            bounds = session_table(day, day).row(0, named=True)
            for timestamp in (
                bounds["open_utc"] - 1,
                bounds["close_utc"] + 1,
                bounds["close_utc"] + 3600,
            ):
                outside.append(
                    {
                        "timestamp_utc": timestamp,
                        "ticker": ticker,
                        "underlying": 1.0,
                        "delta": 0.5,
                        "implied_volatility": 9.9,
                        "strike": 1.0,
                        "option_type": "C",
                    }
                )
            # Exactly at the close: inside the session (inclusive bounds).
            outside.append(
                {
                    "timestamp_utc": bounds["close_utc"],
                    "ticker": ticker,
                    "underlying": 500.0,
                    "delta": 0.5,
                    "implied_volatility": 0.2,
                    "strike": 500.0,
                    "option_type": "C",
                }
            )
    rows = pl.concat([*frames, pl.DataFrame(outside, schema=frames[0].schema)])
    # A deterministic insertion order that is not time order: ids follow this order.
    return rows.sort(["ticker", "timestamp_utc"], maintain_order=True)


@pytest.fixture(scope="session")
def seeded_frame() -> pl.DataFrame:
    return seeded_rows()


def mysql_warehouse_for(settings: dict, **overrides) -> MySqlWarehouse:
    return MySqlWarehouse(
        host=settings["host"],
        port=settings["port"],
        user=settings["user"],
        password=settings["password"] or "",
        database=settings["database"],
        **overrides,
    )


@pytest.fixture(scope="session")
def mysql_template(mysql_server, seeded_frame):
    """The seeded table loaded once per test session into its own database (dropped at the end)."""
    import uuid

    import pymysql

    name = f"orb_test_tpl_{uuid.uuid4().hex[:12]}"
    connection = pymysql.connect(**mysql_server, autocommit=True)
    try:
        with connection.cursor() as cursor:
            # Identifiers cannot be bound as parameters; the name is generated here, never input.
            cursor.execute("CREATE DATABASE `" + name + "`")
        warehouse = mysql_warehouse_for({**mysql_server, "database": name})
        create_table(warehouse)
        insert_rows(warehouse, seeded_frame, batch_rows=50_000)
        yield warehouse
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS `" + name + "`")
        connection.close()


@pytest.fixture
def mysql_warehouse(mysql_database, mysql_template) -> MySqlWarehouse:
    """A fresh database holding a server-side copy of the seeded table (same ids, same order)."""
    warehouse = mysql_warehouse_for(mysql_database)
    create_table(warehouse)
    target, source = warehouse.greeks_table(), mysql_template.greeks_table()
    engine = warehouse.engine()
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.insert(target).from_select([c.name for c in source.columns], sa.select(source))
            )
    finally:
        engine.dispose()
    return warehouse


@pytest.fixture(scope="session")
def sqlite_warehouse(tmp_path_factory, seeded_frame) -> SqliteWarehouse:
    """Shared by every test of the session: read it, never write to it."""
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.sqlite"
    warehouse = SqliteWarehouse(path=str(path), build_demo_if_missing=False)
    create_table(warehouse)
    insert_rows(warehouse, seeded_frame)
    return warehouse


def data_assets():
    """The three data assets (imported lazily: Dagster definitions load at first use)."""
    from orb_pipeline.bars.assets import cached_bars
    from orb_pipeline.ranges.assets import opening_ranges
    from orb_pipeline.series.assets import compressed_series

    return [cached_bars, compressed_series, opening_ranges]


def materialized_partitions(result, asset_name: str) -> set[str]:
    return {str(m.partition) for m in result.asset_materializations_for_node(asset_name)}


def check_results(result) -> dict[str, object]:
    return {
        evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()
    }


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server on loopback; yields its endpoint URL (test credentials set meanwhile)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    saved = {name: os.environ.get(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
