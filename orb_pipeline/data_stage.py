"""What the data stages share: per-session outcomes, the per-partition loop, its metadata and checks.

Each data asset (``cached_bars``, ``compressed_series``, ``opening_ranges``) builds its run's
``(period, ticker)`` partitions one after another (``build_partitions``). A partition is the unit
of validation: every session of it is checked before any of its files is written. When a later
partition fails, the partitions already written are recorded as materializations (with their
metadata) before the run fails, so the event log never hides a file that was replaced.

Every partition's materialization carries its own metadata (``context.add_asset_metadata`` with
the partition key): what this run wrote, and the session status of the whole period from the
stored files, i.e. which exchange sessions of the period are present, missing or without data.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from orb_pipeline.calendar import DEFAULT_EXCHANGE, session_table
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.partitions import (
    PartitionSessions,
    closed_through,
    first_session,
    last_session,
    period_days,
)

STATUS_TABLE_LIMIT = 60


@dataclass
class SessionOutcome:
    """What a run did for one (ticker, session): rows and bytes written, notes, problems."""

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


def stored_sessions(store: CacheStore, prefix: str, ticker: str) -> set[dt.date]:
    """Session dates with a file under ``<prefix>/<ticker>/`` (one listing)."""
    found = set()
    for path in store.list(f"{prefix}/{ticker}"):
        name = path.rsplit("/", 1)[-1].removesuffix(".parquet")
        try:
            found.add(dt.date.fromisoformat(name))
        except ValueError:
            continue
    return found


def expected_sessions(period: str, now: dt.datetime) -> list[dt.date]:
    """Exchange sessions of ``period`` from ``ORB_FIRST_SESSION`` to the last one closed at ``now``
    (and to ``ORB_LAST_SESSION`` when set), inclusive."""
    first, last = period_days(period)
    first = max(first, dt.date.fromisoformat(first_session()))
    last = closed_through(last, now)
    if last_session():
        last = min(last, dt.date.fromisoformat(last_session()))
    if last < first:
        return []
    return session_table(first, last)["session_date"].to_list()


def partition_metadata(
    part: PartitionSessions,
    outcomes: list[SessionOutcome],
    present: set[dt.date],
    now: dt.datetime,
) -> dict[str, dg.MetadataValue]:
    """One partition's metadata: this run's writes and the period's session status."""
    # The period's closed sessions, and the sessions this run built (a tagged run may build one
    # before ``now`` counts it as closed, e.g. under a frozen test clock).
    expected = sorted(set(expected_sessions(part.period, now)) | set(sessions_by_date(part.days)))
    missing = [day for day in expected if day not in present]
    no_data = [o.session for o in outcomes if o.missing_data]
    with_data = [o for o in outcomes if o.first_timestamp is not None]
    metadata: dict[str, dg.MetadataValue] = {
        "ticker": dg.MetadataValue.text(part.ticker),
        "sessions_written": dg.MetadataValue.int(len(outcomes)),
        "written": dg.MetadataValue.text(f"{part.days[0]}..{part.days[-1]}"),
        "last_session": dg.MetadataValue.text(part.days[-1].isoformat()),
        "rows": dg.MetadataValue.int(sum(o.rows for o in outcomes)),
        "bytes": dg.MetadataValue.int(sum(o.bytes for o in outcomes)),
        "sessions_expected": dg.MetadataValue.int(len(expected)),
        "sessions_present": dg.MetadataValue.int(len(expected) - len(missing)),
        "sessions_missing": dg.MetadataValue.int(len(missing)),
        "sessions_without_data": dg.MetadataValue.int(len(no_data)),
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
        metadata["notes"] = dg.MetadataValue.md("\n".join("- " + note for note in notes[:100]))
    status = [(day, "missing: not materialized") for day in missing] + [
        (day, "no warehouse data (stored empty)") for day in no_data
    ]
    status.sort(reverse=True)  # newest first: what a user checks after a daily update
    metadata["session_status"] = dg.MetadataValue.table(
        records=[
            dg.TableRecord({"session": day.isoformat(), "status": what})
            for day, what in status[:STATUS_TABLE_LIMIT]
        ],
        schema=dg.TableSchema(
            columns=[dg.TableColumn("session", "string"), dg.TableColumn("status", "string")]
        ),
    )
    if len(status) > STATUS_TABLE_LIMIT:
        metadata["session_status_truncated"] = dg.MetadataValue.int(len(status))
    return metadata


def build_partitions(
    context: dg.AssetExecutionContext,
    asset_key: dg.AssetKey,
    work: dict[str, list[PartitionSessions]],
    build: Callable[[PartitionSessions], list[SessionOutcome]],
    *,
    store: CacheStore,
    prefix: str,
    now: dt.datetime,
) -> list[SessionOutcome]:
    """Run ``build`` for every partition of ``work`` (ticker by ticker, period by period); log
    progress; attach each partition's metadata. ``build`` validates all sessions of its partition
    before writing any file. If a partition fails after others were written, those are recorded
    as materializations first, then the run fails naming the failed partition and what was kept.
    """
    name = asset_key.to_user_string()
    parts = [part for ticker_parts in work.values() for part in ticker_parts]
    sessions = sum(len(part.days) for part in parts)
    context.log.info(
        f"{name}: {len(parts)} partition(s) of {len(work)} ticker(s), {sessions} weekday(s) to build"
    )
    every = max(1, len(parts) // 50)  # at most about 50 progress lines per run
    done: list[tuple[PartitionSessions, list[SessionOutcome]]] = []
    started = time.perf_counter()
    for index, part in enumerate(parts, start=1):
        try:
            outcomes = build(part)
        except Exception as error:
            if not done:
                raise
            kept = _metadata_of(done, store, prefix, now)
            for (written, _), metadata in zip(done, kept, strict=True):
                context.log_event(
                    dg.AssetMaterialization(
                        asset_key=asset_key, partition=str(written.key), metadata=metadata
                    )
                )
            raise dg.Failure(
                description=f"{name} failed on {part.ticker} {part.period}: {error}. The "
                f"{len(done)} partition(s) written before it are recorded as materializations: "
                + ", ".join(f"{p.ticker} {p.period}" for p, _ in done[:20]),
            ) from error
        done.append((part, outcomes))
        if index % every == 0 or index == len(parts):
            context.log.info(
                f"{name}: {index}/{len(parts)} {part.ticker} {part.period}: {len(part.days)} "
                f"weekday(s), {sum(o.rows for o in outcomes):,} rows "
                f"({time.perf_counter() - started:.1f} s so far)"
            )
    for (part, _), metadata in zip(done, _metadata_of(done, store, prefix, now), strict=True):
        context.add_asset_metadata(metadata, asset_key=asset_key, partition_key=str(part.key))
    return [outcome for _, outcomes in done for outcome in outcomes]


def _metadata_of(
    done: list[tuple[PartitionSessions, list[SessionOutcome]]],
    store: CacheStore,
    prefix: str,
    now: dt.datetime,
) -> list[dict[str, dg.MetadataValue]]:
    present: dict[str, set[dt.date]] = {}
    out = []
    for part, outcomes in done:
        if part.ticker not in present:
            present[part.ticker] = stored_sessions(store, prefix, part.ticker)
        out.append(partition_metadata(part, outcomes, present[part.ticker], now))
    return out


def run_summary(outcomes: list[SessionOutcome]) -> dict[str, dg.MetadataValue]:
    """Small run-level totals (Dagster copies them into every partition's materialization)."""
    return {
        "run_sessions": dg.MetadataValue.int(len(outcomes)),
        "run_rows": dg.MetadataValue.int(sum(o.rows for o in outcomes)),
    }


def problems_check(
    check_name: str, asset_key: dg.AssetKey, outcomes: list[SessionOutcome], what: str
) -> dg.AssetCheckResult:
    bad = [o for o in outcomes if o.problems]
    return dg.AssetCheckResult(
        check_name=check_name,
        asset_key=asset_key,
        passed=not bad,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{what}: all {len(outcomes)} sessions valid"
            if not bad
            else "; ".join(f"{o.ticker} {o.session}: {', '.join(o.problems)}" for o in bad[:20])
        ),
        metadata={"sessions_checked": len(outcomes), "sessions_failed": len(bad)},
    )


def has_data_check(asset_key: dg.AssetKey, outcomes: list[SessionOutcome]) -> dg.AssetCheckResult:
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
