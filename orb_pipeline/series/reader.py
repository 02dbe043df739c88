"""The window reader: a ticker's compressed series over a window of sessions, in the engine's format.

``read_window(store, ticker, first_session, last_session)`` returns ``SeriesWindow(series,
sessions, data_version)``:

- ``series``: ``session_date`` (Date), ``timestamp_utc`` (Int64 s), ``price`` (Float64), sorted by
  (``session_date``, ``timestamp_utc``);
- ``sessions``: **every** exchange session of the inclusive window (also those without data):
  ``session_date``, ``open_utc``, ``close_utc`` (Int64 s), ``early_close``;
- ``data_version``: sha256 hex over the window's stored files (path and content digest, in session
  order), so any change of any session's data changes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import polars as pl

from orb_pipeline.calendar import DEFAULT_EXCHANGE, as_date, session_table
from orb_pipeline.core.cache_store import SERIES_PREFIX, CacheStore, partition_path
from orb_pipeline.core.lineage import COMPRESSED_SERIES
from orb_pipeline.core.tickers import validate_ticker
from orb_pipeline.series.frames import SERIES_SCHEMA


class MissingPartitionsError(LookupError):
    """Sessions of a window whose files have not been materialized (names ticker and sessions)."""


class SeriesWindow(NamedTuple):
    series: pl.DataFrame
    sessions: pl.DataFrame
    data_version: str


def read_stage_files(
    store: CacheStore,
    prefix: str,
    asset_name: str,
    ticker: str,
    first_session: dt.date | str,
    last_session: dt.date | str,
    exchange: str = DEFAULT_EXCHANGE,
) -> tuple[pl.DataFrame, list[pl.DataFrame], str]:
    """Sessions of the window, the stored frame of each session (same order) and the data version."""
    validate_ticker(ticker)
    first, last = as_date(first_session, "first_session"), as_date(last_session, "last_session")
    if last < first:
        raise ValueError(f"last_session {last} is before first_session {first}")
    sessions = session_table(first, last, exchange)
    paths = [partition_path(prefix, ticker, day.isoformat()) for day in sessions["session_date"]]

    def fetch(path: str) -> bytes | None:
        try:
            return store.read_bytes(path)
        except FileNotFoundError:
            return None

    # S3 latency dominates small objects: fetch concurrently (local files are fast either way).
    with ThreadPoolExecutor(max_workers=16 if store.is_s3 else 4) as pool:
        contents = list(pool.map(fetch, paths))
    missing = [
        day for day, data in zip(sessions["session_date"], contents, strict=True) if data is None
    ]
    if missing:
        shown = ", ".join(day.isoformat() for day in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise MissingPartitionsError(
            f"{asset_name} for {ticker} is not materialized for {len(missing)} session(s) of "
            f"{first}..{last}: {shown}{more} (store {store.location(prefix)})"
        )
    version = hashlib.sha256()
    for path, data in zip(paths, contents, strict=True):
        version.update(path.encode() + b"\0" + hashlib.sha256(data).digest())
    frames = [store.parse_frame(path, data) for path, data in zip(paths, contents, strict=True)]
    return sessions, frames, version.hexdigest()


def read_window(
    store: CacheStore,
    ticker: str,
    first_session: dt.date | str,
    last_session: dt.date | str,
    *,
    exchange: str = DEFAULT_EXCHANGE,
) -> SeriesWindow:
    """The compressed series of ``ticker`` for every session ``first_session..last_session``
    (inclusive) in the engine's input format; see the module docstring."""
    sessions, frames, data_version = read_stage_files(
        store,
        SERIES_PREFIX,
        COMPRESSED_SERIES.to_user_string(),
        ticker,
        first_session,
        last_session,
        exchange,
    )
    non_empty = [
        frame.select(list(SERIES_SCHEMA)).cast(SERIES_SCHEMA) for frame in frames if frame.height
    ]
    series = pl.concat(non_empty) if non_empty else pl.DataFrame(schema=SERIES_SCHEMA)
    return SeriesWindow(series, sessions, data_version)
