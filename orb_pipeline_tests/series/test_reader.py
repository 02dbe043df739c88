"""compressed_series and the window reader, checked against a plain-Python compression."""

from __future__ import annotations

import datetime as dt
import shutil

import dagster as dg
import polars as pl
import pytest

from orb_pipeline.calendar import session_table
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.partitions import materialize_requests, ticker_range_run_requests
from orb_pipeline.series import MissingPartitionsError, read_window
from orb_pipeline_tests.warehouse.seeding import data_assets


def reference_series(rows: pl.DataFrame, ticker: str, sessions: pl.DataFrame) -> list[tuple]:
    """Plain Python: per session, per-second last print in id order, then drop repeats, keep last."""
    out = []
    indexed = rows.with_row_index("id").filter(pl.col("ticker") == ticker)
    for day, open_utc, close_utc in sessions.select(
        "session_date", "open_utc", "close_utc"
    ).iter_rows():
        inside = indexed.filter(pl.col("timestamp_utc").is_between(open_utc, close_utc))
        closes: dict[int, float] = {}
        for _id, t, price in sorted(
            inside.select("id", "timestamp_utc", "underlying").iter_rows(),
            key=lambda r: (r[1], r[0]),
        ):
            closes[t] = price
        bars = sorted(closes.items())
        for index, (t, price) in enumerate(bars):
            if index == 0 or price != bars[index - 1][1] or index == len(bars) - 1:
                out.append((day, t, price))
    return out


@pytest.fixture(scope="module")
def materialized(sqlite_warehouse, tmp_path_factory):
    """One run for the module; tests that change files work on a copy."""
    store = CacheStore(url=str(tmp_path_factory.mktemp("series") / "cache"))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("tickers", ["SPY"])
        results = materialize_requests(
            ticker_range_run_requests("SPY", "2025-11-24", "2025-11-28"),
            assets=data_assets(),
            resources={"warehouse": sqlite_warehouse, "cache": store},
            instance=instance,
        )
        assert [r.success for r in results] == [True]
    return store


def test_window_has_every_session_and_the_reference_series(materialized, seeded_frame):
    window = read_window(materialized, "SPY", "2025-11-24", dt.date(2025, 11, 28))
    series, sessions, version = window  # a 3-tuple
    assert sessions.columns == ["session_date", "open_utc", "close_utc", "early_close"]
    assert sessions["session_date"].to_list() == [dt.date(2025, 11, d) for d in (24, 25, 26, 28)]
    assert sessions.equals(session_table("2025-11-24", "2025-11-28"))
    assert series.schema == pl.Schema(
        {"session_date": pl.Date, "timestamp_utc": pl.Int64, "price": pl.Float64}
    )
    # 24th and 25th have no data: in sessions, not in series.
    assert set(series["session_date"].unique()) == {dt.date(2025, 11, 26), dt.date(2025, 11, 28)}
    assert series.rows() == reference_series(seeded_frame, "SPY", sessions)
    assert (
        len(version) == 64
        and read_window(materialized, "SPY", "2025-11-24", "2025-11-28").data_version == version
    )


def test_data_version_follows_file_contents(materialized, tmp_path):
    shutil.copytree(materialized.url, tmp_path / "copy")
    materialized = CacheStore(url=str(tmp_path / "copy"))
    before = read_window(materialized, "SPY", "2025-11-26", "2025-11-28").data_version
    assert read_window(materialized, "SPY", "2025-11-26", "2025-11-26").data_version != before
    path = "series/SPY/2025-11-28.parquet"
    frame = materialized.read_frame(path)
    materialized.write_frame(path, frame.head(frame.height - 1))
    assert read_window(materialized, "SPY", "2025-11-26", "2025-11-28").data_version != before


def test_missing_sessions_and_bad_arguments_are_named(materialized):
    with pytest.raises(
        MissingPartitionsError, match=r"SPY .* 2 session\(s\) .*2025-11-20, 2025-11-21"
    ):
        read_window(materialized, "SPY", "2025-11-20", "2025-11-26")
    with pytest.raises(MissingPartitionsError, match="QQQ"):
        read_window(materialized, "QQQ", "2025-11-26", "2025-11-26")
    with pytest.raises(ValueError, match="first_session must be"):
        read_window(materialized, "SPY", "26/11/2025", "2025-11-28")
    with pytest.raises(ValueError, match="ticker must be"):
        read_window(materialized, "spy", "2025-11-26", "2025-11-28")


def test_s3_cache_through_dagster_matches_the_local_one(
    materialized, sqlite_warehouse, s3_endpoint
):
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket="orb-cache"
    )
    store = CacheStore(url="s3://orb-cache/orb", s3_endpoint_url=s3_endpoint, s3_region="us-east-1")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("tickers", ["SPY"])
        [result] = materialize_requests(
            ticker_range_run_requests("SPY", "2025-11-24", "2025-11-28"),
            assets=data_assets(),
            resources={"warehouse": sqlite_warehouse, "cache": store},
            instance=instance,
        )
    assert result.success
    assert store.list("series") == [f"series/SPY/2025-11-{d}.parquet" for d in (24, 25, 26, 27, 28)]
    remote = read_window(store, "SPY", "2025-11-24", "2025-11-28")
    local = read_window(materialized, "SPY", "2025-11-24", "2025-11-28")
    assert remote.series.equals(local.series) and remote.sessions.equals(local.sessions)
    assert remote.data_version == local.data_version  # same bytes, same version
