"""``cached_bars``: the warehouse pull stored as 1-second bars, one Parquet file per ticker+session.

Partitioned by (period, ticker) (``orb_pipeline/partitions.py``); a run builds the sessions of
its partitions that ``run_sessions`` selects (all closed sessions, or only those of the run tag
``orb/sessions``): one warehouse pull per partition, then one file per session
(``bars/<ticker>/<YYYY-MM-DD>.parquet``). A weekday that is not an exchange session (holiday) and
a session without warehouse rows are stored as empty files with a note; the second also fails the
``session_has_data`` check with a warning naming ticker and session. Bad warehouse rows (NaN or
non-positive prices, undefined order) fail the partition before any of its files is written;
the blocking ``bars_valid`` check keeps downstream assets from running on bad bars. Each
partition's metadata names the sessions of its period that are present, missing or without data.
"""

import datetime as dt
import time

import dagster as dg
import polars as pl

from orb_pipeline.bars.build import (
    BARS_SCHEMA,
    bars_by_session,
    bars_problems,
    check_session_prints,
)
from orb_pipeline.core.cache_store import BARS_PREFIX, CacheStore, partition_path
from orb_pipeline.core.lineage import CACHED_BARS, WAREHOUSE_POOL
from orb_pipeline.data_stage import (
    SessionOutcome,
    build_partitions,
    has_data_check,
    problems_check,
    run_summary,
    sessions_by_date,
)
from orb_pipeline.partitions import (
    PartitionSessions,
    backfill_policy,
    period_ticker_partitions,
    run_sessions,
)
from orb_pipeline.warehouse.assets import warehouse_greeks
from orb_pipeline.warehouse.resource import Warehouse


@dg.asset(
    key=CACHED_BARS,
    deps=[warehouse_greeks],
    partitions_def=period_ticker_partitions,
    backfill_policy=backfill_policy,
    group_name="data",
    kinds={"polars", "parquet"},
    pool=WAREHOUSE_POOL,
    description=__doc__,
    check_specs=[
        dg.AssetCheckSpec(
            "bars_valid",
            asset=CACHED_BARS,
            blocking=True,
            description="timestamps inside the session and strictly increasing; prices finite, "
            "positive, high >= low",
        ),
        dg.AssetCheckSpec(
            "session_has_data",
            asset=CACHED_BARS,
            description="warns naming ticker and session when a regular session has no data",
        ),
    ],
)
def cached_bars(
    context: dg.AssetExecutionContext, warehouse: Warehouse, cache: CacheStore
) -> dg.MaterializeResult:
    now = dt.datetime.fromtimestamp(time.time(), dt.UTC)
    work = run_sessions(context.partition_keys, context.run.tags, now)
    context.log.info(f"pulling from {warehouse.describe()}")

    def build(part: PartitionSessions) -> list[SessionOutcome]:
        ticker, days = part.ticker, part.days
        sessions = sessions_by_date(days)
        still_open = [day for day, (_, close_utc) in sessions.items() if close_utc > time.time()]
        if still_open:
            raise ValueError(
                f"{ticker}: session(s) {', '.join(d.isoformat() for d in still_open)} have not "
                "closed yet; materialize them after the close"
            )
        session_frame = pl.DataFrame(
            {
                "session_date": list(sessions),
                "open_utc": [bounds[0] for bounds in sessions.values()],
                "close_utc": [bounds[1] for bounds in sessions.values()],
            },
            schema={"session_date": pl.Date, "open_utc": pl.Int64, "close_utc": pl.Int64},
        )
        prints = (
            warehouse.pull_sessions(ticker, session_frame)
            if sessions
            else pl.DataFrame(schema={"session_date": pl.Date})
        )
        # Validate every session of the partition before writing any file; the bars of all its
        # sessions in one group-by (bars_from_prints is the per-session reference).
        check_session_prints(prints, ticker)
        built = bars_by_session(prints)
        empty = pl.DataFrame(schema=BARS_SCHEMA)
        outcomes = []
        for day in days:
            bars = built.get(day, empty)
            outcome = SessionOutcome(ticker, day, rows=bars.height)
            if day not in sessions:
                outcome.note = "not an exchange session (holiday); stored empty"
            elif bars.is_empty():
                outcome.note = "regular session without warehouse rows; stored empty"
                outcome.missing_data = True
            else:
                outcome.first_timestamp = int(bars["timestamp_utc"][0])
                outcome.last_timestamp = int(bars["timestamp_utc"][-1])
            outcome.problems = bars_problems(bars, *sessions.get(day, (None, None)))
            outcome.bytes = cache.write_frame(
                partition_path(BARS_PREFIX, ticker, day.isoformat()), bars
            )
            outcomes.append(outcome)
        return outcomes

    outcomes = build_partitions(
        context,
        CACHED_BARS,
        work,
        build,
        store=cache,
        prefix=BARS_PREFIX,
        now=now,
    )
    return dg.MaterializeResult(
        metadata=run_summary(outcomes),
        check_results=[
            problems_check("bars_valid", CACHED_BARS, outcomes, "bars"),
            has_data_check(CACHED_BARS, outcomes),
        ],
    )
