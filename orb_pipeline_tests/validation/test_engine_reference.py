"""The engine's costs, distance units and per-session reuse against the plain-Python reference
(``orb_pipeline_tests/engine/reference.py``), on small random windows.
Rules: docs/SEMANTICS_EXTENSIONS.md."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orb_pipeline import engine
from orb_pipeline_tests.engine import reference

OPEN = 1_700_000_000


def random_sessions(
    rng: np.random.Generator, count: int, ticks: int, with_iv: float = 1.0
) -> list[dict]:
    sessions = []
    for index in range(count):
        open_utc = OPEN + index * 86_400
        seconds = np.sort(rng.choice(np.arange(0, 600), size=ticks, replace=False))
        cents = 10_000 + np.cumsum(rng.choice([-4, -2, -1, 1, 2, 4], size=ticks))
        keep = np.r_[True, cents[1:] != cents[:-1]]
        keep[-1] = True
        sessions.append(
            {
                "ticks": [
                    (int(open_utc + s), float(c) / 100.0)
                    for s, c in zip(seconds[keep], cents[keep], strict=True)
                ],
                "open_utc": open_utc,
                "expected_move": float(np.round(rng.uniform(0.2, 1.5), 4))
                if rng.random() < with_iv
                else None,
            }
        )
    return sessions


def frames(sessions: list[dict]) -> tuple[pl.DataFrame, pl.DataFrame]:
    dates = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(len(sessions))]
    series = pl.DataFrame(
        {
            "session_date": [d for d, s in zip(dates, sessions, strict=True) for _ in s["ticks"]],
            "timestamp_utc": [t for s in sessions for t, _ in s["ticks"]],
            "price": [p for s in sessions for _, p in s["ticks"]],
        },
        schema={"session_date": pl.Date, "timestamp_utc": pl.Int64, "price": pl.Float64},
    )
    table = pl.DataFrame(
        {
            "session_date": dates,
            "open_utc": [s["open_utc"] for s in sessions],
            "close_utc": [s["open_utc"] + 600 for s in sessions],
            "expected_move": [s["expected_move"] for s in sessions],
        },
        schema={
            "session_date": pl.Date,
            "open_utc": pl.Int64,
            "close_utc": pl.Int64,
            "expected_move": pl.Float64,
        },
    )
    return series, table


def small_grid(distance_unit: str) -> pl.DataFrame:
    distances = {
        "dollars": ([0.05, 0.13, 0.3], [0.08, 0.21, 0.5]),
        "percent": ([0.05, 0.15, 0.3], [0.1, 0.25, 0.5]),
        "expected_move": ([0.05, 0.2, 0.5], [0.1, 0.3, 0.75]),
    }[distance_unit]
    return engine.make_grid(
        range_seconds=[10, 45],
        stop_distance=distances[0],
        stop_count_limit=[1, 3],
        stop_cooloff_period=[0, 20],
        limit_distance=distances[1],
    )


def reference_window(
    sessions: list[dict], params: dict, distance_unit: str = "dollars", costs: dict | None = None
) -> list[list[dict]]:
    """The reference's trades per session of ``random_sessions`` output (chronological; without an
    expected move a session is left out of an ``expected_move`` window)."""
    ticks = [(index, t, p) for index, s in enumerate(sessions) for t, p in s["ticks"]]
    table = [
        {"session_date": index, "open_utc": s["open_utc"], "expected_move": s["expected_move"]}
        for index, s in enumerate(sessions)
    ]
    window = reference.run_window(ticks, table, params, kind=distance_unit, costs=costs)
    return [trades for _, trades in window]


COST_CASES = [
    (0.0, 0.0, "dollars"),
    (0.005, 0.0, "dollars"),
    (0.0035, 0.01, "dollars"),
    (0.001, 2.5, "bps"),
    (0.0, 0.75, "bps"),
]


@pytest.mark.parametrize("distance_unit", ["dollars", "percent", "expected_move"])
@pytest.mark.parametrize(("commission", "slippage", "slippage_unit"), COST_CASES)
def test_sweep_matches_reference(distance_unit, commission, slippage, slippage_unit):
    rng = np.random.default_rng(hash((distance_unit, commission, slippage)) % 2**32)
    sessions = random_sessions(rng, count=6, ticks=120, with_iv=0.7)
    series, table = frames(sessions)
    grid = small_grid(distance_unit)
    costs = engine.Costs(commission, slippage, slippage_unit)
    result = engine.sweep(series, table, grid, costs=costs, distance_unit=distance_unit)
    assert result.height == grid.height
    for row in result.iter_rows(named=True):
        params = {name: row[name] for name in engine.GRID_COLUMNS}
        expected = reference.metrics(
            reference_window(
                sessions,
                params,
                distance_unit,
                {
                    "commission_per_share": commission,
                    "slippage": slippage,
                    "slippage_unit": slippage_unit,
                },
            )
        )
        for name in ("trades", "stops", "days_traded"):
            assert row[name] == expected[name], (name, params)
        for name in (
            "total_profit",
            "win_rate_percent",
            "max_drawdown",
            "trade_win_rate_percent",
            "average_holding_period",
            "sharpe",
        ):
            assert row[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-9), (name, params)
        if expected["profit_factor"] is None:
            assert row["profit_factor"] is None, params
        else:
            assert row["profit_factor"] == pytest.approx(expected["profit_factor"], rel=1e-12), (
                params
            )


def test_zero_costs_identical_to_plain_sweep():
    rng = np.random.default_rng(11)
    series, table = frames(random_sessions(rng, count=5, ticks=150))
    grid = small_grid("dollars")
    plain = engine.sweep(series, table, grid)
    assert engine.sweep(series, table, grid, costs=engine.Costs()).equals(plain)
    assert engine.sweep(series, table, grid, costs=engine.Costs(0.0, 0.0, "bps")).equals(plain)
    assert engine.aggregate(engine.session_stats(series, table, grid)).equals(plain)


def test_costs_never_change_which_trades_happen():
    rng = np.random.default_rng(12)
    sessions = random_sessions(rng, count=4, ticks=150)
    series, table = frames(sessions)
    params = {
        "range_seconds": 10,
        "stop_distance": 0.05,
        "stop_count_limit": 3,
        "stop_cooloff_period": 0,
        "limit_distance": 0.2,
    }
    plain = engine.ledger(series, table, params)
    costly = engine.ledger(series, table, params, costs=engine.Costs(0.01, 5.0, "bps"))
    assert plain.height > 3
    columns = ["session_date", "side", "entry_utc", "exit_utc", "exit_reason"]
    assert costly.select(columns).equals(plain.select(columns))
    # Hand check of the first trade: 2 x $0.01 commission + 5 bps of entry and of exit price.
    first_plain, first_costly = plain.row(0, named=True), costly.row(0, named=True)
    cost = 0.02 + 5.0 / 10000.0 * (first_plain["entry_price"] + first_plain["exit_price"])
    assert first_costly["profit"] == pytest.approx(
        first_plain["profit"] - reference.units(cost) / 10000.0, abs=1e-12
    )


def test_expected_move_grid_skips_sessions_without_iv_and_counts_them():
    rng = np.random.default_rng(13)
    sessions = random_sessions(rng, count=8, ticks=100, with_iv=0.5)
    missing = sum(s["expected_move"] is None for s in sessions)
    assert 0 < missing < 8
    series, table = frames(sessions)
    assert engine.count_skipped_sessions(table, "expected_move") == missing
    stats = engine.session_stats(
        series, table, small_grid("expected_move"), distance_unit="expected_move"
    )
    assert stats.n_sessions == 8 - missing
    with pytest.raises(ValueError, match="expected_move"):
        engine.sweep(
            series,
            table.drop("expected_move"),
            small_grid("expected_move"),
            distance_unit="expected_move",
        )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    percent=st.sampled_from([0.01, 0.05, 0.1, 0.25, 0.5, 0.7, 1.0, 1.5]),
    limit_percent=st.sampled_from([0.02, 0.1, 0.3, 0.5, 1.0, 2.0]),
    cooloff=st.integers(0, 60),
    stop_count_limit=st.integers(1, 3),
)
def test_percent_distances_property(seed, percent, limit_percent, cooloff, stop_count_limit):
    rng = np.random.default_rng(seed)
    sessions = random_sessions(rng, count=3, ticks=80)
    series, table = frames(sessions)
    params = {
        "range_seconds": 15,
        "stop_distance": percent,
        "stop_count_limit": stop_count_limit,
        "stop_cooloff_period": cooloff,
        "limit_distance": limit_percent,
    }
    trades = [t for day in reference_window(sessions, params, "percent") for t in day]
    ledger = engine.ledger(series, table, params, distance_unit="percent")
    assert ledger["exit_reason"].to_list() == [t["exit_reason"] for t in trades]
    assert ledger["entry_utc"].to_list() == [t["entry_utc"] for t in trades]
    assert ledger["exit_utc"].to_list() == [t["exit_utc"] for t in trades]
    assert ledger["profit"].to_list() == pytest.approx(
        [t["net"] / 10000.0 for t in trades], abs=1e-12
    )
