"""Getting a ticker's window to the sweep workers: stage it from the Parquet cache, load it back,
and rebuild it from the cache when the staged copy is gone (expired, evicted, flushed).

The window is what ``orb_pipeline.series.read_window`` returns for inclusive session dates
``first..last``: the compressed series, every exchange session, and the data version (a digest of
the stored series files). Nothing here computes on partial data: :meth:`StagingStore.get`
verifies every part against the manifest, and a failed check means a rebuild, never a guess; a
rebuild never substitutes another data version for the one the window was staged with.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

import dagster as dg

from orb_pipeline.core.event_log import latest_materialization
from orb_pipeline.core.lineage import STAGED_WINDOW
from orb_pipeline.staging.resource import (
    StagedDataMissingError,
    StagedWindow,
    StageReport,
    StagingStore,
    StagingUnavailableError,
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


class WindowDataChangedError(ValueError):
    """The cached data of a window changed since it was staged: sweeping it would mix data
    versions in one window's results (the message says what to re-materialize)."""


def load_window(
    staging: StagingStore, cache: Any, ticker: str, expected: WindowRef | None, log: Any = None
) -> tuple[StagedWindow, bool]:
    """The staged window of ``ticker`` and whether it had to be read from the cache instead.

    Looks up ``expected.data_version`` (or the version last staged for ``ticker``); when that is
    missing, malformed or fails verification, rebuilds it from the cache over ``expected``'s
    sessions, stages it again and logs a warning saying so. When the staging server does not
    answer, reads the window from the cache without staging it (warning naming the server).
    Raises :class:`WindowDataChangedError` when the cache now holds another data version than
    ``expected`` names: one window's results must all come from one data version.
    """
    log = log or _LOG
    staging_down = False
    try:
        version = (expected.data_version if expected else None) or staging.current_version(ticker)
        if version:
            return staging.get(ticker, version), False
        reason = "nothing staged for " + ticker + " in " + staging.describe()
    except StagedDataMissingError as missing:
        reason = str(missing)
    except StagingUnavailableError as down:
        reason, staging_down = str(down), True
    if expected is None:
        raise StagedDataMissingError(
            reason
            + "; no window is known to rebuild it from: materialize staged_window for "
            + ticker
            + " first"
        )
    span = f"{ticker} {expected.first_session}..{expected.last_session}"
    log.warning(
        f"{reason}; reading {span} from the Parquet cache"
        + (
            " (not staging it: the staging server is down)"
            if staging_down
            else " and staging it again"
        )
    )
    series, sessions, data_version = read_cached_window(
        cache, ticker, expected.first_session, expected.last_session
    )
    if expected.data_version and data_version != expected.data_version:
        raise WindowDataChangedError(
            f"{ticker}: the cached data of {expected.first_session}..{expected.last_session} "
            f"changed since staged_window staged it (data version {expected.data_version} -> "
            f"{data_version}), and the staged copy is gone; sweeping it would mix two data "
            f"versions in one window. Re-materialize staged_window for {ticker}, then every "
            "sweep_results chunk and the leaderboard"
        )
    if not staging_down:
        try:
            staging.put(ticker, data_version, series, sessions)
        except StagingUnavailableError as down:
            log.warning(f"{down}; using {span} from the Parquet cache without staging it")
    dates = sessions.get_column("session_date")
    window = StagedWindow(
        ticker=ticker,
        data_version=data_version,
        window_start=dates.min(),
        window_end=dates.max(),
        series=series,
        sessions=sessions,
    )
    return window, True


def expected_window(instance: dg.DagsterInstance, ticker: str) -> WindowRef | None:
    """The window and data version of the latest ``staged_window`` materialization of ``ticker``."""
    record = latest_materialization(instance, STAGED_WINDOW, ticker)
    if record is None:
        return None
    metadata = record.asset_materialization.metadata
    return WindowRef(
        first_session=dt.date.fromisoformat(metadata["window_start"].value),
        last_session=dt.date.fromisoformat(metadata["window_end"].value),
        data_version=metadata["data_version"].value,
    )


def load_latest_window(
    context: dg.AssetExecutionContext, staging: StagingStore, cache: Any, ticker: str
) -> tuple[StagedWindow, bool]:
    """:func:`load_window` of the window ``ticker``'s latest ``staged_window`` recorded
    (:func:`expected_window`), logging to the run: ``(window, rebuilt_from_cache)``."""
    return load_window(
        staging, cache, ticker, expected_window(context.instance, ticker), context.log
    )
