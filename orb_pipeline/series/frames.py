"""Schema and validity rules of the compressed series (shared by the asset, its checks and the reader)."""

from __future__ import annotations

import polars as pl

SERIES_SCHEMA = {"session_date": pl.Date, "timestamp_utc": pl.Int64, "price": pl.Float64}


def series_problems(series: pl.DataFrame, open_utc: int | None, close_utc: int | None) -> list[str]:
    """What is wrong with one session's series (empty list when valid)."""
    if series.is_empty():
        return []
    problems = []
    times = series["timestamp_utc"]
    if open_utc is None:
        problems.append("ticks on a date that is not an exchange session")
    elif times.min() < open_utc or times.max() > close_utc:
        problems.append(f"timestamps outside the session [{open_utc}, {close_utc}]")
    if series.height > 1 and not (times.diff().drop_nulls() > 0).all():
        problems.append("timestamps not strictly increasing")
    prices = series["price"]
    if prices.null_count() or not (prices.is_finite() & (prices > 0)).all():
        problems.append("prices not finite and positive")
    return problems
