"""``opening_ranges``: per ticker and session, one row per configured range length (default 30 s)
with ``range_high``, ``range_low``, ``open_price``, ``tick_count`` (``engine.opening_ranges`` on
the compressed series, the ticks the sweep sees) and ``atm_iv`` (mean IV of warehouse rows with
0.4 < |delta| < 0.6 in the window, null when fewer than 2), stored as
``ranges/<ticker>/<session>.parquet``. Blocking check: ``range_high >= range_low``, prices
finite and positive, the open price inside the range.
"""

import datetime as dt
import time

import dagster as dg
import polars as pl
from pydantic import Field

from orb_pipeline.core import settings
from orb_pipeline.core.cache_store import (
    BARS_PREFIX,
    RANGES_PREFIX,
    SERIES_PREFIX,
    CacheStore,
    partition_path,
)
from orb_pipeline.core.lineage import CACHED_BARS, COMPRESSED_SERIES, OPENING_RANGES
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
from orb_pipeline.ranges.build import RANGES_SCHEMA, ranges_problems, session_ranges


def default_range_seconds() -> list[int]:
    """``ORB_RANGE_SECONDS`` (comma-separated seconds, default ``30``)."""
    return settings.current().range_seconds


class OpeningRangesConfig(dg.Config):
    range_seconds: list[int] = Field(
        default_factory=default_range_seconds,
        description="opening-range lengths in seconds, e.g. [30, 60, 300, 900] "
        "(default: ORB_RANGE_SECONDS, else [30])",
    )


@dg.asset(
    key=OPENING_RANGES,
    deps=[COMPRESSED_SERIES, CACHED_BARS],
    partitions_def=period_ticker_partitions,
    backfill_policy=backfill_policy,
    group_name="data",
    kinds={"polars", "parquet"},
    description=__doc__,
    check_specs=[
        dg.AssetCheckSpec(
            "ranges_valid",
            asset=OPENING_RANGES,
            blocking=True,
            description="range_high >= range_low; prices finite and positive; open inside the range",
        )
    ],
)
def opening_ranges(
    context: dg.AssetExecutionContext, config: OpeningRangesConfig, cache: CacheStore
) -> dg.MaterializeResult:
    lengths = sorted(set(config.range_seconds))
    if not lengths or any(isinstance(s, bool) or s < 1 for s in lengths):
        raise ValueError(
            f"range_seconds must be a non-empty list of integers >= 1, got {config.range_seconds!r}"
        )
    now = dt.datetime.fromtimestamp(time.time(), dt.UTC)
    work = run_sessions(context.partition_keys, context.run.tags, now)

    def build(part: PartitionSessions) -> list[SessionOutcome]:
        ticker, days = part.ticker, part.days
        sessions = sessions_by_date(days)
        built = []
        for day in days:
            key = day.isoformat()
            outcome = SessionOutcome(ticker, day)
            if day in sessions:
                open_utc, close_utc = sessions[day]
                session = pl.DataFrame(
                    {"session_date": [day], "open_utc": [open_utc], "close_utc": [close_utc]},
                    schema={"session_date": pl.Date, "open_utc": pl.Int64, "close_utc": pl.Int64},
                )
                series = cache.read_frame(partition_path(SERIES_PREFIX, ticker, key))
                bars = cache.read_frame(partition_path(BARS_PREFIX, ticker, key))
                ranges = session_ranges(series, bars, session, lengths)
                if not series.height:
                    outcome.note = "no ticks (regular session without data): ranges untraded"
                    outcome.missing_data = True
            else:
                ranges = pl.DataFrame(schema=RANGES_SCHEMA)
                outcome.note = "not an exchange session (holiday); stored empty"
            outcome.rows = ranges.height
            outcome.problems = ranges_problems(ranges)
            built.append((outcome, ranges))
        for outcome, ranges in built:
            outcome.bytes = cache.write_frame(
                partition_path(RANGES_PREFIX, ticker, outcome.session.isoformat()), ranges
            )
        return [outcome for outcome, _ in built]

    outcomes = build_partitions(
        context,
        OPENING_RANGES,
        work,
        build,
        store=cache,
        prefix=RANGES_PREFIX,
        now=now,
    )
    metadata = run_summary(outcomes)
    metadata["range_seconds"] = dg.MetadataValue.text(",".join(str(s) for s in lengths))
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[problems_check("ranges_valid", OPENING_RANGES, outcomes, "opening ranges")],
    )
