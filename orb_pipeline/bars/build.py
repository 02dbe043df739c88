"""Warehouse rows -> 1-second bars, and the validity rules the bar checks apply.

Bars of one session: one row per second that has at least one print, sorted by
``timestamp_utc``: ``open``/``close`` are the first/last print of the second in source order
(``timestamp_utc``, then the warehouse's ``id``), ``high``/``low`` the extremes, ``print_count``
the rows; ``atm_iv_sum``/``atm_iv_count`` sum and count the finite implied volatilities of rows
with ``0.4 < |delta| < 0.6`` (what the opening range's IV needs).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

BARS_SCHEMA = {
    "session_date": pl.Date,
    "timestamp_utc": pl.Int64,
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "print_count": pl.Int64,
    "atm_iv_sum": pl.Float64,
    "atm_iv_count": pl.Int64,
}


class BadWarehouseDataError(ValueError):
    """Warehouse rows that must not become bars (names ticker and session)."""


def check_prints(prints: pl.DataFrame, ticker: str, session: dt.date) -> None:
    """Raise ``BadWarehouseDataError`` for null/NaN/infinite/non-positive prices, or rows whose
    source order within a second is not defined (duplicate ``row_order``)."""
    if prints.is_empty():
        return
    price = pl.col("price")
    bad = prints.filter(price.is_null() | price.is_nan() | price.is_infinite() | (price <= 0))
    if bad.height:
        first = bad.row(0, named=True)
        raise BadWarehouseDataError(
            f"{ticker} {session}: {bad.height} warehouse rows with a missing, NaN, infinite or "
            f"non-positive underlying price (first at timestamp_utc={first['timestamp_utc']}, "
            f"price={first['price']})"
        )
    duplicates = prints.select(pl.col("row_order").is_duplicated().sum()).item()
    if duplicates:
        raise BadWarehouseDataError(
            f"{ticker} {session}: {duplicates} warehouse rows share an order-column value, so the "
            "order of prints within a second is undefined"
        )


def _bar_aggregations() -> list[pl.Expr]:
    atm = (
        (pl.col("delta").abs() > 0.4)
        & (pl.col("delta").abs() < 0.6)
        & pl.col("implied_volatility").is_not_null()
        & pl.col("implied_volatility").is_finite()
    )
    return [
        pl.col("price").first().alias("open"),
        pl.col("price").max().alias("high"),
        pl.col("price").min().alias("low"),
        pl.col("price").last().alias("close"),
        pl.len().cast(pl.Int64).alias("print_count"),
        pl.col("implied_volatility").filter(atm).sum().cast(pl.Float64).alias("atm_iv_sum"),
        atm.sum().cast(pl.Int64).alias("atm_iv_count"),
    ]


def bars_from_prints(prints: pl.DataFrame, session: dt.date) -> pl.DataFrame:
    """Bars of one session from its rows (``timestamp_utc``, ``row_order``, ``price``, ``delta``,
    ``implied_volatility``), in any order: rows are sorted by (``timestamp_utc``, ``row_order``).
    The per-session reference of ``bars_by_session``."""
    if prints.is_empty():
        return pl.DataFrame(schema=BARS_SCHEMA)
    return (
        prints.sort(["timestamp_utc", "row_order"])
        .group_by("timestamp_utc", maintain_order=True)
        .agg(_bar_aggregations())
        .with_columns(pl.lit(session, dtype=pl.Date).alias("session_date"))
        .select(list(BARS_SCHEMA))
        .cast(BARS_SCHEMA)
    )


def bars_by_session(prints: pl.DataFrame) -> dict[dt.date, pl.DataFrame]:
    """``{session_date: bars}`` of many sessions' rows (``session_date`` plus the columns of
    ``bars_from_prints``) in one group-by; each frame equals ``bars_from_prints`` of that
    session's rows. Sessions without rows are absent."""
    if prints.is_empty():
        return {}
    bars = (
        prints.sort(["timestamp_utc", "row_order"])
        .group_by("session_date", "timestamp_utc", maintain_order=True)
        .agg(_bar_aggregations())
        .select(list(BARS_SCHEMA))
        .cast(BARS_SCHEMA)
    )
    return {key[0]: frame for key, frame in bars.partition_by("session_date", as_dict=True).items()}


def check_session_prints(prints: pl.DataFrame, ticker: str) -> None:
    """``check_prints`` over many sessions' rows at once (with ``session_date``); the error names
    the session of the first bad row."""
    if prints.is_empty():
        return
    price = pl.col("price")
    bad = prints.filter(price.is_null() | price.is_nan() | price.is_infinite() | (price <= 0))
    if bad.height:
        first = bad.sort("timestamp_utc").row(0, named=True)
        check_prints(
            bad.filter(pl.col("session_date") == first["session_date"]),
            ticker,
            first["session_date"],
        )
    duplicated = prints.filter(pl.col("row_order").is_duplicated())
    if duplicated.height:
        day = duplicated.sort("timestamp_utc")["session_date"][0]
        check_prints(prints.filter(pl.col("session_date") == day), ticker, day)
        raise BadWarehouseDataError(
            f"{ticker}: {duplicated.height} warehouse rows of different sessions share an "
            "order-column value, so the order of prints is undefined"
        )


def bars_problems(bars: pl.DataFrame, open_utc: int | None, close_utc: int | None) -> list[str]:
    """What is wrong with one session's stored bars (empty list when valid)."""
    if bars.is_empty():
        return []
    problems = []
    times = bars["timestamp_utc"]
    if open_utc is None:
        problems.append("bars exist on a date that is not an exchange session")
    elif times.min() < open_utc or times.max() > close_utc:
        problems.append(f"timestamps outside the session [{open_utc}, {close_utc}]")
    if bars.height > 1 and not (times.diff().drop_nulls() > 0).all():
        problems.append("timestamps not strictly increasing")
    for column in ("open", "high", "low", "close"):
        values = bars[column]
        if values.null_count() or not (values.is_finite() & (values > 0)).all():
            problems.append(f"{column} not finite and positive")
    if not (bars["high"] >= bars["low"]).all():
        problems.append("high below low")
    return problems
