"""Synthetic windows shaped like the window reader's output, on real XNYS sessions, and a writer
that puts them into a Parquet cache where ``orb_pipeline.series.read_window`` finds them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from orb_pipeline.calendar import session_table
from orb_pipeline.core.cache_store import SERIES_PREFIX, CacheStore, partition_path


def make_window(
    n_sessions: int = 20,
    ticks_per_session: int = 400,
    seed: int = 7,
    start: dt.date = dt.date(2025, 1, 2),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(series, sessions)`` for the first ``n_sessions`` XNYS sessions from ``start``: a random
    walk in $0.01 steps, strictly increasing times inside [open, close], no two consecutive equal
    prices within a session; the window reader's column types."""
    sessions = session_table(start, start + dt.timedelta(days=2 * n_sessions + 10)).head(n_sessions)
    assert sessions.height == n_sessions
    rng = np.random.default_rng(seed)
    frames = []
    price = 400.0
    for date, open_utc, close_utc in sessions.select(
        "session_date", "open_utc", "close_utc"
    ).iter_rows():
        times = open_utc + np.sort(
            rng.choice(close_utc - open_utc + 1, size=ticks_per_session, replace=False)
        )
        steps = rng.choice([-3, -2, -1, 1, 2, 3], size=ticks_per_session) * 0.01
        prices = np.round(price + np.cumsum(steps), 2)
        price = float(prices[-1])
        frames.append(
            pl.DataFrame(
                {
                    "session_date": [date] * ticks_per_session,
                    "timestamp_utc": times.astype(np.int64),
                    "price": prices,
                },
                schema={"session_date": pl.Date, "timestamp_utc": pl.Int64, "price": pl.Float64},
            )
        )
    return pl.concat(frames), sessions


def write_cached_window(
    store: CacheStore, ticker: str, series: pl.DataFrame, sessions: pl.DataFrame
) -> None:
    """One compressed-series file per session, where the data stages put them."""
    for (date,) in sessions.select("session_date").iter_rows():
        day = series.filter(pl.col("session_date") == date)
        store.write_frame(partition_path(SERIES_PREFIX, ticker, date.isoformat()), day)
