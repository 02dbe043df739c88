"""Deterministic backtest ids: stable, sensitive to every input, float-noise free."""

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orb_pipeline.engine import Costs
from orb_pipeline.engine.units import dollars_to_units
from orb_pipeline.results.ids import backtest_id, backtest_ids, window_id_range

START, END = dt.date(2024, 1, 2), dt.date(2024, 12, 31)
PARAMS = {
    "range_seconds": 30,
    "stop_distance": 0.3,
    "stop_count_limit": 2,
    "stop_cooloff_period": 60,
    "limit_distance": 4.0,
}


def test_same_inputs_same_id_and_known_shape():
    first = backtest_id("SPY", START, END, PARAMS, "1")
    assert first == backtest_id("SPY", START, END, dict(PARAMS), "1")
    assert len(first) == 32 and int(first, 16) >= 0


def test_one_window_shares_a_prefix_other_windows_do_not():
    other = {**PARAMS, "limit_distance": 5.0}
    first, second = (backtest_id("SPY", START, END, p, "1") for p in (PARAMS, other))
    assert first[:8] == second[:8] and first[8:] != second[8:]
    assert backtest_id("QQQ", START, END, PARAMS, "1")[:8] != first[:8]


def test_float_noise_in_distances_does_not_change_the_id():
    noisy = {**PARAMS, "stop_distance": 0.1 + 0.2}  # 0.30000000000000004
    assert backtest_id("SPY", START, END, noisy, "1") == backtest_id("SPY", START, END, PARAMS, "1")


def test_every_component_changes_the_id():
    base = backtest_id("SPY", START, END, PARAMS, "1")
    variants = [
        backtest_id("QQQ", START, END, PARAMS, "1"),
        backtest_id("SPY", dt.date(2024, 1, 3), END, PARAMS, "1"),
        backtest_id("SPY", START, dt.date(2024, 12, 30), PARAMS, "1"),
        backtest_id("SPY", START, END, PARAMS, "2"),
    ] + [
        backtest_id("SPY", START, END, {**PARAMS, name: PARAMS[name] + step}, "1")
        for name, step in [
            ("range_seconds", 1),
            ("stop_distance", 0.0001),
            ("stop_count_limit", 1),
            ("stop_cooloff_period", 1),
            ("limit_distance", 0.0001),
        ]
    ]
    assert len(set(variants + [base])) == len(variants) + 1


def test_distances_round_half_away_from_zero():
    assert dollars_to_units(0.00005) == 1
    assert dollars_to_units(-0.00005) == -1
    assert dollars_to_units(1.23444999) == 12344
    assert dollars_to_units(0.1 + 0.2) == 3000
    # x * 10000 is 0.49999999999999994 here: floor(x + 0.5) would give 1 (it rounds 0.5 + x up).
    just_below_half = 0.49999999999999994 / 10000
    assert just_below_half * 10000 < 0.5 and dollars_to_units(just_below_half) == 0


def test_ids_hash_distances_by_the_engine_rounding():
    """A distance just below half a unit hashes as 0 units (not 1), in both paths."""
    start, end = dt.date(2025, 1, 2), dt.date(2025, 3, 31)
    below_half = {**PARAMS, "stop_distance": 0.49999999999999994 / 10000}
    zero, one = ({**PARAMS, "stop_distance": value} for value in (0.0, 0.0001))
    expected = backtest_id("SPY", start, end, zero, "v")
    assert backtest_id("SPY", start, end, below_half, "v") == expected
    assert expected != backtest_id("SPY", start, end, one, "v")
    grid = pl.DataFrame([below_half, zero])
    assert backtest_ids(grid, "SPY", start, end, "v").to_list() == [expected, expected]


def test_cost_model_and_distance_unit_change_the_id_but_not_the_window_prefix():
    base = backtest_id("SPY", START, END, PARAMS, "1")
    assert base == backtest_id("SPY", START, END, PARAMS, "1", costs=Costs())
    assert base == backtest_id("SPY", START, END, PARAMS, "1", costs=Costs(-0.0, 0.0))
    variants = [
        backtest_id("SPY", START, END, PARAMS, "1", distance_unit="percent"),
        backtest_id("SPY", START, END, PARAMS, "1", distance_unit="expected_move"),
        backtest_id("SPY", START, END, PARAMS, "1", costs=Costs(0.005)),
        backtest_id("SPY", START, END, PARAMS, "1", costs=Costs(0.0, 0.01)),
        backtest_id("SPY", START, END, PARAMS, "1", costs=Costs(0.0, 0.01, "bps")),
        backtest_id("SPY", START, END, PARAMS, "1", costs=Costs(0.005, 2.0, "bps")),
    ]
    assert len(set(variants + [base])) == len(variants) + 1
    assert {v[:8] for v in variants} == {base[:8]}
    with pytest.raises(ValueError, match="distance_unit"):
        backtest_id("SPY", START, END, PARAMS, "1", distance_unit="ticks")


@settings(deadline=None)  # the first example may compile the numba BLAKE2b
@given(
    st.lists(
        st.tuples(
            st.integers(1, 3600),
            st.integers(1, 50000),
            st.integers(1, 10),
            st.integers(0, 3600),
            st.integers(1, 50000),
        ),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from([None, Costs(0.005, 2.0, "bps"), Costs(0.01, 0.02)]),
    st.sampled_from(["dollars", "percent"]),
)
def test_vectorized_ids_match_the_scalar_definition(rows, costs, distance_unit):
    grid = pl.DataFrame(
        [(r, s / 10000, c, o, li / 10000) for r, s, c, o, li in rows],
        schema=[
            "range_seconds",
            "stop_distance",
            "stop_count_limit",
            "stop_cooloff_period",
            "limit_distance",
        ],
        orient="row",
    )
    options = {"costs": costs, "distance_unit": distance_unit}
    vectorized = backtest_ids(grid, "SPY", START, END, "1", **options).to_list()
    assert vectorized == [
        backtest_id("SPY", START, END, row, "1", **options) for row in grid.iter_rows(named=True)
    ]


@settings(deadline=None)  # the first example may compile the numba BLAKE2b
@given(
    st.lists(
        st.tuples(
            st.integers(1, 3600),
            st.integers(1, 50000),
            st.integers(1, 10),
            st.integers(0, 3600),
            st.integers(1, 50000),
        ),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(["SPY", "QQQ", "IWM"]),
)
def test_window_id_range_holds_every_id_of_its_window(rows, ticker):
    grid = pl.DataFrame(
        [(r, s / 10000, c, o, li / 10000) for r, s, c, o, li in rows],
        schema=[
            "range_seconds",
            "stop_distance",
            "stop_count_limit",
            "stop_cooloff_period",
            "limit_distance",
        ],
        orient="row",
    )
    low, high = window_id_range(ticker, START, END, "1")
    ids = backtest_ids(grid, ticker, START, END, "1")
    assert ids.is_between(low, high).all()
    other = backtest_ids(grid, ticker, START, dt.date(2024, 12, 30), "1")
    assert not other.is_between(low, high).any()  # prefixes differ (checked: no 32-bit collision)
