"""Ticker sensor: adds ``tickers`` dynamic partitions from the warehouse or a configured universe.

The universe is ``ORB_TICKERS`` (comma-separated) when set, otherwise every ticker the warehouse
lists. Each tick adds the tickers not yet partitions and requests their history (``daily_data_job``
over ``ORB_FIRST_SESSION .. the last finished session``, one run per ticker and year) in the same
``dg.SensorResult``, so the partitions exist before the runs start. The cursor is a digest of the
last universe seen: an unchanged universe is a cheap skip.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo

import dagster as dg

from orb_pipeline.core import settings
from orb_pipeline.core.tickers import is_valid_ticker
from orb_pipeline.partitions import (
    SESSION_TIMEZONE,
    TICKERS_PARTITIONS_NAME,
    first_session,
    ticker_partitions,
    ticker_range_run_requests,
)
from orb_pipeline.warehouse.resource import Warehouse, list_warehouse_tickers

# Named, not imported: the job assembles later stages' assets (orb_pipeline/orchestration/jobs.py).
DAILY_DATA_JOB = "daily_data_job"


def configured_universe() -> list[str] | None:
    """``ORB_TICKERS`` (upper-cased), or None to use the warehouse's list."""
    return settings.current().tickers


def last_finished_session(now: dt.datetime) -> dt.date:
    """Yesterday in New York: today's session is the daily schedule's job once it closes."""
    return now.astimezone(zoneinfo.ZoneInfo(SESSION_TIMEZONE)).date() - dt.timedelta(days=1)


def universe_digest(tickers: list[str]) -> str:
    return hashlib.sha256(",".join(sorted(tickers)).encode()).hexdigest()[:16]


def ticker_sensor_result(
    instance: dg.DagsterInstance, universe: list[str], cursor: str | None, now: dt.datetime
) -> dg.SensorResult | dg.SkipReason:
    invalid = sorted(t for t in universe if not is_valid_ticker(t))
    valid = sorted({t for t in universe if is_valid_ticker(t)})
    digest = universe_digest(valid)
    existing = set(instance.get_dynamic_partitions(TICKERS_PARTITIONS_NAME))
    new = [t for t in valid if t not in existing]
    if not new:
        note = f"all {len(valid)} tickers are partitions already"
        if invalid:
            note += f"; ignored invalid ticker names {invalid[:10]}"
        return (
            dg.SkipReason(note)
            if cursor == digest
            else dg.SensorResult(cursor=digest, skip_reason=note)
        )
    first = dt.date.fromisoformat(first_session())
    last = last_finished_session(now)
    run_requests = []
    if last >= first:
        for ticker in new:
            for request in ticker_range_run_requests(ticker, first, last):
                run_requests.append(
                    dg.RunRequest(
                        run_key=f"history-{ticker}-{request.tags['orb/sessions']}",
                        job_name=DAILY_DATA_JOB,
                        tags=request.tags,
                    )
                )
    return dg.SensorResult(
        dynamic_partitions_requests=[ticker_partitions.build_add_request(new)],
        run_requests=run_requests,
        cursor=digest,
    )


@dg.sensor(
    name="ticker_sensor",
    job_name=DAILY_DATA_JOB,
    minimum_interval_seconds=15 * 60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Adds tickers (ORB_TICKERS, else the warehouse's list) as partitions and "
    "requests their history.",
)
def ticker_sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse):
    universe = configured_universe()
    source = "ORB_TICKERS"
    if universe is None:
        universe = list_warehouse_tickers(warehouse)
        source = f"warehouse {warehouse.describe()}"
    result = ticker_sensor_result(
        context.instance, universe, context.cursor, dt.datetime.now(dt.UTC)
    )
    if isinstance(result, dg.SensorResult) and result.dynamic_partitions_requests:
        added = result.dynamic_partitions_requests[0].partition_keys
        context.log.info(f"adding {len(added)} tickers from {source}: {', '.join(added)}")
    return result
