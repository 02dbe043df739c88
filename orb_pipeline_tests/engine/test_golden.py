"""Hand-computed cases, one per rule of the state machine and per metric (docs/STRATEGY.md).

Sessions open at t = 1000; ``range_seconds = 10`` unless stated, so the range window is
1000..1010 inclusive and ticks from 1011 on are eligible.
"""

from __future__ import annotations

import math

import polars as pl
import pytest

from orb_pipeline.engine import Costs, aggregate, ledger, make_grid, session_stats, sweep
from orb_pipeline_tests.engine.frames import day, one_session, params, series_frame, sessions_frame


def trades_of(prices_by_time, **overrides):
    series, sessions = one_session(prices_by_time)
    kwargs = {k: overrides.pop(k) for k in ("costs", "distance_unit") if k in overrides}
    frame = ledger(series, sessions, params(**overrides), **kwargs)
    return frame.select(
        "side",
        "entry_utc",
        "entry_price",
        "exit_utc",
        "exit_price",
        "exit_reason",
        "profit",
        "holding_seconds",
    ).rows()


def metrics_of(series, sessions, **overrides):
    grid = make_grid(**{k: [v] for k, v in params(**overrides).items()})
    return sweep(series, sessions, grid).row(0, named=True)


RANGE = {1000: 100.00, 1005: 100.10, 1010: 99.95}


def test_long_entry_and_limit_touch_ends_the_session():
    # Range 99.95..100.10. Long at 100.20: stop 99.70, limit 101.20 (touched exactly at 1012).
    ticks = {**RANGE, 1011: 100.20, 1012: 101.20, 1013: 103.00, 1020: 95.0, 1030: 100.0}
    assert trades_of(ticks) == [("long", 1011, 100.20, 1012, 101.20, "limit", 1.0, 1)]


def test_short_entry_and_limit_profit_is_entry_minus_exit():
    # Short at 99.90: stop 100.40, limit 98.90 (crossed at 1015: exit at 98.80, profit +1.10).
    ticks = {**RANGE, 1011: 99.90, 1012: 100.39, 1015: 98.80, 1020: 90.0, 1030: 100.0}
    assert trades_of(ticks) == [("short", 1011, 99.90, 1015, 98.80, "limit", 1.1, 4)]


def test_short_stop_touch_exactly():
    ticks = {**RANGE, 1011: 99.90, 1012: 100.40, 1030: 100.0}
    assert trades_of(ticks, stop_count_limit=1) == [
        ("short", 1011, 99.90, 1012, 100.40, "stop", -0.5, 1)
    ]


def test_range_window_is_inclusive_at_both_ends():
    # 1000 (= open) sets the low, 1010 (= open + R) the high: neither is an entry.
    ticks = {1000: 99.0, 1003: 100.0, 1010: 101.0, 1011: 100.5, 1012: 101.01, 1030: 101.02}
    assert trades_of(ticks) == [("long", 1012, 101.01, 1030, 101.02, "eod", 0.01, 18)]
    # Price equal to the range high is no breakout.
    assert trades_of({1000: 100.0, 1011: 100.0, 1030: 100.0}) == []


def test_no_entry_on_last_tick():
    assert trades_of({**RANGE, 1011: 100.0, 1030: 105.0}) == []


def test_breakout_before_last_time_with_exit_on_last_tick_is_eod():
    ticks = {**RANGE, 1011: 100.0, 1029: 100.20, 1030: 99.0}
    # 99.0 is below the stop (99.70) but the last tick exits as eod.
    assert trades_of(ticks) == [("long", 1029, 100.20, 1030, 99.0, "eod", -1.2, 1)]


def test_entry_tick_is_not_checked_for_an_exit():
    # Percent distances round to 0 units: stop = limit = entry. The entry tick would satisfy
    # p >= limit; only the next tick exits (limit is checked before the stop).
    ticks = {**RANGE, 1011: 100.20, 1012: 100.20, 1030: 100.0}
    assert trades_of(ticks, stop_distance=1e-6, limit_distance=1e-6, distance_unit="percent") == [
        ("long", 1011, 100.20, 1012, 100.20, "limit", 0.0, 1)
    ]


def test_stop_then_cooloff_skips_and_t_equal_cool_until_is_allowed():
    # Long 100.20 stopped at 100.10 (stop distance 0.10) at 1012: cool_until = 1017.
    # 1015 is a breakout inside the cool-off (skipped); 1017 == cool_until enters again.
    ticks = {**RANGE, 1011: 100.20, 1012: 100.10, 1015: 100.50, 1017: 100.40, 1030: 100.60}
    assert trades_of(ticks, stop_distance=0.1) == [
        ("long", 1011, 100.20, 1012, 100.10, "stop", -0.1, 1),
        ("long", 1017, 100.40, 1030, 100.60, "eod", 0.2, 13),
    ]


def test_stop_count_limit_reached_stops_trading():
    ticks = {
        **RANGE,
        1011: 100.20,
        1012: 100.10,
        1020: 100.40,
        1021: 100.30,
        1026: 100.5,
        1030: 100.60,
    }
    two_stops = [
        ("long", 1011, 100.20, 1012, 100.10, "stop", -0.1, 1),
        ("long", 1020, 100.40, 1021, 100.30, "stop", -0.1, 1),
    ]
    assert trades_of(ticks, stop_distance=0.1, stop_count_limit=1) == two_stops[:1]
    assert trades_of(ticks, stop_distance=0.1, stop_count_limit=2) == two_stops
    assert trades_of(ticks, stop_distance=0.1, stop_count_limit=3) == two_stops + [
        ("long", 1026, 100.5, 1030, 100.6, "eod", 0.1, 4)
    ]


def test_no_tick_in_range_window_means_not_traded():
    assert trades_of({1011: 100.0, 1012: 105.0, 1013: 90.0, 1030: 100.0}) == []


def test_costs_are_net_and_do_not_change_trades():
    ticks = {**RANGE, 1011: 100.20, 1012: 101.20, 1030: 100.0}
    # 2 x 0.005 commission + 2 x 0.01 slippage = 0.03 per trade.
    costs = Costs(commission_per_share=0.005, slippage=0.01)
    assert trades_of(ticks, costs=costs)[0][-2] == pytest.approx(0.97)
    # 10 bps of (100.20 + 101.20) = 0.2014.
    bps = Costs(slippage=10, slippage_unit="bps")
    assert trades_of(ticks, costs=bps)[0][-2] == pytest.approx(1.0 - 0.2014)


def test_expected_move_distances_and_skipped_sessions():
    ticks = [(day(0), t, p) for t, p in {**RANGE, 1011: 100.20, 1012: 100.45, 1030: 100.0}.items()]
    ticks += [
        (day(1), 1000 + 86400, 100.0),
        (day(1), 1011 + 86400, 101.0),
        (day(1), 1030 + 86400, 102.0),
    ]
    sessions = sessions_frame(
        [
            {"session_date": day(0), "open_utc": 1000, "expected_move": 0.5},
            {"session_date": day(1), "open_utc": 1000 + 86400, "expected_move": None},
        ]
    )
    # limit 0.5 x expected move 0.5 = 0.25 -> 100.45 is the limit.
    frame = ledger(
        series_frame(ticks), sessions, params(limit_distance=0.5), distance_unit="expected_move"
    )
    assert frame.select("exit_reason", "profit").rows() == [("limit", pytest.approx(0.25))]
    from orb_pipeline.engine import count_skipped_sessions

    assert count_skipped_sessions(sessions, "expected_move") == 1
    assert count_skipped_sessions(sessions, "dollars") == 0


def _three_sessions(nets):
    """One session per net profit (dollars): a long breakout exiting at end of day; 0 is a flat
    session without any tick."""
    ticks, sessions = [], []
    for i, net in enumerate(nets):
        base = 1000 + i * 86400
        sessions.append({"session_date": day(i), "open_utc": base})
        if net != 0:
            ticks += [
                (day(i), base, 100.0),
                (day(i), base + 11, 100.5),
                (day(i), base + 20, 100.5 + net),
            ]
    return series_frame(ticks), sessions_frame(sessions)


def test_metrics_by_hand():
    series, sessions = _three_sessions([1.0, -0.5, 0])
    row = metrics_of(series, sessions, stop_distance=5.0, limit_distance=5.0)
    assert row["total_profit"] == pytest.approx(0.5)
    assert (row["trades"], row["stops"], row["days_traded"]) == (2, 0, 2)
    assert row["win_rate_percent"] == 50.0
    assert row["trade_win_rate_percent"] == 50.0
    assert row["average_holding_period"] == 9.0
    assert row["max_drawdown"] == pytest.approx(0.5)
    # mean 1/6, sample sd sqrt(7/12): (1/6) / sqrt(7/12) * sqrt(252) = sqrt(12).
    assert row["sharpe"] == pytest.approx(math.sqrt(12))
    assert row["profit_factor"] == pytest.approx(2.0)


def test_drawdown_starts_from_zero_and_profit_factor_null_without_losses():
    series, sessions = _three_sessions([-0.3, 1.0, 0.2])
    row = metrics_of(series, sessions, stop_distance=5.0, limit_distance=5.0)
    assert row["max_drawdown"] == pytest.approx(0.3)
    series, sessions = _three_sessions([0.3, 0.3])
    row = metrics_of(series, sessions, stop_distance=5.0, limit_distance=5.0)
    assert row["profit_factor"] is None
    assert row["sharpe"] == 0.0  # no deviation
    assert row["max_drawdown"] == 0.0


def test_no_trades_gives_zero_rates_and_counts_flat_sessions():
    series, sessions = _three_sessions([0, 0, 0])
    row = metrics_of(series, sessions)
    assert (row["trades"], row["days_traded"]) == (0, 0)
    assert row["win_rate_percent"] == 0.0 and row["trade_win_rate_percent"] == 0.0
    assert row["average_holding_period"] == 0.0 and row["profit_factor"] is None
    # Flat sessions count: one +1.0 session among four has mean 0.25 and sd 0.5.
    series, sessions = _three_sessions([1.0, 0, 0, 0])
    row = metrics_of(series, sessions, stop_distance=5.0, limit_distance=5.0)
    assert row["sharpe"] == pytest.approx(0.25 / 0.5 * math.sqrt(252))


def test_single_session_sharpe_is_zero_and_aggregate_matches_sweep():
    series, sessions = _three_sessions([1.0, -0.5, 0])
    grid = make_grid(
        range_seconds=[5, 10],
        stop_distance=[0.2, 5.0],
        stop_count_limit=[1, 2],
        stop_cooloff_period=[0, 30],
        limit_distance=[0.5, 5.0],
    )
    stats = session_stats(series, sessions, grid)
    assert aggregate(stats).equals(sweep(series, sessions, grid))
    first = aggregate(stats, [0])
    assert (first["sharpe"] == 0.0).all()
    assert (
        first.filter(pl.col("limit_distance") == 5.0, pl.col("stop_distance") == 5.0)[
            "total_profit"
        ].to_list()
        == [1.0] * 8
    )
