"""opening_ranges, compress_series and the grid builders."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from orb_pipeline.engine import (
    ENGINE_VERSION,
    compress_series,
    default_grid,
    inclusive_range,
    make_grid,
    opening_ranges,
)
from orb_pipeline_tests.engine.frames import day, series_frame, sessions_frame


def test_opening_ranges_inclusive_window_and_empty_sessions():
    ticks = [
        (day(0), 1000, 100.0),
        (day(0), 1005, 101.5),
        (day(0), 1010, 99.5),
        (day(0), 1011, 200.0),
        (day(2), 3000, 50.0),
    ]
    sessions = sessions_frame(
        [{"session_date": day(i), "open_utc": o} for i, o in ((2, 2000), (0, 1000), (1, 5000))]
    )
    frame = opening_ranges(series_frame(ticks), sessions, 10)
    assert frame.rows() == [
        (day(0), 101.5, 99.5, 100.0, 3),
        (day(1), None, None, None, 0),
        (day(2), None, None, None, 0),  # its only tick is 1000 s after the open
    ]
    assert opening_ranges(series_frame(ticks), sessions, 1000)["tick_count"].to_list() == [4, 0, 1]


def _bars(rows):
    return pl.DataFrame(
        rows,
        schema={"session_date": pl.Date, "timestamp_utc": pl.Int64, "close": pl.Float64},
        orient="row",
    )


def test_compress_series_by_hand():
    bars = _bars(
        [
            (day(0), 1, 10.0),
            (day(0), 2, 10.0),
            (day(0), 3, 10.5),
            (day(0), 4, 10.5),
            (day(0), 5, 10.5),
            (day(1), 10, 10.5),
            (day(1), 11, 10.5),
            (day(1), 12, 10.0),
        ]
    )
    out = compress_series(bars)
    assert out.columns == ["session_date", "timestamp_utc", "price"]
    # Day 0: 1 (10.0), 3 (10.5), 5 (last bar kept). Day 1 starts fresh at 10 (same price as the
    # previous day's close), 12 changes price (and is the last bar).
    assert out["timestamp_utc"].to_list() == [1, 3, 5, 10, 12]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3)), max_size=40))
def test_compress_series_matches_a_plain_loop(rows):
    rows = sorted(rows, key=lambda r: r[0])
    bars = _bars([(day(d), i, 10 + 0.25 * c) for i, (d, c) in enumerate(rows)])
    expected = []
    for i, (d, c) in enumerate(rows):
        first = i == 0 or rows[i - 1][0] != d
        last = i == len(rows) - 1 or rows[i + 1][0] != d
        if first or last or rows[i - 1][1] != c:
            expected.append(i)
    assert compress_series(bars)["timestamp_utc"].to_list() == expected


def test_default_grid_is_the_originals():
    grid = default_grid()
    assert grid.height == 19 * 3 * 9 * 19 == 9747
    assert grid["range_seconds"].unique().to_list() == [30]
    assert grid["stop_distance"].unique().sort().to_list() == [i / 10 for i in range(1, 20)]
    assert grid["limit_distance"].unique().sort().to_list() == [float(i) for i in range(1, 20)]
    assert grid["stop_count_limit"].unique().sort().to_list() == [1, 2, 3]
    assert grid["stop_cooloff_period"].unique().sort().to_list() == list(range(30, 271, 30))
    assert grid.unique().height == grid.height
    assert isinstance(ENGINE_VERSION, str) and ENGINE_VERSION


def test_make_grid_order_and_size():
    grid = make_grid(
        range_seconds=[30, 60],
        stop_distance=[0.1, 0.2],
        stop_count_limit=1,
        stop_cooloff_period=[0],
        limit_distance=[1.0, 2.0, 3.0],
    )
    assert grid.rows()[:4] == [
        (30, 0.1, 1, 0, 1.0),
        (30, 0.1, 1, 0, 2.0),
        (30, 0.1, 1, 0, 3.0),
        (30, 0.2, 1, 0, 1.0),
    ]
    assert grid.height == 12
    big = make_grid(
        range_seconds=list(range(1, 101)),
        stop_distance=inclusive_range(0.01, 1, 0.01),
        stop_count_limit=[1, 2, 3],
        stop_cooloff_period=[0, 60],
        limit_distance=inclusive_range(0.5, 10, 0.5),
    )
    assert big.height == 100 * 100 * 3 * 2 * 20
    assert np.all(big["range_seconds"].to_numpy()[:-1] <= big["range_seconds"].to_numpy()[1:])


def test_inclusive_range_is_decimal_exact():
    assert inclusive_range(0.1, 0.3, 0.1) == [0.1, 0.2, 0.3]
    assert inclusive_range(30, 270, 30)[-1] == 270.0
