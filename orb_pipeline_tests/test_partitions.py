"""Backfills in few, predictable runs: exactly which partitions each run materializes."""

from __future__ import annotations

import dagster as dg
import pytest

from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.partitions import (
    keys_by_ticker,
    materialize_requests,
    rectangle_run_request,
    session_ticker_partitions,
    sessions_run_request,
    ticker_range_run_requests,
    weekdays,
)
from orb_pipeline_tests.warehouse.seeding import (  # noqa: F401 - pytest fixtures
    data_assets,
    materialized_partitions,
    seeded_frame,
    sqlite_warehouse,
)


def keys_of(request: dg.RunRequest, instance: dg.DagsterInstance) -> set[str]:
    key_range = request.partition_key_range
    return {
        str(k) for k in session_ticker_partitions.get_partition_keys_in_range(key_range, instance)
    }


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("tickers", ["SPY", "QQQ", "IWM"])
        yield instance


def test_a_year_of_a_new_ticker_is_one_run_and_touches_only_that_ticker(instance):
    requests = ticker_range_run_requests("IWM", "2025-01-01", "2025-12-31")
    assert len(requests) == 1
    # Clipped to the first session partition (ORB_FIRST_SESSION default 2025-01-02).
    year = {f"{day.isoformat()}|IWM" for day in weekdays("2025-01-02", "2025-12-31")}
    assert len(year) == 260
    assert keys_of(requests[0], instance) == year
    chunked = ticker_range_run_requests("IWM", "2025-01-01", "2025-12-31", max_sessions_per_run=30)
    assert len(chunked) == 9
    covered = [keys_of(request, instance) for request in chunked]
    assert set().union(*covered) == year and sum(len(keys) for keys in covered) == 260


def test_requests_outside_the_partitions_are_refused():
    with pytest.raises(ValueError, match="no session partition between 2024-01-01 and 2024-12-31"):
        ticker_range_run_requests("SPY", "2024-01-01", "2024-12-31")
    with pytest.raises(ValueError, match="no session partition"):
        sessions_run_request("2025-11-29", ["SPY"])  # a Saturday


def test_the_daily_update_of_every_ticker_is_one_run(instance):
    tickers = instance.get_dynamic_partitions("tickers")
    request = sessions_run_request("2025-11-28", tickers)
    assert keys_of(request, instance) == {"2025-11-28|SPY", "2025-11-28|QQQ", "2025-11-28|IWM"}


def test_a_rectangle_covers_contiguous_tickers_and_weekdays(instance):
    request = rectangle_run_request("2025-11-24", "2025-11-30", ["QQQ", "IWM"])  # ends on a Sunday
    assert keys_of(request, instance) == {
        f"2025-11-{day}|{ticker}" for day in (24, 25, 26, 27, 28) for ticker in ("QQQ", "IWM")
    }


def test_keys_are_grouped_by_dimension_not_by_string_splitting():
    keys = [dg.MultiPartitionKey({"session": "2025-11-28", "ticker": "BRK.B"}), "2025-11-26|SPY"]
    assert {t: [d.isoformat() for d in days] for t, days in keys_by_ticker(keys).items()} == {
        "BRK.B": ["2025-11-28"],
        "SPY": ["2025-11-26"],
    }


def test_runs_materialize_exactly_their_partitions(request, tmp_path):
    store = CacheStore(url=str(tmp_path / "cache"))
    resources = {"warehouse": request.getfixturevalue("sqlite_warehouse"), "cache": store}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("tickers", ["SPY"])
        [spy] = materialize_requests(
            ticker_range_run_requests("SPY", "2025-11-26", "2025-11-28"),
            assets=data_assets(),
            resources=resources,
            instance=instance,
        )
        spy_keys = {"2025-11-26|SPY", "2025-11-27|SPY", "2025-11-28|SPY"}
        for asset in ("cached_bars", "compressed_series", "opening_ranges"):
            assert materialized_partitions(spy, asset) == spy_keys
        spy_files = {path: store.read_bytes(path) for path in store.list("bars")}
        spy_mtimes = {p: (tmp_path / "cache" / p).stat().st_mtime_ns for p in spy_files}

        # Adding a ticker: one run, only its keys; no other ticker's data is pulled or rewritten.
        instance.add_dynamic_partitions("tickers", ["QQQ"])
        [qqq] = materialize_requests(
            ticker_range_run_requests("QQQ", "2025-11-26", "2025-11-28"),
            assets=data_assets(),
            resources=resources,
            instance=instance,
        )
        assert materialized_partitions(qqq, "cached_bars") == {
            k.replace("SPY", "QQQ") for k in spy_keys
        }
        assert {p: (tmp_path / "cache" / p).stat().st_mtime_ns for p in spy_files} == spy_mtimes

        # The daily update of every ticker: one run, one session, every ticker.
        daily = sessions_run_request("2025-11-28", instance.get_dynamic_partitions("tickers"))
        [update] = materialize_requests(
            [daily], assets=data_assets(), resources=resources, instance=instance
        )
        assert materialized_partitions(update, "opening_ranges") == {
            "2025-11-28|SPY",
            "2025-11-28|QQQ",
        }
        assert all(result.success for result in (spy, qqq, update))
        assert len(instance.get_run_records()) == 3
        assert (
            store.read_bytes("bars/SPY/2025-11-26.parquet")
            == spy_files["bars/SPY/2025-11-26.parquet"]
        )


@pytest.mark.parametrize(
    ("now_utc", "last_key"),
    [
        ("2025-11-29T12:00:00", "2025-11-28"),  # Saturday: Friday's (early-close) session exists
        ("2025-11-28T06:00:00", "2025-11-28"),  # 01:00 New York on Friday: today's partition exists
        ("2025-11-28T04:00:00", "2025-11-27"),  # 23:00 New York on Thursday
    ],
)
def test_the_current_weekday_partition_exists_from_midnight_new_york(now_utc, last_key):
    import datetime as dt

    now = dt.datetime.fromisoformat(now_utc).replace(tzinfo=dt.UTC)
    keys = session_ticker_partitions.get_partitions_def_for_dimension("session").get_partition_keys(
        current_time=now
    )
    assert keys[-1] == last_key
