"""Freshness: after each session's close plus a grace period, every ticker has that session stored.

Based on what is stored, not on partition keys (partitions may span a year): a ticker's latest
session is the newest ``series/<ticker>/<YYYY-MM-DD>.parquet`` in the cache (an exchange holiday
is never expected, a stored empty session counts as stored). The expected session is the latest
XNYS session whose close (early closes included) plus ``ORB_FRESHNESS_GRACE_MINUTES`` has passed.

``fresh_after_close`` is an asset check on ``compressed_series`` (the asset page's Checks tab),
run by ``freshness_schedule`` on weekdays after the daily update; a failure is alerted by
``failed_check_alert`` with the stale tickers, their latest session and the expected one.
"""

# No `from __future__ import annotations`: Dagster reads the context and resource annotations.

import datetime as dt
from typing import NamedTuple

import dagster as dg
import polars as pl

from orb_pipeline.calendar import DEFAULT_EXCHANGE, session_table
from orb_pipeline.core import settings
from orb_pipeline.core.cache_store import SERIES_PREFIX, CacheStore
from orb_pipeline.partitions import TICKERS_PARTITIONS_NAME
from orb_pipeline.series.assets import COMPRESSED_SERIES


class StaleTicker(NamedTuple):
    ticker: str
    latest_session: dt.date | None  # None: nothing stored
    expected_session: dt.date


def expected_latest_session(
    now: dt.datetime, grace: dt.timedelta, exchange: str = DEFAULT_EXCHANGE
) -> dt.date | None:
    """The latest session of ``exchange`` whose close + ``grace`` is at or before ``now`` (aware)."""
    today = now.astimezone(dt.UTC).date()
    sessions = session_table(today - dt.timedelta(days=30), today, exchange)
    cutoff = int(now.timestamp()) - int(grace.total_seconds())
    closed = sessions.filter(pl.col("close_utc") <= cutoff)
    return closed["session_date"].max() if closed.height else None


def latest_stored_session(cache: CacheStore, ticker: str) -> dt.date | None:
    """The newest session file of ``ticker``'s compressed series, or None when there is none."""
    dates = []
    for path in cache.list(f"{SERIES_PREFIX}/{ticker}"):
        name = path.rsplit("/", 1)[-1]
        if name.endswith(".parquet"):
            try:
                dates.append(dt.date.fromisoformat(name[: -len(".parquet")]))
            except ValueError:
                continue
    return max(dates) if dates else None


def stale_tickers(
    cache: CacheStore, tickers: list[str], now: dt.datetime, grace: dt.timedelta
) -> tuple[dt.date | None, list[StaleTicker]]:
    """(expected session, the tickers whose latest stored session is older), tickers in order."""
    expected = expected_latest_session(now, grace)
    if expected is None:
        return None, []
    stale = []
    for ticker in tickers:
        latest = latest_stored_session(cache, ticker)
        if latest is None or latest < expected:
            stale.append(StaleTicker(ticker, latest, expected))
    return expected, stale


@dg.asset_check(
    asset=COMPRESSED_SERIES,
    name="fresh_after_close",
    description="Every ticker has the latest XNYS session stored once its close plus "
    "ORB_FRESHNESS_GRACE_MINUTES has passed (holidays and early closes from exchange_calendars).",
)
def fresh_after_close(context: dg.AssetCheckExecutionContext, cache: CacheStore):
    tickers = list(context.instance.get_dynamic_partitions(TICKERS_PARTITIONS_NAME))
    grace = dt.timedelta(minutes=settings.current().freshness_grace_minutes)
    now = dt.datetime.now(dt.UTC)
    expected, stale = stale_tickers(cache, tickers, now, grace)
    names = ", ".join(f"{s.ticker} (latest {s.latest_session or 'none'})" for s in stale[:50]) + (
        f" and {len(stale) - 50} more" if len(stale) > 50 else ""
    )
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{len(stale)} of {len(tickers)} tickers lack session {expected}: {names}"
            if stale
            else f"all {len(tickers)} tickers have session {expected}"
        ),
        metadata={
            "expected_session": str(expected),
            "tickers": len(tickers),
            "stale_tickers": dg.MetadataValue.json(
                [{"ticker": s.ticker, "latest_session": str(s.latest_session)} for s in stale[:500]]
            ),
            "checked_at_utc": now.isoformat(timespec="seconds"),
        },
    )


freshness_check_job = dg.define_asset_job(
    "freshness_check_job",
    selection=dg.AssetSelection.checks(fresh_after_close),
    executor_def=dg.in_process_executor,
    tags={"orb/kind": "freshness", "dagster/max_runtime": "600"},
    description="Checks every ticker has the latest closed session stored (fresh_after_close).",
)

freshness_schedule = dg.ScheduleDefinition(
    name="freshness_schedule",
    job=freshness_check_job,
    # 21:00 New York: the daily update starts at 18:00; the default grace (3 h) ends here.
    cron_schedule="0 21 * * 1-5",
    execution_timezone="America/New_York",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
