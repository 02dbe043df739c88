"""Getting a ticker's window to the sweep workers: stage it from the Parquet cache, load it back,
and rebuild it from the cache when the staged copy is gone (expired, evicted, flushed).

The window is what ``orb_pipeline.series.read_window`` returns for inclusive session dates
``first..last``: the compressed series, every exchange session, and the data version (a digest of
the stored series files). Nothing here computes on partial data: :meth:`StagingStore.get`
verifies every part against the manifest, and a failed check means a rebuild, never a guess.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

from orb_pipeline.staging.resource import (
    StagedDataMissingError,
    StagedWindow,
    StageReport,
    StagingStore,
)

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class WindowRef:
    """Which window a sweep expects: inclusive session dates and (optionally) the data version."""

    first_session: dt.date
    last_session: dt.date
    data_version: str | None = None


def read_cached_window(cache: Any, ticker: str, first: dt.date, last: dt.date):
    """``(series, sessions, data_version)`` from the Parquet cache (the data stages' reader)."""
    from orb_pipeline.series import read_window

    return read_window(cache, ticker, first, last)


def stage_from_cache(
    staging: StagingStore, cache: Any, ticker: str, first: dt.date, last: dt.date
) -> tuple[StageReport, float]:
    """Read the window from the cache and stage it; returns the report and the read seconds."""
    started = time.perf_counter()
    series, sessions, data_version = read_cached_window(cache, ticker, first, last)
    read_seconds = time.perf_counter() - started
    return staging.put(ticker, data_version, series, sessions), read_seconds


def load_window(
    staging: StagingStore, cache: Any, ticker: str, expected: WindowRef | None, log: Any = None
) -> tuple[StagedWindow, bool]:
    """The staged window of ``ticker`` and whether it had to be rebuilt from the cache.

    Looks up ``expected.data_version`` (or the version last staged for ``ticker``); when that is
    missing or fails verification, rebuilds from the cache over ``expected``'s sessions (or the
    sessions the last staged manifest named), stages it again and logs a warning saying so.
    """
    log = log or _LOG
    version = (expected.data_version if expected else None) or staging.current_version(ticker)
    if version:
        try:
            return staging.get(ticker, version), False
        except StagedDataMissingError as missing:
            reason = str(missing)
    else:
        reason = "nothing staged for " + ticker + " in " + staging.describe()
    if expected is None:
        raise StagedDataMissingError(
            reason
            + "; no window is known to rebuild it from: materialize staged_window for "
            + ticker
            + " first"
        )
    log.warning(
        f"{reason}; rebuilding {ticker} {expected.first_session}..{expected.last_session} "
        "from the Parquet cache and staging it again"
    )
    series, sessions, data_version = read_cached_window(
        cache, ticker, expected.first_session, expected.last_session
    )
    if expected.data_version and data_version != expected.data_version:
        log.warning(
            f"{ticker}: the cached data changed since staging (data version {expected.data_version}"
            f" -> {data_version}); sweeping the current data"
        )
    report = staging.put(ticker, data_version, series, sessions)
    window = StagedWindow(
        ticker=ticker,
        data_version=data_version,
        window_start=report.window_start,
        window_end=report.window_end,
        series=series,
        sessions=sessions,
    )
    return window, True
