"""The data assets materialized through Dagster, against MariaDB and the embedded SQLite file."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest
import sqlalchemy as sa

from orb_pipeline.calendar import session_table
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.partitions import (
    materialize_requests,
    session_key,
    ticker_range_run_requests,
)
from orb_pipeline_tests.warehouse.seeding import check_results, data_assets, materialized_partitions


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("tickers", ["SPY", "QQQ"])
        yield instance


def run_range(instance, warehouse, store, ticker, first, last):
    requests = ticker_range_run_requests(ticker, first, last)
    assert len(requests) == 1
    [result] = materialize_requests(
        requests,
        assets=data_assets(),
        resources={"warehouse": warehouse, "cache": store},
        instance=instance,
    )
    return result


def test_dst_holiday_and_early_close_through_dagster(instance, mysql_warehouse, tmp_path):
    store = CacheStore(url=str(tmp_path / "cache"))
    result = run_range(instance, mysql_warehouse, store, "SPY", "2025-11-26", "2025-11-28")
    assert result.success
    expected = {"2025|SPY"}  # one (year, ticker) partition, one file per session inside
    for asset in ("cached_bars", "compressed_series", "opening_ranges"):
        assert materialized_partitions(result, asset) == expected
    assert all(evaluation.passed for evaluation in check_results(result).values())

    holiday = store.read_frame("bars/SPY/2025-11-27.parquet")
    assert holiday.is_empty()
    metadata = result.asset_materializations_for_node("cached_bars")[0].metadata
    assert (
        "SPY 2025-11-27: not an exchange session (holiday); stored empty" in metadata["notes"].value
    )
    early = store.read_frame("bars/SPY/2025-11-28.parquet")
    assert early["timestamp_utc"][0] == 1764340200 and early["timestamp_utc"][-1] == 1764352800
    series = store.read_frame("series/SPY/2025-11-28.parquet")
    assert series["timestamp_utc"][-1] == 1764352800  # the session's last bar is kept

    # A single key through dg.materialize(partition_key=...): the spring DST session.
    single = dg.materialize(
        data_assets()[:1],
        instance=instance,
        partition_key=session_key("2025-03-10", "SPY"),
        tags={"orb/sessions": "2025-03-10"},
        resources={"warehouse": mysql_warehouse, "cache": store},
    )
    assert single.success
    bars = store.read_frame("bars/SPY/2025-03-10.parquet")
    assert bars["timestamp_utc"][0] == 1741613400  # 09:30 EDT = 13:30 UTC, the first print
    meta = single.asset_materializations_for_node("cached_bars")[0].metadata
    assert meta["rows"].value == bars.height and meta["first_timestamp_utc"].value == 1741613400
    assert meta["bytes"].value > 0 and meta["last_timestamp_utc"].value == bars["timestamp_utc"][-1]


def test_mysql_and_embedded_warehouses_give_identical_bars(
    instance, mysql_warehouse, sqlite_warehouse, tmp_path
):
    stores = {}
    for name, warehouse in (("mysql", mysql_warehouse), ("sqlite", sqlite_warehouse)):
        stores[name] = CacheStore(url=str(tmp_path / name))
        assert run_range(
            instance, warehouse, stores[name], "SPY", "2025-03-07", "2025-03-10"
        ).success
    for day in ("2025-03-07", "2025-03-10"):
        for prefix in ("bars", "series", "ranges"):
            path = f"{prefix}/SPY/{day}.parquet"
            assert stores["mysql"].read_frame(path).equals(stores["sqlite"].read_frame(path))
    assert stores["mysql"].read_frame("bars/SPY/2025-03-07.parquet").height > 2000


def test_regular_session_without_data_warns_naming_ticker_and_session(
    instance, sqlite_warehouse, tmp_path
):
    store = CacheStore(url=str(tmp_path / "cache"))
    result = run_range(instance, sqlite_warehouse, store, "QQQ", "2025-11-25", "2025-11-28")
    assert result.success  # not a failure
    checks = check_results(result)
    assert not checks["session_has_data"].passed
    assert checks["session_has_data"].severity == dg.AssetCheckSeverity.WARN
    assert "QQQ 2025-11-25" in checks["session_has_data"].description
    assert "QQQ 2025-11-26" in checks["session_has_data"].description
    assert checks["bars_valid"].passed
    assert store.read_frame("bars/QQQ/2025-11-25.parquet").is_empty()
    assert store.read_frame("ranges/QQQ/2025-11-25.parquet")["tick_count"].to_list() == [0]


@pytest.mark.parametrize("bad_price", [-5.0])  # null and NaN: test_build.py
def test_bad_warehouse_rows_fail_before_anything_downstream(
    instance, mysql_warehouse, tmp_path, bad_price
):
    table = mysql_warehouse.greeks_table()
    engine = mysql_warehouse.engine()
    open_utc = session_table("2025-11-26", "2025-11-26")["open_utc"][0]
    with engine.begin() as connection:
        connection.execute(
            sa.insert(table).values(
                timestamp_utc=int(open_utc) + 100,
                ticker="SPY",
                underlying=bad_price,
                delta=0.5,
                implied_volatility=0.2,
            )
        )
    engine.dispose()
    store = CacheStore(url=str(tmp_path / "cache"))
    result = run_range(instance, mysql_warehouse, store, "SPY", "2025-11-26", "2025-11-28")
    assert not result.success
    failure = result.failure_data_for_node("cached_bars")
    assert failure is not None and "SPY 2025-11-26" in failure.error.to_string()
    assert materialized_partitions(result, "compressed_series") == set()
    assert store.list("bars") == [] and store.list("series") == []  # nothing written


def test_unknown_ticker_fails_naming_it(instance, sqlite_warehouse, tmp_path):
    instance.add_dynamic_partitions("tickers", ["IWM"])
    store = CacheStore(url=str(tmp_path / "cache"))
    result = run_range(instance, sqlite_warehouse, store, "IWM", "2025-11-26", "2025-11-26")
    assert not result.success
    assert (
        "ticker 'IWM' has no rows" in result.failure_data_for_node("cached_bars").error.to_string()
    )


def test_series_check_blocks_ranges_on_bad_bars(instance, sqlite_warehouse, tmp_path):
    """A bars file corrupted after the fact: compressed_series refuses it, opening_ranges never runs."""
    store = CacheStore(url=str(tmp_path / "cache"))
    assert run_range(instance, sqlite_warehouse, store, "SPY", "2025-11-26", "2025-11-26").success
    path = "bars/SPY/2025-11-26.parquet"
    bars = store.read_frame(path)
    store.write_frame(path, bars.with_columns(pl.col("timestamp_utc") - 7200))  # before the open
    result = dg.materialize(
        data_assets()[1:],
        instance=instance,
        partition_key=session_key("2025-11-26", "SPY"),
        tags={"orb/sessions": "2025-11-26"},
        resources={"cache": store},
        raise_on_error=False,
    )
    assert not result.success
    checks = check_results(result)
    assert not checks["series_valid"].passed
    assert "SPY 2025-11-26: timestamps outside the session" in checks["series_valid"].description
    assert materialized_partitions(result, "opening_ranges") == set()


def test_unreachable_warehouse_fails_the_run_naming_host_and_database(instance, tmp_path):
    import socket

    from orb_pipeline_tests.warehouse.seeding import mysql_warehouse_for

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    warehouse = mysql_warehouse_for(
        {
            "host": "127.0.0.1",
            "port": port,
            "user": "orb",
            "password": "hunter2-secret",
            "database": "options",
        },
        connect_attempts=2,
        retry_backoff_seconds=0.01,
    )
    result = run_range(
        instance,
        warehouse,
        CacheStore(url=str(tmp_path / "cache")),
        "SPY",
        "2025-11-26",
        "2025-11-26",
    )
    assert not result.success
    message = result.failure_data_for_node("cached_bars").error.to_string()
    assert (
        "mysql://127.0.0.1:" + str(port) + "/options" in message and "after 2 attempts" in message
    )
    assert "hunter2-secret" not in message
    logs = "".join(str(record.user_message) for record in instance.all_logs(result.run_id))
    assert "retrying" in logs and "hunter2-secret" not in logs


def test_a_session_that_has_not_closed_is_refused(
    instance, sqlite_warehouse, tmp_path, monkeypatch
):
    import types

    import orb_pipeline.bars.assets as bars_assets

    # The clock of the asset only: 16:00 UTC on 2025-11-28, two hours before the early close.
    monkeypatch.setattr(bars_assets, "time", types.SimpleNamespace(time=lambda: 1764345600.0))
    store = CacheStore(url=str(tmp_path / "cache"))
    result = run_range(instance, sqlite_warehouse, store, "SPY", "2025-11-26", "2025-11-28")
    assert not result.success
    assert (
        "SPY: session(s) 2025-11-28 have not closed yet"
        in result.failure_data_for_node("cached_bars").error.to_string()
    )
    assert store.list("bars") == []
