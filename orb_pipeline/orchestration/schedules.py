"""Daily schedule after the close: the latest session for every ticker, plus a catch-up.

Runs at 18:00 America/New_York, Monday to Friday, for that day's session: two hours after the
regular close (three after an early close), so the warehouse's end-of-day load has landed. The
day's period partition exists (``end_offset=1`` in orb_pipeline/partitions.py) and
``cached_bars`` refuses a session that has not closed. Each tick asks for at most two runs of
``daily_data_job``, each a rectangle of (period, ticker) partitions tagged with the sessions to
build, so a run pulls only those sessions from the warehouse:

1. today's session for every ticker (run key ``daily-<session>``);
2. if any exchange session of the previous ``ORB_CATCH_UP_DAYS`` calendar days (default 10) lacks
   a ``compressed_series`` file for some ticker, one run from the first to the last missed session
   for every ticker (run key ``catch-up-<first>-<last>``; rebuilding a present session rewrites
   the same files).

A weekday that is not an exchange session (a holiday) is skipped with the reason; so is a tick
before any ticker exists (the ticker sensor adds them).
"""

# No `from __future__ import annotations`: Dagster reads the schedule's resource annotation.
import datetime as dt
import zoneinfo

import dagster as dg

from orb_pipeline.calendar import session_table
from orb_pipeline.core import settings
from orb_pipeline.core.cache_store import SERIES_PREFIX, CacheStore
from orb_pipeline.data_stage import stored_sessions
from orb_pipeline.orchestration.jobs import DAILY_DATA_JOB
from orb_pipeline.partitions import (
    SESSION_TIMEZONE,
    TICKERS_PARTITIONS_NAME,
    first_session,
    last_session,
    rectangle_run_request,
)


def catch_up_days() -> int:
    """``ORB_CATCH_UP_DAYS``: how many calendar days back the schedule looks for missed sessions."""
    return settings.current().catch_up_days


def daily_requests(
    instance: dg.DagsterInstance, cache: CacheStore, today: dt.date, lookback_days: int
) -> dg.SkipReason | list[dg.RunRequest]:
    """The run requests of the tick for session ``today`` (see module docstring). Missed sessions
    are those without a ``compressed_series`` file in the cache (what the readers read)."""
    sessions = session_table(today - dt.timedelta(days=lookback_days), today)[
        "session_date"
    ].to_list()
    if today not in sessions:
        return dg.SkipReason(
            f"{today} ({today:%A}) is not an XNYS trading session (exchange holiday)"
        )
    if last_session() and today > dt.date.fromisoformat(last_session()):
        return dg.SkipReason(
            f"{today} is after ORB_LAST_SESSION {last_session()}: nothing to build"
        )
    tickers = list(instance.get_dynamic_partitions(TICKERS_PARTITIONS_NAME))
    if not tickers:
        return dg.SkipReason("no tickers yet: the ticker sensor adds them from the warehouse")
    requests = [rectangle_run_request(today, today, tickers, run_key=f"daily-{today}")]
    earliest = dt.date.fromisoformat(first_session())
    earlier = [day for day in sessions if earliest <= day < today]
    missed: set[dt.date] = set()
    if earlier:
        for ticker in tickers:
            present = stored_sessions(cache, SERIES_PREFIX, ticker)
            missed.update(day for day in earlier if day not in present)
    if missed:
        first, last = min(missed), max(missed)
        requests.append(
            rectangle_run_request(first, last, tickers, run_key=f"catch-up-{first}-{last}")
        )
    return requests


@dg.schedule(
    name="daily_after_close",
    cron_schedule="0 18 * * 1-5",
    execution_timezone=SESSION_TIMEZONE,
    job_name=DAILY_DATA_JOB,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="18:00 New York on weekdays: the day's session for every ticker, and missed "
    "sessions of the last ORB_CATCH_UP_DAYS days; at most two runs.",
)
def daily_after_close(context: dg.ScheduleEvaluationContext, cache: CacheStore):
    tick = context.scheduled_execution_time.astimezone(zoneinfo.ZoneInfo(SESSION_TIMEZONE))
    session = tick.date()
    result = daily_requests(context.instance, cache, session, catch_up_days())
    if isinstance(result, dg.SkipReason):
        context.log.info(result.skip_message)
        return result
    for request in result:
        context.log.info(f"requesting {request.run_key}: {request.tags['orb/sessions']}")
    return result
