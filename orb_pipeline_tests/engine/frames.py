"""Small builders of the engine's input frames for tests."""

from __future__ import annotations

import datetime as dt

import polars as pl

DAY0 = dt.date(2024, 1, 2)
SERIES_SCHEMA = {"session_date": pl.Date, "timestamp_utc": pl.Int64, "price": pl.Float64}


def day(i: int) -> dt.date:
    return DAY0 + dt.timedelta(days=i)


def series_frame(ticks) -> pl.DataFrame:
    """``ticks``: ``[(session_date, timestamp_utc, price)]`` in time order."""
    return pl.DataFrame(list(ticks), schema=SERIES_SCHEMA, orient="row")


def sessions_frame(sessions) -> pl.DataFrame:
    """``sessions``: dicts with ``session_date``, ``open_utc`` and optional ``close_utc``,
    ``expected_move``."""
    schema = {"session_date": pl.Date, "open_utc": pl.Int64}
    if any("close_utc" in s for s in sessions):
        schema["close_utc"] = pl.Int64
    if any("expected_move" in s for s in sessions):
        schema["expected_move"] = pl.Float64
    rows = [{k: s.get(k) for k in schema} for s in sessions]
    return pl.DataFrame(rows, schema=schema)


def one_session(prices_by_time: dict[int, float], *, open_utc: int = 1000, date=DAY0):
    """Series and sessions frames of a single session opening at ``open_utc``."""
    ticks = [(date, t, p) for t, p in sorted(prices_by_time.items())]
    return series_frame(ticks), sessions_frame(
        [{"session_date": date, "open_utc": open_utc, "close_utc": open_utc + 10_000}]
    )


def params(**overrides) -> dict:
    base = {
        "range_seconds": 10,
        "stop_distance": 0.5,
        "stop_count_limit": 3,
        "stop_cooloff_period": 5,
        "limit_distance": 1.0,
    }
    base.update(overrides)
    return base
