"""docs/SEMANTICS_EXTENSIONS.md rule by rule on hand-computed sessions (and the plain-Python
reference), through the engine's public API."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from orb_pipeline import engine
from orb_pipeline_tests.engine import reference
from orb_pipeline_tests.validation.test_engine_reference import OPEN, frames, random_sessions


def one_session(ticks: list[tuple[int, float]], expected_move: float | None = None) -> list[dict]:
    return [
        {
            "ticks": [(OPEN + t, p) for t, p in ticks],
            "open_utc": OPEN,
            "expected_move": expected_move,
        }
    ]


def params(stop, limit, stops=1, cooloff=0) -> dict:
    return {
        "range_seconds": 10,
        "stop_distance": stop,
        "stop_count_limit": stops,
        "stop_cooloff_period": cooloff,
        "limit_distance": limit,
    }


def trades_of(sessions, p, **kwargs) -> list[tuple[str, str, float]]:
    series, table = frames(sessions)
    ledger = engine.ledger(series, table, p, **kwargs)
    return list(zip(ledger["side"], ledger["exit_reason"], ledger["profit"], strict=True))


def test_percent_distance_rounds_a_tie_half_away_from_zero():
    # Long entry at $100.0050 = 1,000,050 units; 1 % = 10,000.5 units -> 10,001: stop at $99.0049.
    # Half-to-even (10,000) would stop at the $99.0050 tick with -1.0000 instead.
    sessions = one_session(
        [(0, 100.0), (5, 100.0), (20, 100.005), (30, 99.005), (40, 99.0049), (100, 99.0)]
    )
    assert trades_of(sessions, params(1.0, 2.0), distance_unit="percent") == [
        ("long", "stop", -1.0001)
    ]
    assert reference.distance("percent", 1.0, 1_000_050, None) == 10_001
    # 0.5 % of $100.01 is the tie 5,000.5 units on the integer rule (through dollars: 5,000.4999...).
    assert reference.distance("percent", 0.5, 1_000_100, None) == 5_001


def test_distance_rounding_to_zero_units_exits_at_the_entry_price():
    # 0.00001 % of $100.01 = 0.1 units -> 0: stop = limit = entry; the next tick at the entry
    # price exits at the limit (checked first) with 0 profit, and the session ends.
    sessions = one_session([(0, 100.0), (20, 100.01), (30, 100.01), (40, 99.0), (100, 99.5)])
    assert trades_of(sessions, params(0.00001, 0.00001), distance_unit="percent") == [
        ("long", "limit", 0.0)
    ]


def test_expected_move_multiples():
    # expected move $0.50: stop 1.5 x = 7,500 units, limit 3 x = 15,000 units.
    sessions = one_session(
        [
            (0, 100.0),
            (20, 99.99),
            (30, 100.7399),
            (40, 100.74),
            (50, 99.98),
            (60, 98.48),
            (100, 98.0),
        ],
        expected_move=0.5,
    )
    assert trades_of(sessions, params(1.5, 3.0, stops=2), distance_unit="expected_move") == [
        ("short", "stop", -0.75),
        ("short", "limit", 1.5),
    ]


def test_costs_per_side_in_bps_and_dollars():
    sessions = one_session([(0, 99.99), (20, 100.0), (30, 100.5), (100, 100.4)])
    # 2 x $0.005 + 2 bps x ($100.00 + $100.50) = $0.0501 -> net 0.5000 - 0.0501.
    bps = engine.Costs(commission_per_share=0.005, slippage=2.0, slippage_unit="bps")
    assert trades_of(sessions, params(0.2, 0.5), costs=bps) == [("long", "limit", 0.4499)]
    # 2 x $0.01 + 2 x $0.02 = $0.06.
    dollars = engine.Costs(commission_per_share=0.01, slippage=0.02)
    assert trades_of(sessions, params(0.2, 0.5), costs=dollars) == [("long", "limit", 0.44)]


def test_costs_turn_a_small_winner_into_a_loser_in_every_metric():
    sessions = one_session([(0, 99.99), (20, 100.0), (30, 100.01), (100, 100.0)])
    series, table = frames(sessions)
    grid = engine.make_grid(**{k: v for k, v in params(0.2, 0.01).items()})
    plain = engine.sweep(series, table, grid).row(0, named=True)
    costly = engine.sweep(series, table, grid, costs=engine.Costs(0.01)).row(0, named=True)
    assert (plain["total_profit"], plain["win_rate_percent"], plain["trade_win_rate_percent"]) == (
        0.01,
        100.0,
        100.0,
    )
    assert plain["profit_factor"] is None  # no losing trade
    assert costly["trades"] == plain["trades"] == 1
    assert (
        costly["total_profit"],
        costly["win_rate_percent"],
        costly["trade_win_rate_percent"],
    ) == (-0.01, 0.0, 0.0)
    assert costly["profit_factor"] == 0.0 and costly["max_drawdown"] == 0.01


def test_session_without_expected_move_is_excluded_not_flat():
    rng = np.random.default_rng(31)
    sessions = random_sessions(rng, count=3, ticks=150)
    for session in sessions:
        session["expected_move"] = 0.4
    sessions[1]["expected_move"] = None
    series, table = frames(sessions)
    grid = engine.make_grid(
        range_seconds=[10, 30],
        stop_distance=[0.1, 0.4],
        stop_count_limit=[1, 2],
        stop_cooloff_period=0,
        limit_distance=[0.2, 1.0],
    )
    with_gap = engine.sweep(series, table, grid, distance_unit="expected_move")
    kept = table["session_date"].gather([0, 2])
    without = engine.sweep(
        series.filter(pl.col("session_date").is_in(kept.to_list())),
        table.filter(pl.col("session_date").is_in(kept.to_list())),
        grid,
        distance_unit="expected_move",
    )
    assert with_gap.equals(without)
    assert engine.count_skipped_sessions(table, "expected_move") == 1
    assert engine.count_skipped_sessions(table, "dollars") == 0
    stats = engine.session_stats(series, table, grid, distance_unit="expected_move")
    assert stats.session_dates.to_list() == kept.to_list()


@pytest.mark.parametrize("bad", [0.0, -0.3, float("inf")])
def test_expected_move_must_be_positive_or_null(bad):
    sessions = one_session([(0, 100.0), (20, 100.5), (100, 100.0)], expected_move=bad)
    series, table = frames(sessions)
    grid = engine.make_grid(**params(1.0, 1.0))
    with pytest.raises(ValueError, match="expected_move"):
        engine.sweep(series, table, grid, distance_unit="expected_move")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"commission_per_share": -0.01}, "commission_per_share"),
        ({"slippage": float("nan")}, "slippage"),
        ({"slippage_unit": "percent"}, "slippage_unit"),
    ],
)
def test_bad_costs_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        engine.Costs(**kwargs)


def test_bad_distance_unit_and_costs_type_are_named():
    series, table = frames(one_session([(0, 100.0), (20, 100.5), (100, 100.0)]))
    grid = engine.make_grid(**params(1.0, 1.0))
    with pytest.raises(ValueError, match="distance_unit"):
        engine.sweep(series, table, grid, distance_unit="ticks")
    with pytest.raises(ValueError, match="costs"):
        engine.sweep(series, table, grid, costs={"commission_per_share": 0.01})
