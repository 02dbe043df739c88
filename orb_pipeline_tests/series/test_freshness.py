"""Freshness after the close: holiday- and early-close-aware, based on the stored session files."""

import datetime as dt

import dagster as dg
import polars as pl
import pytest

from orb_pipeline.core.cache_store import SERIES_PREFIX, CacheStore, partition_path
from orb_pipeline.partitions import TICKERS_PARTITIONS_NAME
from orb_pipeline.series.freshness import (
    StaleTicker,
    expected_latest_session,
    fresh_after_close,
    freshness_check_job,
    stale_tickers,
)

GRACE = dt.timedelta(hours=3)
EMPTY = pl.DataFrame(
    {"timestamp_utc": [], "price": []}, schema={"timestamp_utc": pl.Int64, "price": pl.Float64}
)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Wednesday 2025-11-26 closes 21:00 UTC (16:00 New York): expected from 00:00 UTC + 3 h.
        ("2025-11-26 23:59", "2025-11-25"),
        ("2025-11-27 00:00", "2025-11-26"),
        # Thanksgiving (2025-11-27) is a holiday: all day the 26th stays the expected session.
        ("2025-11-27 23:00", "2025-11-26"),
        # Friday 2025-11-28 closes early, 13:00 New York = 18:00 UTC: expected from 21:00 UTC.
        ("2025-11-28 20:59", "2025-11-26"),
        ("2025-11-28 21:00", "2025-11-28"),
        # The weekend expects Friday's session.
        ("2025-11-30 12:00", "2025-11-28"),
    ],
)
def test_expected_session_follows_the_exchange_calendar(now, expected):
    assert expected_latest_session(utc(now), GRACE) == dt.date.fromisoformat(expected)


def _store(tmp_path, sessions: dict[str, list[str]]) -> CacheStore:
    cache = CacheStore(url=str(tmp_path / "cache"))
    for ticker, days in sessions.items():
        for day in days:
            cache.write_frame(partition_path(SERIES_PREFIX, ticker, day), EMPTY)
    return cache


def test_ticker_missing_the_latest_session_is_stale(tmp_path):
    cache = _store(
        tmp_path,
        {"SPY": ["2025-11-25", "2025-11-26", "2025-11-28"], "QQQ": ["2025-11-25", "2025-11-26"]},
    )
    expected, stale = stale_tickers(cache, ["SPY", "QQQ", "IWM"], utc("2025-11-29 12:00"), GRACE)
    assert expected == dt.date(2025, 11, 28)
    assert stale == [
        StaleTicker("QQQ", dt.date(2025, 11, 26), dt.date(2025, 11, 28)),
        StaleTicker("IWM", None, dt.date(2025, 11, 28)),
    ]
    # On the holiday nobody is late for a session that does not exist.
    assert stale_tickers(cache, ["SPY", "QQQ"], utc("2025-11-27 22:00"), GRACE)[1] == []


def test_check_fails_in_the_ui_naming_the_stale_tickers(tmp_path, monkeypatch):
    # Every ticker one session behind "now" (whatever today is): QQQ has nothing newer.
    now = dt.datetime.now(dt.UTC)
    expected = expected_latest_session(now, GRACE)
    cache = _store(tmp_path, {"SPY": [expected.isoformat()], "QQQ": ["2020-01-02"]})
    monkeypatch.setenv("ORB_FRESHNESS_GRACE_MINUTES", "180")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKERS_PARTITIONS_NAME, ["SPY", "QQQ"])
        defs = dg.Definitions(
            asset_checks=[fresh_after_close],
            jobs=[freshness_check_job],
            resources={"cache": cache},
        )
        result = defs.resolve_job_def("freshness_check_job").execute_in_process(instance=instance)
        assert result.success  # the run completes; the check's failure is what the UI shows
        (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "fresh_after_close" and not evaluation.passed
    assert evaluation.description == (
        f"1 of 2 tickers lack session {expected}: QQQ (latest 2020-01-02)"
    )
    assert evaluation.metadata["stale_tickers"].value == [
        {"ticker": "QQQ", "latest_session": "2020-01-02"}
    ]
