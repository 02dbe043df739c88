"""``cached_bars``: the warehouse pull stored as 1-second bars, one Parquet file per ticker+session.

One run handles every (session, ticker) key it was launched for (``context.partition_keys``):
one bulk pull per ticker, then one file per key. A weekday that is not an exchange session
(holiday) and a session without warehouse rows are stored as empty files with a metadata note;
the second also fails the ``session_has_data`` check with a warning naming ticker and session.
Bad warehouse rows (NaN or non-positive prices, undefined order) fail the run before anything is
written; the blocking ``bars_valid`` check keeps downstream assets from running on bad bars.
"""

import datetime as dt
import time
from dataclasses import dataclass, field

import dagster as dg
import polars as pl

from orb_pipeline.bars.build import bars_from_prints, bars_problems, check_prints
from orb_pipeline.calendar import DEFAULT_EXCHANGE, session_table
from orb_pipeline.core.cache_store import BARS_PREFIX, CacheStore, partition_path
from orb_pipeline.partitions import backfill_policy, keys_by_ticker, session_ticker_partitions
from orb_pipeline.warehouse.assets import warehouse_greeks
from orb_pipeline.warehouse.resource import Warehouse

CACHED_BARS = dg.AssetKey("cached_bars")
PER_PARTITION_TABLE_LIMIT = 10


@dataclass
class PartitionOutcome:
    """What a run did for one (ticker, session) key: rows and bytes written, notes, problems."""

    ticker: str
    session: dt.date
    rows: int = 0
    bytes: int = 0
    first_timestamp: int | None = None
    last_timestamp: int | None = None
    note: str = ""
    problems: list[str] = field(default_factory=list)
    missing_data: bool = False


def sessions_by_date(
    days: list[dt.date], exchange: str = DEFAULT_EXCHANGE
) -> dict[dt.date, tuple[int, int]]:
    """``{session_date: (open_utc, close_utc)}`` for the exchange sessions among ``days``."""
    table = session_table(min(days), max(days), exchange)
    wanted = set(days)
    return {
        day: (open_utc, close_utc)
        for day, open_utc, close_utc in table.select(
            "session_date", "open_utc", "close_utc"
        ).iter_rows()
        if day in wanted
    }


def outcome_metadata(outcomes: list[PartitionOutcome]) -> dict[str, dg.MetadataValue]:
    """Run metadata: totals, and per key rows / bytes / first and last timestamp / note."""
    with_data = [o for o in outcomes if o.first_timestamp is not None]
    metadata: dict[str, dg.MetadataValue] = {
        "partitions": dg.MetadataValue.int(len(outcomes)),
        "rows": dg.MetadataValue.int(sum(o.rows for o in outcomes)),
        "bytes": dg.MetadataValue.int(sum(o.bytes for o in outcomes)),
        "empty_partitions": dg.MetadataValue.int(sum(1 for o in outcomes if not o.rows)),
    }
    if with_data:
        metadata["first_timestamp_utc"] = dg.MetadataValue.int(
            min(o.first_timestamp for o in with_data)
        )
        metadata["last_timestamp_utc"] = dg.MetadataValue.int(
            max(o.last_timestamp for o in with_data)
        )
    notes = [f"{o.ticker} {o.session}: {o.note}" for o in outcomes if o.note]
    if notes:
        metadata["notes"] = dg.MetadataValue.md("\n".join("- " + note for note in notes[:200]))
    if len(outcomes) > PER_PARTITION_TABLE_LIMIT:
        # Dagster copies a run's metadata into every partition's materialization event, so a
        # per-key table would grow quadratically with the run; the run log has every key instead.
        return metadata
    metadata["per_partition"] = dg.MetadataValue.table(
        records=[
            dg.TableRecord(
                {
                    "ticker": o.ticker,
                    "session": o.session.isoformat(),
                    "rows": o.rows,
                    "bytes": o.bytes,
                    "first_timestamp_utc": o.first_timestamp
                    if o.first_timestamp is not None
                    else -1,
                    "last_timestamp_utc": o.last_timestamp if o.last_timestamp is not None else -1,
                    "note": o.note,
                }
            )
            for o in outcomes
        ],
        schema=dg.TableSchema(
            columns=[
                dg.TableColumn("ticker", "string"),
                dg.TableColumn("session", "string"),
                dg.TableColumn("rows", "int"),
                dg.TableColumn("bytes", "int"),
                dg.TableColumn("first_timestamp_utc", "int"),
                dg.TableColumn("last_timestamp_utc", "int"),
                dg.TableColumn("note", "string"),
            ]
        ),
    )
    return metadata


def problems_check(
    check_name: str, asset_key: dg.AssetKey, outcomes: list[PartitionOutcome], what: str
) -> dg.AssetCheckResult:
    bad = [o for o in outcomes if o.problems]
    return dg.AssetCheckResult(
        check_name=check_name,
        asset_key=asset_key,
        passed=not bad,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{what}: all {len(outcomes)} partitions valid"
            if not bad
            else "; ".join(f"{o.ticker} {o.session}: {', '.join(o.problems)}" for o in bad[:20])
        ),
        metadata={"partitions_checked": len(outcomes), "partitions_failed": len(bad)},
    )


def has_data_check(asset_key: dg.AssetKey, outcomes: list[PartitionOutcome]) -> dg.AssetCheckResult:
    missing = [o for o in outcomes if o.missing_data]
    return dg.AssetCheckResult(
        check_name="session_has_data",
        asset_key=asset_key,
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "every regular session has data"
            if not missing
            else "no warehouse data for regular session(s): "
            + ", ".join(f"{o.ticker} {o.session}" for o in missing[:50])
        ),
        metadata={"sessions_without_data": len(missing)},
    )


@dg.asset(
    key=CACHED_BARS,
    deps=[warehouse_greeks],
    partitions_def=session_ticker_partitions,
    backfill_policy=backfill_policy,
    group_name="data",
    kinds={"polars", "parquet"},
    pool="warehouse",
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
    outcomes: list[PartitionOutcome] = []
    for ticker, days in keys_by_ticker(context.partition_keys).items():
        sessions = sessions_by_date(days)
        still_open = [day for day, (_, close_utc) in sessions.items() if close_utc > time.time()]
        if still_open:
            raise ValueError(
                f"{ticker}: session(s) {', '.join(d.isoformat() for d in still_open)} have not closed "
                "yet; materialize them after the close"
            )
        session_frame = pl.DataFrame(
            {
                "session_date": list(sessions),
                "open_utc": [bounds[0] for bounds in sessions.values()],
                "close_utc": [bounds[1] for bounds in sessions.values()],
            },
            schema={"session_date": pl.Date, "open_utc": pl.Int64, "close_utc": pl.Int64},
        )
        context.log.info(
            f"{ticker}: pulling {len(sessions)} sessions ({len(days) - len(sessions)} non-session "
            f"weekdays) from {warehouse.describe()}"
        )
        prints = (
            warehouse.pull_sessions(ticker, session_frame)
            if sessions
            else pl.DataFrame(schema={"session_date": pl.Date})
        )
        per_session = (
            {
                key[0]: frame
                for key, frame in prints.partition_by("session_date", as_dict=True).items()
            }
            if prints.height
            else {}
        )
        # Validate every session of the ticker before writing any file.
        built: dict[dt.date, pl.DataFrame] = {}
        for day in days:
            day_prints = per_session.get(day)
            if day_prints is not None:
                check_prints(day_prints, ticker, day)
                built[day] = bars_from_prints(day_prints, day)
            else:
                built[day] = bars_from_prints(pl.DataFrame(), day)
        for day in days:
            bars = built[day]
            outcome = PartitionOutcome(ticker, day, rows=bars.height)
            if day not in sessions:
                outcome.note = "not an exchange session (holiday); stored empty"
            elif bars.is_empty():
                outcome.note = "regular session without warehouse rows; stored empty"
                outcome.missing_data = True
            else:
                outcome.first_timestamp = int(bars["timestamp_utc"][0])
                outcome.last_timestamp = int(bars["timestamp_utc"][-1])
            bounds = sessions.get(day, (None, None))
            outcome.problems = bars_problems(bars, *bounds)
            outcome.bytes = cache.write_frame(
                partition_path(BARS_PREFIX, ticker, day.isoformat()), bars
            )
            outcomes.append(outcome)
            context.log.debug(
                f"{ticker} {day}: {outcome.rows} bars, {outcome.bytes} bytes, "
                f"first {outcome.first_timestamp}, last {outcome.last_timestamp} {outcome.note}"
            )
        context.log.info(
            f"{ticker}: wrote {len(days)} bar files, {sum(o.rows for o in outcomes if o.ticker == ticker)} bars"
        )
    return dg.MaterializeResult(
        metadata=outcome_metadata(outcomes),
        check_results=[
            problems_check("bars_valid", CACHED_BARS, outcomes, "bars"),
            has_data_check(CACHED_BARS, outcomes),
        ],
    )
