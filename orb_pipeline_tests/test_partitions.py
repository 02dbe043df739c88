"""(period, ticker) partitions: which partitions and which sessions each run builds, what it reads
from the warehouse, how many Dagster events it writes, and the missing-session report."""

from __future__ import annotations

import collections
import datetime as dt

import dagster as dg
import pytest

from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.partitions import (
    materialize_requests,
    period_ticker_partitions,
    rectangle_run_request,
    run_sessions,
    sessions_run_request,
    ticker_range_run_requests,
    weekdays,
)
from orb_pipeline.warehouse.resource import SqliteWarehouse
from orb_pipeline_tests.warehouse.seeding import (  # noqa: F401 - pytest fixtures
    data_assets,
    materialized_partitions,
    mysql_template,
    mysql_warehouse,
    seeded_frame,
    sqlite_warehouse,
)

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


def keys_of(request: dg.RunRequest, instance: dg.DagsterInstance) -> set[str]:
    key_range = request.partition_key_range
    return {
        str(k) for k in period_ticker_partitions.get_partition_keys_in_range(key_range, instance)
    }


def days_of(request: dg.RunRequest, instance) -> dict[str, list[str]]:
    work = run_sessions(keys_of(request, instance), request.tags, NOW)
    return {
        f"{part.period}|{ticker}": [d.isoformat() for d in part.days]
        for ticker, parts in work.items()
        for part in parts
    }


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("tickers", ["SPY", "QQQ", "IWM"])
        yield instance


def test_a_year_of_a_new_ticker_is_one_partition_and_one_run(instance):
    (request,) = ticker_range_run_requests("IWM", "2025-01-01", "2025-12-31")
    assert keys_of(request, instance) == {"2025|IWM"}
    # Clipped to the first session (ORB_FIRST_SESSION default 2025-01-02): 260 weekdays.
    days = days_of(request, instance)["2025|IWM"]
    assert len(days) == 260 and days[0] == "2025-01-02" and days[-1] == "2025-12-31"
    split = ticker_range_run_requests("IWM", "2025-06-02", "2026-01-09", max_periods_per_run=1)
    assert [keys_of(r, instance) for r in split] == [{"2025|IWM"}, {"2026|IWM"}]
    assert [r.tags["orb/sessions"] for r in split] == [
        "2025-06-02..2025-12-31",
        "2026-01-01..2026-01-09",
    ]
    together = ticker_range_run_requests("IWM", "2025-06-02", "2026-01-09")
    assert len(together) == 1 and keys_of(together[0], instance) == {"2025|IWM", "2026|IWM"}
    assert days_of(together[0], instance)["2026|IWM"] == [
        d.isoformat() for d in weekdays("2026-01-01", "2026-01-09")
    ]


def test_requests_outside_the_partitions_are_refused():
    with pytest.raises(ValueError, match="no session partition between 2024-01-01 and 2024-12-31"):
        ticker_range_run_requests("SPY", "2024-01-01", "2024-12-31")
    with pytest.raises(ValueError, match="no session partition"):
        sessions_run_request("2025-11-29", ["SPY"])  # a Saturday


def test_the_daily_update_of_every_ticker_is_one_run_of_one_session(instance):
    tickers = instance.get_dynamic_partitions("tickers")
    request = sessions_run_request("2025-11-28", tickers)
    assert keys_of(request, instance) == {"2025|SPY", "2025|QQQ", "2025|IWM"}
    assert days_of(request, instance) == {
        "2025|SPY": ["2025-11-28"],
        "2025|QQQ": ["2025-11-28"],
        "2025|IWM": ["2025-11-28"],
    }


def test_a_rectangle_across_a_year_end_builds_only_its_weekdays(instance):
    request = rectangle_run_request("2025-12-30", "2026-01-04", ["QQQ", "IWM"])  # ends on a Sunday
    assert days_of(request, instance) == {
        "2025|QQQ": ["2025-12-30", "2025-12-31"],
        "2026|QQQ": ["2026-01-01", "2026-01-02"],  # New Year's Day: stored empty as a holiday
        "2025|IWM": ["2025-12-30", "2025-12-31"],
        "2026|IWM": ["2026-01-01", "2026-01-02"],
    }


def test_untagged_runs_stop_at_the_last_closed_session_and_keys_split_by_dimension():
    keys = [dg.MultiPartitionKey({"period": "2026", "ticker": "BRK.B"})]
    # 2026-06-01 is a Monday: at 12:00 UTC (08:00 New York) its session has not closed.
    (part,) = run_sessions(keys, {}, NOW)["BRK.B"]
    assert (part.ticker, part.period, part.days[-1]) == ("BRK.B", "2026", dt.date(2026, 5, 29))
    after_close = dt.datetime(2026, 6, 1, 21, tzinfo=dt.UTC)
    assert run_sessions(keys, {}, after_close)["BRK.B"][0].days[-1] == dt.date(2026, 6, 1)


class CountingWarehouse(SqliteWarehouse):
    """The embedded warehouse, recording every (ticker, sessions) it is asked to pull."""

    def pull_sessions(self, ticker, sessions, *, reference=False):
        PULLS.append((ticker, tuple(d.isoformat() for d in sessions["session_date"])))
        return super().pull_sessions(ticker, sessions, reference=reference)


PULLS: list[tuple[str, tuple[str, ...]]] = []


def test_runs_build_exactly_their_sessions_and_the_daily_update_pulls_only_the_new_one(
    request, tmp_path
):
    store = CacheStore(url=str(tmp_path / "cache"))
    seeded = request.getfixturevalue("sqlite_warehouse")
    warehouse = CountingWarehouse(path=seeded.path, build_demo_if_missing=False)
    resources = {"warehouse": warehouse, "cache": store}
    PULLS.clear()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("tickers", ["SPY"])
        [spy] = materialize_requests(
            ticker_range_run_requests("SPY", "2025-11-24", "2025-11-26"),
            assets=data_assets(),
            resources=resources,
            instance=instance,
        )
        for asset in ("cached_bars", "compressed_series", "opening_ranges"):
            assert materialized_partitions(spy, asset) == {"2025|SPY"}
        assert PULLS == [("SPY", ("2025-11-24", "2025-11-25", "2025-11-26"))]
        spy_files = {path: store.read_bytes(path) for path in store.list("bars")}
        assert sorted(spy_files) == [f"bars/SPY/2025-11-2{d}.parquet" for d in (4, 5, 6)]
        spy_mtimes = {p: (tmp_path / "cache" / p).stat().st_mtime_ns for p in spy_files}

        # Adding a ticker: one run, only its sessions; no other ticker's data is pulled or rewritten.
        instance.add_dynamic_partitions("tickers", ["QQQ"])
        PULLS.clear()
        [qqq] = materialize_requests(
            ticker_range_run_requests("QQQ", "2025-11-24", "2025-11-26"),
            assets=data_assets(),
            resources=resources,
            instance=instance,
        )
        assert materialized_partitions(qqq, "cached_bars") == {"2025|QQQ"}
        assert [ticker for ticker, _ in PULLS] == ["QQQ"]
        assert {p: (tmp_path / "cache" / p).stat().st_mtime_ns for p in spy_files} == spy_mtimes

        # The daily update of every ticker: one run; the warehouse is asked for the new session only.
        PULLS.clear()
        daily = sessions_run_request("2025-11-28", instance.get_dynamic_partitions("tickers"))
        [update] = materialize_requests(
            [daily], assets=data_assets(), resources=resources, instance=instance
        )
        assert materialized_partitions(update, "opening_ranges") == {"2025|SPY", "2025|QQQ"}
        assert PULLS == [("QQQ", ("2025-11-28",)), ("SPY", ("2025-11-28",))]
        assert all(result.success for result in (spy, qqq, update))
        assert len(instance.get_run_records()) == 3
        assert {p: (tmp_path / "cache" / p).stat().st_mtime_ns for p in spy_files} == spy_mtimes
        assert store.exists("series/SPY/2025-11-28.parquet")
        assert store.exists("ranges/QQQ/2025-11-28.parquet")


def _event_counts(instance, run_id: str) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    cursor = None
    while True:
        page = instance.get_records_for_run(run_id, cursor=cursor, limit=1000)
        counts.update(record.event_log_entry.dagster_event_type for record in page.records)
        counts["total"] += len(page.records)
        if not page.has_more:
            return counts
        cursor = page.cursor


@pytest.fixture(scope="module")
def small_universe(tmp_path_factory):
    """The embedded demo warehouse for 3 tickers x 20 sessions (January 2025)."""
    from orb_pipeline.warehouse.demo import build_demo_warehouse

    path = tmp_path_factory.mktemp("universe") / "warehouse.sqlite"
    build_demo_warehouse(
        path,
        tickers=("SPY", "QQQ", "IWM"),
        first_session="2025-01-02",
        last_session="2025-01-31",
    )
    return SqliteWarehouse(path=str(path), build_demo_if_missing=False)


def test_a_small_universe_is_one_run_with_events_per_partition_not_per_session(
    small_universe, tmp_path
):
    store = CacheStore(url=str(tmp_path / "cache"))
    resources = {"warehouse": small_universe, "cache": store}
    counts = {}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("tickers", ["SPY", "QQQ", "IWM"])
        tickers = instance.get_dynamic_partitions("tickers")
        for label, last in (("5 sessions", "2025-01-08"), ("20 sessions", "2025-01-31")):
            [result] = materialize_requests(
                [rectangle_run_request("2025-01-02", last, tickers)],
                assets=data_assets(),
                resources=resources,
                instance=instance,
            )
            assert result.success
            counts[label] = _event_counts(instance, result.run_id)
        assert len(instance.get_run_records()) == 2
    big = counts["20 sessions"]
    # 3 assets x 3 (year, ticker) partitions: one planned and one materialization event each.
    assert big["ASSET_MATERIALIZATION"] == 9
    assert big["ASSET_MATERIALIZATION_PLANNED"] == 9
    # Per ticker 22 weekdays: 20 sessions, and Jan 9 (national day of mourning) and Jan 20
    # (Martin Luther King Jr. Day) stored empty as holidays.
    assert len(store.list("bars")) == 3 * 22
    # Four times the sessions, the same events: Dagster's cost follows partitions, not sessions.
    assert big == counts["5 sessions"]
    assert big["total"] <= 90, big  # about 30 per ticker-month here; 3 data steps per run


def test_the_missing_session_report_is_in_each_partitions_metadata(request, tmp_path):
    warehouse = request.getfixturevalue("sqlite_warehouse")
    store = CacheStore(url=str(tmp_path / "cache"))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("tickers", ["SPY", "QQQ"])
        [result] = materialize_requests(
            [rectangle_run_request("2025-11-25", "2025-11-28", ["SPY", "QQQ"])],
            assets=data_assets(),
            resources={"warehouse": warehouse, "cache": store},
            instance=instance,
        )
        assert result.success
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("compressed_series")), limit=10
        ).records
    metadata = {r.partition_key: r.asset_materialization.metadata for r in records}
    assert set(metadata) == {"2025|SPY", "2025|QQQ"}
    qqq = metadata["2025|QQQ"]
    # 2025 has 250 XNYS sessions; QQQ has files for 11-25, 11-26 and 11-28 (11-27 is Thanksgiving).
    assert qqq["sessions_expected"].value == 250
    assert qqq["sessions_present"].value == 3
    assert qqq["sessions_missing"].value == 247
    assert qqq["sessions_written"].value == 4 and qqq["last_session"].value == "2025-11-28"
    # The seeded warehouse has QQQ rows on 11-28 only: two regular sessions without data.
    assert qqq["sessions_without_data"].value == 2
    rows = [
        (row.data["session"], row.data["status"]) for row in qqq["session_status"].value.records
    ]
    assert rows[0] == ("2025-12-31", "missing: not materialized")  # newest first
    assert ("2025-11-25", "no warehouse data (stored empty)") in rows
    assert ("2025-11-26", "no warehouse data (stored empty)") in rows
    assert qqq["session_status_truncated"].value == 249
    assert metadata["2025|SPY"]["sessions_without_data"].value == 1  # 11-25 is not seeded


def test_a_failing_ticker_leaves_the_earlier_tickers_written_and_recorded(request, tmp_path):
    """Issue 15 item 12: a multi-ticker run fails on a later ticker; the earlier ticker's files
    were replaced, so its materialization is recorded (with its metadata) before the failure."""
    warehouse = request.getfixturevalue("mysql_warehouse")
    store = CacheStore(url=str(tmp_path / "cache"))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("tickers", ["SPY", "ZZZ"])  # ZZZ has no warehouse rows
        [result] = materialize_requests(
            [rectangle_run_request("2025-11-26", "2025-11-28", ["SPY", "ZZZ"])],
            assets=data_assets(),
            resources={"warehouse": warehouse, "cache": store},
            instance=instance,
        )
        assert not result.success
        message = result.failure_data_for_node("cached_bars").error.to_string()
        assert "cached_bars failed on ZZZ 2025" in message and "ticker 'ZZZ' has no rows" in message
        assert "recorded as materializations: SPY 2025" in message
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("cached_bars")), limit=10
        ).records
        assert [r.partition_key for r in records] == ["2025|SPY"]
        assert records[0].asset_materialization.metadata["sessions_written"].value == 3
        assert records[0].run_id == result.run_id
    assert store.list("bars") == [f"bars/SPY/2025-11-2{d}.parquet" for d in (6, 7, 8)]
