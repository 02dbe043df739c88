"""Bars from warehouse rows: hand-computed cases and a plain-Python reference (hypothesis)."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orb_pipeline.bars.build import (
    BadWarehouseDataError,
    bars_by_session,
    bars_from_prints,
    bars_problems,
    check_prints,
    check_session_prints,
)

DAY = dt.date(2025, 3, 10)


def prints(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "row_order": pl.Int64,
            "timestamp_utc": pl.Int64,
            "price": pl.Float64,
            "delta": pl.Float64,
            "implied_volatility": pl.Float64,
        },
        orient="row",
    )


def test_hand_computed_bars_keep_source_order_within_a_second():
    rows = prints(
        [
            # row_order, t, price, delta, iv   (given out of order on purpose)
            (4, 100, 10.03, -0.45, 0.30),
            (2, 100, 10.05, 0.10, 0.90),
            (1, 100, 10.02, 0.50, 0.20),
            (3, 100, 10.01, 0.60, 0.50),  # |delta| = 0.6 is not ATM (strict bounds)
            (5, 102, 11.00, 0.41, None),  # null IV: not counted
            (6, 102, 11.00, -0.59, float("nan")),  # NaN IV: not counted
        ]
    )
    bars = bars_from_prints(rows, DAY)
    assert bars.to_dicts() == [
        {
            "session_date": DAY,
            "timestamp_utc": 100,
            "open": 10.02,
            "high": 10.05,
            "low": 10.01,
            "close": 10.03,
            "print_count": 4,
            "atm_iv_sum": pytest.approx(0.5),
            "atm_iv_count": 2,
        },
        {
            "session_date": DAY,
            "timestamp_utc": 102,
            "open": 11.0,
            "high": 11.0,
            "low": 11.0,
            "close": 11.0,
            "print_count": 2,
            "atm_iv_sum": 0.0,
            "atm_iv_count": 0,
        },
    ]
    assert bars_problems(bars, 100, 102) == []
    assert bars_problems(bars, 101, 102) == ["timestamps outside the session [101, 102]"]
    assert bars_problems(bars, None, None) == [
        "bars exist on a date that is not an exchange session"
    ]


@pytest.mark.parametrize("bad", [float("nan"), -1.0, 0.0, None, float("inf")])
def test_bad_prices_name_ticker_and_session(bad):
    rows = prints([(1, 100, 10.0, 0.5, 0.2), (2, 101, bad, 0.5, 0.2)])
    with pytest.raises(BadWarehouseDataError, match="SPY 2025-03-10: 1 warehouse rows"):
        check_prints(rows, "SPY", DAY)


def test_undefined_source_order_is_rejected():
    rows = prints([(1, 100, 10.0, 0.5, 0.2), (1, 100, 10.1, 0.5, 0.2)])
    with pytest.raises(BadWarehouseDataError, match="QQQ 2025-03-10: .*order"):
        check_prints(rows, "QQQ", DAY)


def test_problems_of_unsorted_or_bad_bars():
    bars = bars_from_prints(prints([(1, 100, 10.0, 0.5, 0.2), (2, 101, 10.5, 0.5, 0.2)]), DAY)
    swapped = bars.reverse()
    assert "timestamps not strictly increasing" in bars_problems(swapped, 100, 101)
    negative = bars.with_columns(pl.col("low") * -1)
    assert set(bars_problems(negative, 100, 101)) == {"low not finite and positive"}


def reference_bars(rows: list[tuple]) -> list[dict]:
    """Plain Python: stable sort by time then row order, then one bar per second."""
    ordered = sorted(rows, key=lambda r: (r[1], r[0]))
    out: list[dict] = []
    for _order, t, price, delta, iv in ordered:
        atm = delta is not None and 0.4 < abs(delta) < 0.6 and iv is not None and math.isfinite(iv)
        if out and out[-1]["timestamp_utc"] == t:
            bar = out[-1]
            bar["high"] = max(bar["high"], price)
            bar["low"] = min(bar["low"], price)
            bar["close"] = price
            bar["print_count"] += 1
        else:
            bar = {
                "session_date": DAY,
                "timestamp_utc": t,
                "open": price,
                "high": price,
                "low": price,
                "close": price,
                "print_count": 1,
                "atm_iv_sum": 0.0,
                "atm_iv_count": 0,
            }
            out.append(bar)
        if atm:
            bar["atm_iv_sum"] += iv
            bar["atm_iv_count"] += 1
    return out


row_strategy = st.tuples(
    st.integers(0, 30),
    st.integers(1, 300).map(lambda cents: cents / 100),
    st.one_of(st.none(), st.floats(-1, 1, allow_nan=False)),
    st.one_of(st.none(), st.floats(0.01, 2, allow_nan=False)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(row_strategy, min_size=1, max_size=60), st.randoms(use_true_random=False))
def test_bars_match_the_plain_python_reference(rows, random):
    full = [(order + 1, t, p, d, iv) for order, (t, p, d, iv) in enumerate(rows)]
    random.shuffle(full)
    got = bars_from_prints(prints(full), DAY).to_dicts()
    expected = reference_bars(full)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g["atm_iv_sum"] == pytest.approx(e.pop("atm_iv_sum"))
        g.pop("atm_iv_sum")
        assert g == e


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), row_strategy), min_size=1, max_size=80),
    st.randoms(use_true_random=False),
)
def test_bars_of_many_sessions_in_one_group_by_equal_the_per_session_reference(rows, random):
    days = [DAY + dt.timedelta(days=offset) for offset in range(4)]
    full = [(order + 1, t, p, d, iv, days[day]) for order, (day, (t, p, d, iv)) in enumerate(rows)]
    random.shuffle(full)
    frame = prints([row[:5] for row in full]).with_columns(
        pl.Series("session_date", [row[5] for row in full], dtype=pl.Date)
    )
    together = bars_by_session(frame)
    assert set(together) == {row[5] for row in full}
    for day, bars in together.items():
        alone = bars_from_prints(
            frame.filter(pl.col("session_date") == day).drop("session_date"), day
        )
        assert bars.equals(alone)


def test_checks_over_many_sessions_name_the_session_of_the_bad_row():
    other = DAY + dt.timedelta(days=1)
    frame = prints(
        [(1, 100, 10.0, 0.5, 0.2), (2, 101, 10.0, 0.5, 0.2), (3, 200, -1.0, 0.5, 0.2)]
    ).with_columns(pl.Series("session_date", [DAY, DAY, other], dtype=pl.Date))
    with pytest.raises(BadWarehouseDataError, match="SPY 2025-03-11: 1 warehouse rows"):
        check_session_prints(frame, "SPY")
    repeated = frame.with_columns(pl.Series("row_order", [1, 2, 2]), pl.col("price").abs())
    with pytest.raises(BadWarehouseDataError, match="SPY: 2 warehouse rows of different sessions"):
        check_session_prints(repeated, "SPY")
    check_session_prints(frame.with_columns(pl.col("price").abs()), "SPY")  # valid: no error
