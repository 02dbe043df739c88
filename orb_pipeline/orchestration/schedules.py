"""Daily schedule after the close: the latest session for every ticker, plus a catch-up.

Runs at 18:00 America/New_York, Monday to Friday, for that day's session: two hours after the
regular close (three after an early close), so the warehouse's end-of-day load has landed. The
day's ``session`` partition exists from midnight (``end_offset=1`` in orb_pipeline/partitions.py)
and ``cached_bars`` refuses a session that has not closed. Each tick asks for at most two runs
of ``daily_data_job``, each a rectangle of sessions x every ticker:

1. today's session for every ticker (run key ``daily-<session>``);
2. if any exchange session of the previous ``ORB_CATCH_UP_DAYS`` calendar days (default 10) lacks
   ``compressed_series`` for some ticker, one run from the first to the last missed session for
   every ticker (run key ``catch-up-<first>-<last>``; re-materializing a present partition
   rewrites the same files).

A weekday that is not an exchange session (a holiday) is skipped with the reason; so is a tick
before any ticker exists (the ticker sensor adds them).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import dagster as dg

from orb_pipeline.calendar import session_table
from orb_pipeline.core import settings
from orb_pipeline.orchestration.jobs import COMPRESSED_SERIES, DAILY_DATA_JOB
from orb_pipeline.orchestration.materialized import materialized_partitions
from orb_pipeline.partitions import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    SESSION_TIMEZONE,
    TICKERS_PARTITIONS_NAME,
    first_session,
    session_ticker_key,
)


def catch_up_days() -> int:
    """``ORB_CATCH_UP_DAYS``: how many calendar days back the schedule looks for missed sessions."""
    return settings.current().catch_up_days


def rectangle_request(
    first: dt.date, last: dt.date, tickers: list[str], run_key: str
) -> dg.RunRequest:
    """One run of sessions ``first..last`` (inclusive) x all of ``tickers`` (in partition order)."""
    return dg.RunRequest(
        run_key=run_key,
        tags={
            RANGE_START_TAG: str(session_ticker_key(first, tickers[0])),
            RANGE_END_TAG: str(session_ticker_key(last, tickers[-1])),
            "orb/sessions": f"{first}..{last}",
            "orb/tickers": str(len(tickers)),
        },
    )


def daily_requests(
    instance: dg.DagsterInstance, today: dt.date, lookback_days: int
) -> dg.SkipReason | list[dg.RunRequest]:
    """The run requests of the tick for session ``today`` (see module docstring)."""
    sessions = session_table(today - dt.timedelta(days=lookback_days), today)[
        "session_date"
    ].to_list()
    if today not in sessions:
        return dg.SkipReason(
            f"{today} ({today:%A}) is not an XNYS trading session (exchange holiday)"
        )
    tickers = list(instance.get_dynamic_partitions(TICKERS_PARTITIONS_NAME))
    if not tickers:
        return dg.SkipReason("no tickers yet: the ticker sensor adds them from the warehouse")
    requests = [rectangle_request(today, today, tickers, f"daily-{today}")]
    earliest = dt.date.fromisoformat(first_session())
    earlier = [day for day in sessions if earliest <= day < today]
    expected = {str(session_ticker_key(day, ticker)): day for day in earlier for ticker in tickers}
    present = materialized_partitions(instance, COMPRESSED_SERIES, expected)
    missed = sorted({day for key, day in expected.items() if key not in present})
    if missed:
        requests.append(
            rectangle_request(missed[0], missed[-1], tickers, f"catch-up-{missed[0]}-{missed[-1]}")
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
def daily_after_close(context: dg.ScheduleEvaluationContext):
    tick = context.scheduled_execution_time.astimezone(zoneinfo.ZoneInfo(SESSION_TIMEZONE))
    session = tick.date()
    result = daily_requests(context.instance, session, catch_up_days())
    if isinstance(result, dg.SkipReason):
        context.log.info(result.skip_message)
        return result
    for request in result:
        context.log.info(f"requesting {request.run_key}: {request.tags['orb/sessions']}")
    return result
