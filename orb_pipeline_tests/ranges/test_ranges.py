"""Opening ranges: hand-computed cases and the stored asset against the raw warehouse rows."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl
import pytest

from orb_pipeline.bars.build import bars_from_prints
from orb_pipeline.calendar import session_table
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.partitions import materialize_requests, ticker_range_run_requests
from orb_pipeline.ranges import read_opening_ranges
from orb_pipeline.ranges.build import ranges_problems, session_ranges
from orb_pipeline_tests.warehouse.seeding import data_assets

DAY = dt.date(2025, 3, 10)
OPEN = 1741613400
SESSION = pl.DataFrame({"session_date": [DAY], "open_utc": [OPEN], "close_utc": [OPEN + 23400]})


def prints(rows):
    return pl.DataFrame(
        rows,
        orient="row",
        schema={
            "row_order": pl.Int64,
            "timestamp_utc": pl.Int64,
            "price": pl.Float64,
            "delta": pl.Float64,
            "implied_volatility": pl.Float64,
        },
    )


def series_of(bars):
    return bars.select("session_date", "timestamp_utc", pl.col("close").alias("price"))


def test_hand_computed_window_is_inclusive_and_iv_needs_two_rows():
    bars = bars_from_prints(
        prints(
            [
                (1, OPEN, 10.00, 0.50, 0.20),
                (2, OPEN + 10, 10.40, 0.45, 0.30),
                (
                    3,
                    OPEN + 30,
                    9.80,
                    0.90,
                    0.99,
                ),  # at open + 30: inside the 30 s range; delta not ATM
                (4, OPEN + 31, 20.00, -0.50, 0.50),  # outside the 30 s range
                (5, OPEN + 60, 5.00, 0.55, 0.40),
            ]
        ),
        DAY,
    )
    ranges = session_ranges(series_of(bars), bars, SESSION, [1, 30, 60])
    assert ranges.select(
        "range_seconds", "range_high", "range_low", "open_price", "tick_count"
    ).rows() == [
        (1, 10.0, 10.0, 10.0, 1),
        (30, 10.4, 9.8, 10.0, 3),
        (60, 20.0, 5.0, 10.0, 5),
    ]
    assert ranges["atm_iv_rows"].to_list() == [1, 2, 4]
    assert ranges["atm_iv"][0] is None  # one ATM row: null
    assert ranges["atm_iv"].to_list()[1:] == pytest.approx([0.25, (0.2 + 0.3 + 0.5 + 0.4) / 4])
    assert ranges_problems(ranges) == []


def test_no_tick_in_the_range_is_untraded():
    bars = bars_from_prints(prints([(1, OPEN + 100, 10.0, 0.5, 0.2)]), DAY)
    ranges = session_ranges(series_of(bars), bars, SESSION, [30])
    assert ranges.row(0, named=True)["tick_count"] == 0
    assert (
        ranges.row(0, named=True)["range_high"] is None
        and ranges.row(0, named=True)["atm_iv"] is None
    )
    assert ranges_problems(ranges) == []
    broken = ranges.with_columns(
        pl.lit(3, dtype=pl.Int64).alias("tick_count"),
        pl.lit(2.0).alias("range_high"),
        pl.lit(1.0).alias("range_low"),
        pl.lit(5.0).alias("open_price"),
    )
    assert ranges_problems(broken) == ["open_price outside [range_low, range_high]"]


def reference_range(rows: pl.DataFrame, ticker: str, open_utc: int, seconds: int) -> dict:
    """From the raw warehouse rows: per-second last print (id order), then max/min/first; IV mean."""
    inside = rows.with_row_index("id").filter(
        (pl.col("ticker") == ticker)
        & pl.col("timestamp_utc").is_between(open_utc, open_utc + seconds)
    )
    closes: dict[int, float] = {}
    for _id, t, price in sorted(
        inside.select("id", "timestamp_utc", "underlying").iter_rows(), key=lambda r: (r[1], r[0])
    ):
        closes[t] = price
    prices = [closes[t] for t in sorted(closes)]
    ivs = [
        iv
        for d, iv in inside.select("delta", "implied_volatility").iter_rows()
        if 0.4 < abs(d) < 0.6
    ]
    return {
        "range_high": max(prices),
        "range_low": min(prices),
        "open_price": prices[0],
        "atm_iv": sum(ivs) / len(ivs) if len(ivs) >= 2 else None,
    }


def test_stored_ranges_match_the_raw_rows(sqlite_warehouse, seeded_frame, tmp_path):
    store = CacheStore(url=str(tmp_path / "cache"))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("tickers", ["SPY"])
        [result] = materialize_requests(
            ticker_range_run_requests("SPY", "2025-11-26", "2025-11-28"),
            assets=data_assets(),
            resources={"warehouse": sqlite_warehouse, "cache": store},
            instance=instance,
            run_config={"ops": {"opening_ranges": {"config": {"range_seconds": [300, 30]}}}},
        )
    assert result.success
    ranges = read_opening_ranges(store, "SPY", "2025-11-26", "2025-11-28")
    assert ranges.select("session_date", "range_seconds").rows() == [
        (dt.date(2025, 11, 26), 30),
        (dt.date(2025, 11, 26), 300),
        (dt.date(2025, 11, 28), 30),
        (dt.date(2025, 11, 28), 300),
    ]
    sessions = session_table("2025-11-26", "2025-11-28")
    for row in ranges.iter_rows(named=True):
        open_utc = sessions.filter(pl.col("session_date") == row["session_date"])["open_utc"][0]
        assert row["open_utc"] == open_utc
        expected = reference_range(seeded_frame, "SPY", open_utc, row["range_seconds"])
        assert (
            row["range_high"] == expected["range_high"]
            and row["range_low"] == expected["range_low"]
        )
        assert row["open_price"] == expected["open_price"]
        assert row["atm_iv"] == pytest.approx(expected["atm_iv"])
    only_30 = read_opening_ranges(store, "SPY", "2025-11-26", "2025-11-28", range_seconds=30)
    assert only_30["range_seconds"].to_list() == [30, 30]
    with pytest.raises(LookupError, match="no 60-second range for 2 session"):
        read_opening_ranges(store, "SPY", "2025-11-26", "2025-11-28", range_seconds=60)


def test_default_range_lengths_come_from_the_environment(monkeypatch):
    from orb_pipeline.ranges.assets import OpeningRangesConfig, default_range_seconds

    monkeypatch.delenv("ORB_RANGE_SECONDS", raising=False)
    assert default_range_seconds() == [30]
    monkeypatch.setenv("ORB_RANGE_SECONDS", "30, 60,300")
    assert OpeningRangesConfig().range_seconds == [30, 60, 300]
    monkeypatch.setenv("ORB_RANGE_SECONDS", "30s")
    with pytest.raises(ValueError, match="ORB_RANGE_SECONDS must be comma-separated integers"):
        default_range_seconds()
