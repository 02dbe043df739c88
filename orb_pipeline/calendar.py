"""Exchange sessions from ``exchange_calendars`` (XNYS by default).

Daylight-saving changes, holidays and early closes come from the calendar, never from
"open + 86400" arithmetic. ``exchange_calendars`` builds a calendar for a default span that ends
about a year from today; we always pass explicit bounds (with a margin) so dates far in the past
or future work and results do not depend on the day the code runs.
"""

from __future__ import annotations

import datetime as dt
import warnings
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd
import polars as pl

DEFAULT_EXCHANGE = "XNYS"

SESSION_SCHEMA = {
    "session_date": pl.Date,
    "open_utc": pl.Int64,
    "close_utc": pl.Int64,
    "early_close": pl.Boolean,
}


def as_date(value: dt.date | str, name: str = "date") -> dt.date:
    """A ``datetime.date`` from a date or an ISO ``YYYY-MM-DD`` string; ``ValueError`` names ``name``."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{name} must be a date or 'YYYY-MM-DD', got {value!r}") from None


@lru_cache(maxsize=8)
def _calendar(exchange: str, first_year: int, last_year: int) -> xcals.ExchangeCalendar:
    try:
        with warnings.catch_warnings():
            # exchange_calendars itself triggers a pandas deprecation warning while building.
            warnings.simplefilter("ignore", category=Warning)
            return xcals.get_calendar(
                exchange,
                start=pd.Timestamp(first_year, 1, 1),
                end=pd.Timestamp(last_year, 12, 31),
            )
    except xcals.errors.InvalidCalendarName:
        raise ValueError(f"unknown exchange calendar {exchange!r}") from None


def session_table(
    start: dt.date | str, end: dt.date | str, exchange: str = DEFAULT_EXCHANGE
) -> pl.DataFrame:
    """Every regular session with ``start <= session_date <= end`` (both inclusive).

    Columns: ``session_date`` (Date), ``open_utc`` and ``close_utc`` (Int64 UTC seconds of the
    regular open and close), ``early_close`` (Boolean); sorted by ``session_date``.
    """
    first, last = as_date(start, "start"), as_date(end, "end")
    if last < first:
        raise ValueError(f"end {last} is before start {first}")
    # Whole years with a one-year margin: few distinct calendars to cache, no default-bound surprises.
    calendar = _calendar(exchange, first.year - 1, last.year + 1)
    schedule = calendar.schedule.loc[pd.Timestamp(first) : pd.Timestamp(last)]
    if schedule.empty:
        return pl.DataFrame(schema=SESSION_SCHEMA)
    opens = schedule["open"].dt.tz_convert("UTC").astype("int64") // 10**9
    closes = schedule["close"].dt.tz_convert("UTC").astype("int64") // 10**9
    early = calendar.early_closes
    return pl.DataFrame(
        {
            "session_date": [ts.date() for ts in schedule.index],
            "open_utc": opens.to_numpy(),
            "close_utc": closes.to_numpy(),
            "early_close": schedule.index.isin(early).tolist(),
        },
        schema=SESSION_SCHEMA,
    )


def session_bounds(
    session: dt.date | str, exchange: str = DEFAULT_EXCHANGE
) -> tuple[int, int] | None:
    """``(open_utc, close_utc)`` of a session, or ``None`` when the date is not a session."""
    day = as_date(session, "session")
    table = session_table(day, day, exchange)
    if table.is_empty():
        return None
    return int(table["open_utc"][0]), int(table["close_utc"][0])
