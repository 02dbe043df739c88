"""Synthetic windows (compressed series + sessions) shaped like the window reader's output."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl


def make_window(n_sessions: int = 20, ticks_per_session: int = 400, seed: int = 7,
                start: dt.date = dt.date(2024, 1, 2)) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(series, sessions)``: weekday sessions 14:30-21:00 UTC, a random walk in $0.01 steps with
    strictly increasing times and no two consecutive equal prices within a session."""
    rng = np.random.default_rng(seed)
    dates, day = [], start
    while len(dates) < n_sessions:
        if day.weekday() < 5:
            dates.append(day)
        day += dt.timedelta(days=1)
    opens = [int(dt.datetime(d.year, d.month, d.day, 14, 30, tzinfo=dt.UTC).timestamp()) for d in dates]
    frames = []
    price = 400.0
    for date, open_utc in zip(dates, opens, strict=True):
        times = open_utc + np.sort(rng.choice(23400, size=ticks_per_session, replace=False))
        steps = rng.choice([-3, -2, -1, 1, 2, 3], size=ticks_per_session) * 0.01
        prices = np.round(price + np.cumsum(steps), 2)
        price = float(prices[-1])
        frames.append(pl.DataFrame({"session_date": [date] * ticks_per_session,
                                    "timestamp_utc": times.astype(np.int64), "price": prices}))
    series = pl.concat(frames).with_columns(pl.col("session_date").cast(pl.Date))
    sessions = pl.DataFrame({
        "session_date": dates,
        "open_utc": opens,
        "close_utc": [o + 23400 for o in opens],
        "early_close": [False] * n_sessions,
    }, schema={"session_date": pl.Date, "open_utc": pl.Int64, "close_utc": pl.Int64,
               "early_close": pl.Boolean})
    return series, sessions
