"""``read_opening_ranges``: a ticker's stored opening ranges over a window of sessions."""

from __future__ import annotations

import datetime as dt

import polars as pl

from orb_pipeline.calendar import DEFAULT_EXCHANGE
from orb_pipeline.core.cache_store import RANGES_PREFIX, CacheStore
from orb_pipeline.core.lineage import OPENING_RANGES
from orb_pipeline.ranges.build import RANGES_SCHEMA
from orb_pipeline.series.reader import read_stage_files


def read_opening_ranges(
    store: CacheStore,
    ticker: str,
    first_session: dt.date | str,
    last_session: dt.date | str,
    *,
    range_seconds: int | None = None,
    exchange: str = DEFAULT_EXCHANGE,
) -> pl.DataFrame:
    """One row per (exchange session of the inclusive window, stored range length), sorted by
    (``session_date``, ``range_seconds``); columns ``RANGES_SCHEMA`` (see ``ranges.build``).

    With ``range_seconds``, only that length; ``LookupError`` naming the sessions where it was not
    materialized (re-materialize ``opening_ranges`` with that length in its config).
    """
    sessions, frames, _ = read_stage_files(
        store,
        RANGES_PREFIX,
        OPENING_RANGES.to_user_string(),
        ticker,
        first_session,
        last_session,
        exchange,
    )
    if not frames:
        return pl.DataFrame(schema=RANGES_SCHEMA)
    ranges = pl.concat([frame.select(list(RANGES_SCHEMA)).cast(RANGES_SCHEMA) for frame in frames])
    if range_seconds is not None:
        ranges = ranges.filter(pl.col("range_seconds") == range_seconds)
        absent = sorted(set(sessions["session_date"]) - set(ranges["session_date"]))
        if absent:
            shown = ", ".join(day.isoformat() for day in absent[:10])
            raise LookupError(
                f"opening_ranges of {ticker} has no {range_seconds}-second range for "
                f"{len(absent)} session(s): {shown}"
            )
    return ranges.sort(["session_date", "range_seconds"])
