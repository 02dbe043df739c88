"""Property tests: the engine against the plain-Python reference on generated windows.

Prices sit on a coarse grid (multiples of $0.05 around 100) and distances are multiples of
$0.05, so ticks touch stops, limits and range extremes exactly; ticks are 1 s apart with halts
(gaps), so a tick lands exactly on ``cool_until`` often. Sessions may have no tick at all, no tick
in the range window, or a breakout on their last tick.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orb_pipeline.engine import Costs, KernelLimits, aggregate, ledger, session_stats, sweep
from orb_pipeline_tests.engine import reference
from orb_pipeline_tests.engine.frames import day, series_frame, sessions_frame

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def windows(draw, expected_move=False, shared_seconds=False):
    n_sessions = draw(st.integers(1, 4))
    ticks, sessions = [], []
    for i in range(n_sessions):
        open_utc = 100_000 + i * 86_400
        session = {"session_date": day(i), "open_utc": open_utc, "close_utc": open_utc + 120}
        if expected_move:
            session["expected_move"] = draw(st.sampled_from([None, 0.5, 1.0, 2.5]))
        sessions.append(session)
        n_ticks = draw(st.integers(0, 40))
        offsets = draw(
            st.lists(
                st.integers(0, 120), min_size=n_ticks, max_size=n_ticks, unique=not shared_seconds
            )
        )
        if draw(st.booleans()):  # a halt: no tick in a stretch of the session
            gap_from = draw(st.integers(0, 100))
            offsets = [o for o in offsets if not gap_from <= o < gap_from + 40]
        levels = draw(st.lists(st.integers(-8, 8), min_size=len(offsets), max_size=len(offsets)))
        for offset, level in zip(sorted(offsets), levels, strict=True):
            ticks.append((day(i), open_utc + offset, round(100 + 0.05 * level, 2)))
    return ticks, sessions


distances = st.sampled_from([0.05, 0.1, 0.15, 0.2, 0.35])
param_sets = st.fixed_dictionaries(
    {
        "range_seconds": st.sampled_from([1, 5, 10, 30]),
        "stop_distance": distances,
        "stop_count_limit": st.integers(1, 3),
        "stop_cooloff_period": st.sampled_from([0, 1, 3, 10]),
        "limit_distance": distances,
    }
)
costs_strategy = st.one_of(
    st.none(),
    st.builds(
        Costs,
        commission_per_share=st.sampled_from([0.0, 0.005, 0.01]),
        slippage=st.sampled_from([0.0, 0.0049, 0.01]),
    ),
    st.builds(
        Costs,
        commission_per_share=st.sampled_from([0.0, 0.005]),
        slippage=st.sampled_from([0.5, 1.0, 2.5]),
        slippage_unit=st.just("bps"),
    ),
)


def _grid(rows):
    return pl.DataFrame(
        rows,
        schema={
            "range_seconds": pl.Int64,
            "stop_distance": pl.Float64,
            "stop_count_limit": pl.Int64,
            "stop_cooloff_period": pl.Int64,
            "limit_distance": pl.Float64,
        },
    )


def _costs_dict(costs):
    if costs is None:
        return None
    return {
        "commission_per_share": costs.commission_per_share,
        "slippage": costs.slippage,
        "slippage_unit": costs.slippage_unit,
    }


def assert_metrics_equal(row, expected):
    assert set(row) >= set(expected)
    for name in ("trades", "stops", "days_traded", "longest_drawdown_sessions"):
        assert row[name] == expected[name], name
    for name in ("total_profit", "max_drawdown", "gross_profit"):
        assert row[name] == pytest.approx(expected[name], abs=1e-9), name
    for name in (
        "win_rate_percent",
        "trade_win_rate_percent",
        "average_holding_period",
        "sharpe",
        "expectancy",
        "return_percent",
        "exposure",
    ):
        assert row[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-9), name
    # Moments of integer-valued nets: the engine works in units, the reference in dollars.
    for name in ("pnl_skewness", "pnl_kurtosis"):
        assert row[name] == pytest.approx(expected[name], rel=1e-7, abs=1e-7), name
    for name in ("profit_factor", "profit_r", "sortino", "calmar"):
        if expected[name] is None:
            assert row[name] is None, name
        else:
            assert row[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-12), name


def reference_metrics(window, chosen=None):
    """``reference.metrics`` of a ``reference.run_window`` result (all sessions, or the indices
    ``chosen``), with the session lengths the exposure needs."""
    picked = window if chosen is None else [window[i] for i in chosen]
    return reference.metrics(
        [trades for _, trades in picked], [s["close_utc"] - s["open_utc"] for s, _ in picked]
    )


def check_window(ticks, sessions, grid_rows, kind, costs):
    series, frame = series_frame(ticks), sessions_frame(sessions)
    grid = _grid(grid_rows)
    result = sweep(series, frame, grid, costs=costs, distance_unit=kind)
    assert result.select(grid.columns).equals(grid)
    per_combo = [
        reference.run_window(ticks, sessions, p, kind=kind, costs=_costs_dict(costs))
        for p in grid_rows
    ]
    for row, window in zip(result.iter_rows(named=True), per_combo, strict=True):
        assert_metrics_equal(row, reference_metrics(window))
    return series, frame, grid, result, per_combo


def expected_ledger(window):
    """``engine.ledger`` rows of a ``reference.run_window`` result."""
    return [
        (
            s["session_date"],
            tr["side"],
            tr["entry_utc"],
            tr["entry_units"] / 10000,
            tr["exit_utc"],
            tr["exit_units"] / 10000,
            tr["exit_reason"],
            tr["net"] / 10000,
            tr["exit_utc"] - tr["entry_utc"],
            tr["gross"] / 10000,
            reference.trade_return_percent(tr),
            reference.trade_r_multiple(tr),
        )
        for s, trades in window
        for tr in trades
    ]


@SETTINGS
@given(
    window=windows(), grid_rows=st.lists(param_sets, min_size=1, max_size=6), costs=costs_strategy
)
def test_sweep_and_ledger_match_reference_in_dollars(window, grid_rows, costs):
    ticks, sessions = window
    series, frame, _, _, per_combo = check_window(ticks, sessions, grid_rows, "dollars", costs)
    got = ledger(series, frame, grid_rows[0], costs=costs)
    assert got.rows() == expected_ledger(per_combo[0])


@SETTINGS
@given(
    window=windows(),
    grid_rows=st.lists(param_sets, min_size=1, max_size=4),
    costs=costs_strategy,
    percents=st.lists(st.sampled_from([0.05, 0.1, 0.2, 0.3]), min_size=2, max_size=2),
)
def test_percent_distances_match_reference(window, grid_rows, costs, percents):
    ticks, sessions = window
    for row in grid_rows:  # percent of a ~$100 price: 0.05 % = $0.05
        row["stop_distance"], row["limit_distance"] = percents
    check_window(ticks, sessions, grid_rows, "percent", costs)


@SETTINGS
@given(
    window=windows(expected_move=True),
    grid_rows=st.lists(param_sets, min_size=1, max_size=4),
    costs=costs_strategy,
)
def test_expected_move_distances_match_reference(window, grid_rows, costs):
    ticks, sessions = window
    if all(s["expected_move"] is None for s in sessions):
        sessions[0]["expected_move"] = 1.0
    check_window(ticks, sessions, grid_rows, "expected_move", costs)


@SETTINGS
@given(
    window=windows(),
    grid_rows=st.lists(param_sets, min_size=1, max_size=6),
    costs=costs_strategy,
    data=st.data(),
)
def test_session_stats_aggregate_on_subsets_match_reference(window, grid_rows, costs, data):
    ticks, sessions = window
    series, frame, grid, result, per_combo = check_window(
        ticks, sessions, grid_rows, "dollars", costs
    )
    stats = session_stats(series, frame, grid, costs=costs)
    assert aggregate(stats).equals(result)
    n = len(sessions)
    subset = sorted(data.draw(st.sets(st.integers(0, n - 1), max_size=n)))
    mask = np.zeros(n, dtype=bool)
    mask[subset] = True
    by_index, by_mask = aggregate(stats, subset), aggregate(stats, mask)
    assert by_index.equals(by_mask)
    for row, window_trades in zip(by_index.iter_rows(named=True), per_combo, strict=True):
        assert_metrics_equal(row, reference_metrics(window_trades, subset))
    # The per-session arrays themselves.
    for c, window_trades in enumerate(per_combo):
        for s, (_, trades) in enumerate(window_trades):
            assert stats.net_units[c, s] == sum(tr["net"] for tr in trades)
            assert stats.trades[c, s] == len(trades)
            assert stats.stops[c, s] == sum(tr["exit_reason"] == "stop" for tr in trades)
            assert stats.holding_seconds[c, s] == sum(
                tr["exit_utc"] - tr["entry_utc"] for tr in trades
            )
            assert stats.gross_units[c, s] == sum(tr["gross"] for tr in trades)
            assert stats.return_percent[c, s] == pytest.approx(
                sum(reference.trade_return_percent(tr) for tr in trades), rel=1e-12, abs=1e-12
            )


@SETTINGS
@given(
    window=windows(shared_seconds=True),
    grid_rows=st.lists(param_sets, min_size=1, max_size=4),
    costs=costs_strategy,
)
def test_ticks_sharing_a_second_match_reference(window, grid_rows, costs):
    """Equal timestamps keep their order (SEMANTICS_EXTENSIONS 4): a breakout is the first tick
    of its second that breaks out, and a position exits at the first tick of the last second."""
    ticks, sessions = window
    series, frame, _, _, per_combo = check_window(ticks, sessions, grid_rows, "dollars", costs)
    got = ledger(series, frame, grid_rows[0], costs=costs)
    assert got.rows() == expected_ledger(per_combo[0])


def test_reference_keeps_the_order_of_ticks_sharing_a_second():
    p = {
        "range_seconds": 10,
        "stop_distance": 0.5,
        "stop_count_limit": 1,
        "stop_cooloff_period": 0,
        "limit_distance": 1.0,
    }
    sessions = [{"session_date": day(0), "open_utc": 1000}]
    # Two breakouts in one second: the first (up) enters long; a sort by price would go short.
    ticks = [
        (day(0), 1000, 100.0),
        (day(0), 1020, 100.1),
        (day(0), 1020, 99.9),
        (day(0), 1100, 100.0),
    ]
    [(_, [trade])] = reference.run_window(ticks, sessions, p)
    assert (trade["side"], trade["entry_units"]) == ("long", 1_001_000)
    # Two ticks at the last second: the position exits at the first of them.
    ticks = [
        (day(0), 1000, 100.0),
        (day(0), 1020, 100.1),
        (day(0), 1050, 100.2),
        (day(0), 1050, 100.05),
    ]
    [(_, [trade])] = reference.run_window(ticks, sessions, p)
    assert (trade["exit_units"], trade["exit_reason"]) == (1_002_000, "eod")


def test_reference_rounding_helper_is_half_away_from_zero():
    assert reference.round_half_away(2.5) == 3 and reference.round_half_away(-2.5) == -3
    assert reference.units(0.00005) == 1 and math.isclose(reference.units(100.2), 1002000)
    # Exact rounding of the float, not floor(abs(y) + 0.5): that sum rounds up to 1.0 here.
    assert reference.round_half_away(0.49999999999999994) == 0
    assert reference.round_half_away(-0.49999999999999994) == 0
    assert reference.units(0.49999999999999994 / 10000) == 0
    assert reference.round_half_away(2.0**52 + 1) == 2**52 + 1


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(window=windows(), grid_rows=st.lists(param_sets, min_size=2, max_size=8))
def test_kernel_fallbacks_give_the_same_results(window, grid_rows):
    """A full exit memo (two-sided searches) and sessions too long for the second-to-tick table
    (galloping) are fallbacks of the fast kernel: same numbers, checked against the reference."""
    ticks, sessions = window
    series, frame = series_frame(ticks), sessions_frame(sessions)
    grid = _grid(grid_rows)
    expected = sweep(series, frame, grid)
    shrunk = KernelLimits(memo_bytes=8, tick_at_seconds=5)
    assert sweep(series, frame, grid, kernel_limits=shrunk).equals(expected)
    stats = session_stats(series, frame, grid, kernel_limits=shrunk)
    assert aggregate(stats).equals(expected)
    for row, p in zip(expected.iter_rows(named=True), grid_rows, strict=True):
        assert_metrics_equal(row, reference_metrics(reference.run_window(ticks, sessions, p)))
