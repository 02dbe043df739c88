"""``compressed_series``: per ticker and session, the bar closes with runs of equal prices dropped,
always keeping the session's last bar (``engine.compress_series``, per docs/STRATEGY.md).

Reads the ``cached_bars`` files of the run's keys from the ``cache`` store and writes one Parquet
file per key (``series/<ticker>/<session>.parquet``: ``session_date``, ``timestamp_utc``,
``price``). Blocking checks: timestamps inside the session and strictly increasing, prices finite
and positive, and the series ends on the bars' last second.
"""

import dagster as dg

from orb_pipeline import engine
from orb_pipeline.bars.assets import (
    CACHED_BARS,
    PartitionOutcome,
    outcome_metadata,
    problems_check,
    sessions_by_date,
)
from orb_pipeline.core.cache_store import BARS_PREFIX, SERIES_PREFIX, CacheStore, partition_path
from orb_pipeline.partitions import backfill_policy, keys_by_ticker, session_ticker_partitions
from orb_pipeline.series.frames import SERIES_SCHEMA, series_problems

COMPRESSED_SERIES = dg.AssetKey("compressed_series")


@dg.asset(
    key=COMPRESSED_SERIES,
    deps=[CACHED_BARS],
    partitions_def=session_ticker_partitions,
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
    outcomes: list[PartitionOutcome] = []
    end_problems: list[str] = []
    for ticker, days in keys_by_ticker(context.partition_keys).items():
        sessions = sessions_by_date(days)
        for day in days:
            bars = cache.read_frame(partition_path(BARS_PREFIX, ticker, day.isoformat()))
            closes = bars.select("session_date", "timestamp_utc", "close")
            series = (
                engine.compress_series(closes) if bars.height else closes.rename({"close": "price"})
            ).cast(SERIES_SCHEMA)
            outcome = PartitionOutcome(ticker, day, rows=series.height)
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
            else:
                outcome.note = (
                    "empty: no bars (regular session without data)"
                    if day in sessions
                    else "empty: not an exchange session (holiday)"
                )
            outcome.problems = series_problems(series, *sessions.get(day, (None, None)))
            outcome.bytes = cache.write_frame(
                partition_path(SERIES_PREFIX, ticker, day.isoformat()), series
            )
            outcomes.append(outcome)
        context.log.info(
            f"{ticker}: compressed {len(days)} sessions to "
            f"{sum(o.rows for o in outcomes if o.ticker == ticker)} ticks"
        )
    return dg.MaterializeResult(
        metadata=outcome_metadata(outcomes),
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
