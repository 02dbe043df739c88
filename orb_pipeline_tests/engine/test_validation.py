"""Bad inputs raise ValueError naming the column or parameter."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from orb_pipeline.engine import (
    Costs,
    compress_series,
    count_skipped_sessions,
    default_grid,
    ledger,
    make_grid,
    opening_ranges,
    session_stats,
    sweep,
)
from orb_pipeline_tests.engine.frames import day, one_session, params, series_frame, sessions_frame

SERIES, SESSIONS = one_session({1000: 100.0, 1011: 100.5, 1020: 100.2})
GRID = make_grid(
    range_seconds=10,
    stop_distance=0.5,
    stop_count_limit=1,
    stop_cooloff_period=0,
    limit_distance=1.0,
)


def raises(match, fn, *args, **kwargs):
    with pytest.raises(ValueError, match=match):
        fn(*args, **kwargs)


@pytest.mark.parametrize("column", ["session_date", "timestamp_utc", "price"])
def test_missing_series_column(column):
    raises(column, sweep, SERIES.drop(column), SESSIONS, GRID)


@pytest.mark.parametrize(
    "column, dtype",
    [("timestamp_utc", pl.Float64), ("price", pl.String), ("session_date", pl.String)],
)
def test_mistyped_series_column(column, dtype):
    raises(column, sweep, SERIES.with_columns(pl.col(column).cast(dtype)), SESSIONS, GRID)


@pytest.mark.parametrize("column", ["session_date", "open_utc"])
def test_missing_sessions_column(column):
    raises(column, sweep, SERIES, SESSIONS.drop(column), GRID)


def test_mistyped_sessions_columns():
    raises(
        "open_utc", sweep, SERIES, SESSIONS.with_columns(pl.col("open_utc").cast(pl.Float64)), GRID
    )
    raises(
        "close_utc", sweep, SERIES, SESSIONS.with_columns(pl.col("close_utc").cast(pl.String)), GRID
    )
    raises("session_date", sweep, SERIES, pl.concat([SESSIONS, SESSIONS]), GRID)


def test_unsorted_timestamps():
    raises("timestamp_utc", sweep, SERIES.reverse(), SESSIONS, GRID)


def test_largest_parameters_of_the_domain_run():
    largest = make_grid(
        range_seconds=86_400,
        stop_distance=1_000_000.0,
        stop_count_limit=1_000_000,
        stop_cooloff_period=86_400,
        limit_distance=1_000_000.0,
    )
    assert sweep(SERIES, SESSIONS, largest)["trades"].to_list() == [0]


def test_make_grid_refuses_values_outside_the_domain_and_booleans():
    raises(
        "'stop_distance' must be finite, > 0 and <= 1,000,000",
        make_grid,
        range_seconds=30,
        stop_distance=1e15,
        stop_count_limit=1,
        stop_cooloff_period=0,
        limit_distance=1.0,
    )
    raises(
        "'stop_cooloff_period' must be integers in",
        make_grid,
        range_seconds=30,
        stop_distance=1.0,
        stop_count_limit=1,
        stop_cooloff_period=10**30,
        limit_distance=1.0,
    )
    raises(
        "range_seconds: values must be numbers",
        make_grid,
        range_seconds=True,
        stop_distance=1.0,
        stop_count_limit=1,
        stop_cooloff_period=0,
        limit_distance=1.0,
    )


@pytest.mark.parametrize("price", [0.0, -1.0, float("nan"), float("inf"), 100_000_000.01, 1e15])
def test_bad_prices(price):
    bad = SERIES.with_columns(
        pl.when(pl.col("timestamp_utc") == 1011)
        .then(price)
        .otherwise(pl.col("price"))
        .alias("price")
    )
    raises("price", sweep, bad, SESSIONS, GRID)


def test_null_price():
    bad = SERIES.with_columns(
        pl.when(pl.col("timestamp_utc") == 1011)
        .then(None)
        .otherwise(pl.col("price"))
        .alias("price")
    )
    raises("price", sweep, bad, SESSIONS, GRID)


def test_ticks_outside_their_session():
    other_day = SERIES.with_columns(pl.lit(dt.date(2030, 1, 1)).alias("session_date"))
    raises("session_date", sweep, other_day, SESSIONS, GRID)
    before_open = series_frame([(day(0), 999, 100.0), (day(0), 1011, 100.0)])
    raises("open_utc", sweep, before_open, SESSIONS, GRID)
    after_close = series_frame([(day(0), 1000, 100.0), (day(0), 11_001, 100.0)])
    raises("close_utc", sweep, after_close, SESSIONS, GRID)
    # Without close_utc nothing bounds the session's end.
    sweep(after_close, SESSIONS.drop("close_utc"), GRID)


@pytest.mark.parametrize(
    "column, value",
    [
        ("range_seconds", 0),
        ("stop_distance", 0.0),
        ("stop_distance", -0.1),
        ("limit_distance", 0.0),
        ("limit_distance", float("nan")),
        ("stop_count_limit", 0),
        ("stop_cooloff_period", -1),
        # Beyond what the int64 unit arithmetic holds (issue 15): 1e15 dollars was 1e19 units.
        ("stop_distance", 1e15),
        ("limit_distance", 1e16),
        ("limit_distance", 1e300),
        ("stop_distance", 1_000_000.0001),
        ("range_seconds", 86_401),
        ("stop_cooloff_period", 2**62),
        ("stop_count_limit", 1_000_001),
    ],
)
def test_parameters_outside_their_domain(column, value):
    bad = GRID.with_columns(pl.lit(value).cast(GRID.schema[column]).alias(column))
    raises(column, sweep, SERIES, SESSIONS, bad)
    raises(column, ledger, SERIES, SESSIONS, params(**{column: value}))


def test_grid_columns_and_emptiness():
    raises("stop_count_limit", sweep, SERIES, SESSIONS, GRID.drop("stop_count_limit"))
    raises(
        "range_seconds",
        sweep,
        SERIES,
        SESSIONS,
        GRID.with_columns(pl.col("range_seconds").cast(pl.Float64)),
    )
    raises("empty", sweep, SERIES, SESSIONS, GRID.clear())
    raises(
        "stop_cooloff_period",
        ledger,
        SERIES,
        SESSIONS,
        {k: v for k, v in params().items() if k != "stop_cooloff_period"},
    )
    raises("range_seconds", ledger, SERIES, SESSIONS, params(range_seconds=1.5))


def test_costs_and_distance_units():
    raises("commission_per_share", Costs, commission_per_share=-0.01)
    raises("slippage", Costs, slippage=float("nan"))
    raises("slippage_unit", Costs, slippage_unit="percent")
    raises("costs", sweep, SERIES, SESSIONS, GRID, costs={"slippage": 0.01})
    raises("distance_unit", sweep, SERIES, SESSIONS, GRID, distance_unit="points")
    raises("expected_move", sweep, SERIES, SESSIONS, GRID, distance_unit="expected_move")
    raises("expected_move", count_skipped_sessions, SESSIONS, "expected_move")
    bad_em = SESSIONS.with_columns(pl.lit(-1.0).alias("expected_move"))
    raises("expected_move", session_stats, SERIES, bad_em, GRID, distance_unit="expected_move")


def test_opening_ranges_and_compress_inputs():
    raises("range_seconds", opening_ranges, SERIES, SESSIONS, 0)
    raises("range_seconds", opening_ranges, SERIES, SESSIONS, 2.5)
    bars = SERIES.rename({"price": "close"})
    raises("close", compress_series, SERIES)
    raises("timestamp_utc", compress_series, bars.reverse())
    raises("close", compress_series, bars.with_columns(pl.lit(float("nan")).alias("close")))


def test_default_grid_shape_is_valid():
    assert default_grid().height == 9747
    sweep(SERIES, sessions_frame([{"session_date": day(0), "open_utc": 1000}]), default_grid())
