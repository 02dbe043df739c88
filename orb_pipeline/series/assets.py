"""``compressed_series``: per ticker and session, the bar closes with runs of equal prices dropped,
always keeping the session's last bar (``engine.compress_series``, per ORB_SEMANTICS.md).

Partitioned like ``cached_bars`` ((period, ticker), the same sessions per run). Reads the bars
file of each of the run's sessions from the ``cache`` store and writes one Parquet file per
session (``series/<ticker>/<session>.parquet``: ``session_date``, ``timestamp_utc``,
``price``). Blocking checks: timestamps inside the session and strictly increasing, prices finite
and positive, and the series ends on the bars' last second.
"""

import datetime as dt
import time

import dagster as dg

from orb_pipeline import engine
from orb_pipeline.core.cache_store import BARS_PREFIX, SERIES_PREFIX, CacheStore, partition_path
from orb_pipeline.core.lineage import CACHED_BARS, COMPRESSED_SERIES
from orb_pipeline.data_stage import (
    SessionOutcome,
    build_partitions,
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
from orb_pipeline.series.frames import SERIES_SCHEMA, series_problems


@dg.asset(
    key=COMPRESSED_SERIES,
    deps=[CACHED_BARS],
    partitions_def=period_ticker_partitions,
    backfill_policy=backfill_policy,
    group_name="data",
    kinds={"polars", "parquet"},
    description=__doc__,
    check_specs=[
        dg.AssetCheckSpec(
            "series_valid",
            asset=COMPRESSED_SERIES,
            blocking=True,
            description="timestamps inside the session and strictly increasing; prices finite and positive",
        ),
        dg.AssetCheckSpec(
            "ends_on_last_bar",
            asset=COMPRESSED_SERIES,
            blocking=True,
            description="the compressed series ends on the bars' last second",
        ),
    ],
)
def compressed_series(context: dg.AssetExecutionContext, cache: CacheStore) -> dg.MaterializeResult:
    now = dt.datetime.fromtimestamp(time.time(), dt.UTC)
    work = run_sessions(context.partition_keys, context.run.tags, now)
    end_problems: list[str] = []

    def build(part: PartitionSessions) -> list[SessionOutcome]:
        ticker, days = part.ticker, part.days
        sessions = sessions_by_date(days)
        built = []
        for day in days:
            bars = cache.read_frame(partition_path(BARS_PREFIX, ticker, day.isoformat()))
            closes = bars.select("session_date", "timestamp_utc", "close")
            series = (
                engine.compress_series(closes) if bars.height else closes.rename({"close": "price"})
            ).cast(SERIES_SCHEMA)
            outcome = SessionOutcome(ticker, day, rows=series.height)
            if series.height:
                outcome.first_timestamp = int(series["timestamp_utc"][0])
                outcome.last_timestamp = int(series["timestamp_utc"][-1])
                if outcome.last_timestamp != int(bars["timestamp_utc"][-1]):
                    end_problems.append(
                        f"{ticker} {day}: series ends at {outcome.last_timestamp}, bars at "
                        f"{int(bars['timestamp_utc'][-1])}"
                    )
            elif bars.height:
                end_problems.append(f"{ticker} {day}: empty series from {bars.height} bars")
            elif day in sessions:
                outcome.note = "empty: no bars (regular session without data)"
                outcome.missing_data = True
            else:
                outcome.note = "empty: not an exchange session (holiday)"
            outcome.problems = series_problems(series, *sessions.get(day, (None, None)))
            built.append((outcome, series))
        for outcome, series in built:
            outcome.bytes = cache.write_frame(
                partition_path(SERIES_PREFIX, ticker, outcome.session.isoformat()), series
            )
        return [outcome for outcome, _ in built]

    outcomes = build_partitions(
        context,
        COMPRESSED_SERIES,
        work,
        build,
        store=cache,
        prefix=SERIES_PREFIX,
        now=now,
    )
    return dg.MaterializeResult(
        metadata=run_summary(outcomes),
        check_results=[
            problems_check("series_valid", COMPRESSED_SERIES, outcomes, "compressed series"),
            dg.AssetCheckResult(
                check_name="ends_on_last_bar",
                asset_key=COMPRESSED_SERIES,
                passed=not end_problems,
                description="; ".join(end_problems[:20]) or "every series ends on its last bar",
            ),
        ],
    )
