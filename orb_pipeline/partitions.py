"""Shared partitions of the data stages: period (year by default) x ticker, one file per session inside.

``period`` is a time-window dimension in New York time: one key per calendar year (``2025``) by
default, or per month (``2025-03``) with ``ORB_DATA_PERIOD=month`` (a name read when definitions
load). It starts at the period holding ``ORB_FIRST_SESSION`` and grows by itself (the current
period exists from its first midnight); ``ORB_LAST_SESSION``, when set, ends it at the period
holding that session (the embedded demo bounds its range this way). ``ticker`` is the dynamic
partitions definition ``tickers``.

Why not one partition per session: a Dagster partition costs two stored events per asset per run
(planned + materialization) and a key in every status query, so session x ticker partitions made
Dagster's bookkeeping, not the computation, the cost of a data run (7,800 materialization and
7,800 planned events for 10 ticker-years, 1.26 M keys per asset for 500 tickers x 10 years). A
(period, ticker) partition still stores one Parquet file per session; its materialization's
metadata names the sessions of the period present, missing and without data (see
``docs/ARCHITECTURE.md`` for the measured alternatives).

Which sessions a run builds: every weekday of its partitions, clipped to ``ORB_FIRST_SESSION ..
ORB_LAST_SESSION`` and to the sessions that have closed, narrowed by the run tag ``orb/sessions``
(``YYYY-MM-DD`` or ``YYYY-MM-DD..YYYY-MM-DD``, inclusive) when present. The daily schedule tags its
run with the one new session, so a daily update rewrites (and pulls from the warehouse) only that
session of every ticker. Weekdays that are exchange holidays are stored as empty files with a note.

Multi-partition keys are rectangles: a run tagged with the range ``P1|T .. P2|T`` covers periods
``P1..P2`` of ticker ``T``; ``P|A .. P|Z`` covers every ticker (in the order they were added) for
period ``P``. The data assets use ``BackfillPolicy.single_run`` and process every key of their run.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import dagster as dg

from orb_pipeline.calendar import as_date, session_table
from orb_pipeline.core import settings

PERIOD_DIMENSION = "period"
TICKER_DIMENSION = "ticker"
CHUNK_DIMENSION = "chunk"  # the sweeps' parameter chunks
TICKERS_PARTITIONS_NAME = "tickers"
SESSION_TIMEZONE = "America/New_York"
SESSIONS_TAG = "orb/sessions"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

# period name -> (cron of the period starts, key format)
DATA_PERIODS = {"year": ("0 0 1 1 *", "%Y"), "month": ("0 0 1 * *", "%Y-%m")}


def first_session() -> str:
    """First session of the data stages (``ORB_FIRST_SESSION``, default 2025-01-02)."""
    return settings.current().first_session.isoformat()


def last_session() -> str | None:
    """Last session of the data stages (``ORB_LAST_SESSION``), or None: open-ended (the default)."""
    chosen = settings.current()
    if chosen.last_session is None:
        return None
    if chosen.last_session < chosen.first_session:
        raise ValueError(
            f"ORB_LAST_SESSION {chosen.last_session} is before ORB_FIRST_SESSION "
            f"{chosen.first_session}"
        )
    return chosen.last_session.isoformat()


def data_period() -> str:
    """``ORB_DATA_PERIOD``: ``year`` (default) or ``month``, the time dimension of the data stages."""
    return settings.current().data_period


DATA_PERIOD = data_period()


def period_start(day: dt.date) -> dt.date:
    """First calendar day of the period holding ``day``."""
    return dt.date(day.year, 1, 1) if DATA_PERIOD == "year" else dt.date(day.year, day.month, 1)


def next_period_start(day: dt.date) -> dt.date:
    start = period_start(day)
    if DATA_PERIOD == "year":
        return dt.date(start.year + 1, 1, 1)
    return dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1)


def period_key(day: dt.date | str) -> str:
    """The period partition key of a session date (``2025`` or ``2025-03``)."""
    return period_start(as_date(day, "session")).strftime(DATA_PERIODS[DATA_PERIOD][1])


def period_days(key: str) -> tuple[dt.date, dt.date]:
    """First and last calendar day (inclusive) of the period key ``key``."""
    start = dt.datetime.strptime(key, DATA_PERIODS[DATA_PERIOD][1]).date()
    return start, next_period_start(start) - dt.timedelta(days=1)


def _period_partitions() -> dg.TimeWindowPartitionsDefinition:
    cron, fmt = DATA_PERIODS[DATA_PERIOD]
    zone = zoneinfo.ZoneInfo(SESSION_TIMEZONE)
    start = period_start(dt.date.fromisoformat(first_session()))
    last = last_session()
    # ``end_offset=1``: the current period exists from its first midnight in New York (its
    # sessions are built as they close). With ORB_LAST_SESSION the range ends at that period.
    return dg.TimeWindowPartitionsDefinition(
        start=dt.datetime.combine(start, dt.time(), zone),
        end=dt.datetime.combine(next_period_start(dt.date.fromisoformat(last)), dt.time(), zone)
        if last
        else None,
        cron_schedule=cron,
        fmt=fmt,
        timezone=SESSION_TIMEZONE,
        end_offset=0 if last else 1,
    )


period_partitions = _period_partitions()
ticker_partitions = dg.DynamicPartitionsDefinition(name=TICKERS_PARTITIONS_NAME)
period_ticker_partitions = dg.MultiPartitionsDefinition(
    {PERIOD_DIMENSION: period_partitions, TICKER_DIMENSION: ticker_partitions}
)

# Every key of a backfill goes into as few runs as its rectangles allow; the assets read
# ``context.partition_keys`` and handle any number of periods and tickers per run.
backfill_policy = dg.BackfillPolicy.single_run()


def ticker_dep(upstream: dg.AssetKey | str) -> dg.AssetDep:
    """Depend on every partition of ``upstream`` (multi-partitioned with a ``ticker`` dimension)
    that has this asset's ticker; for downstream assets partitioned by ticker alone or by ticker x
    another dimension."""
    return dg.AssetDep(
        upstream,
        partition_mapping=dg.MultiToSingleDimensionPartitionMapping(
            partition_dimension_name=TICKER_DIMENSION
        ),
    )


def period_ticker_key(period: str, ticker: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({PERIOD_DIMENSION: period, TICKER_DIMENSION: ticker})


def session_key(session: dt.date | str, ticker: str) -> dg.MultiPartitionKey:
    """The partition key holding ``ticker``'s session ``session``."""
    return period_ticker_key(period_key(session), ticker)


def weekdays(first: dt.date | str, last: dt.date | str) -> list[dt.date]:
    """Monday-to-Friday dates from ``first`` to ``last``, inclusive."""
    day, end = as_date(first, "first_session"), as_date(last, "last_session")
    out = []
    while day <= end:
        if day.weekday() < 5:
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def parse_sessions_tag(value: str) -> tuple[dt.date, dt.date]:
    """``YYYY-MM-DD`` or ``YYYY-MM-DD..YYYY-MM-DD`` (inclusive) -> (first, last)."""
    first, _, last = value.partition("..")
    start, end = (
        as_date(first.strip(), SESSIONS_TAG),
        as_date((last or first).strip(), SESSIONS_TAG),
    )
    if end < start:
        raise ValueError(f"run tag {SESSIONS_TAG}={value!r}: {end} is before {start}")
    return start, end


def closed_through(period_last: dt.date, now: dt.datetime) -> dt.date:
    """``period_last`` clipped to ``last_closed_day(now)``; asks the calendar only when the period
    reaches the last two days (building an exchange calendar costs about a second)."""
    today = now.astimezone(zoneinfo.ZoneInfo(SESSION_TIMEZONE)).date()
    if period_last < today - dt.timedelta(days=1):
        return period_last
    return min(period_last, last_closed_day(now))


def last_closed_day(now: dt.datetime) -> dt.date:
    """The newest day whose session (if any) has closed at ``now``: today in New York once today's
    close has passed (or today is not a session), else yesterday."""
    today = now.astimezone(zoneinfo.ZoneInfo(SESSION_TIMEZONE)).date()
    sessions = session_table(today, today)
    if sessions.height and int(sessions["close_utc"][0]) > now.timestamp():
        return today - dt.timedelta(days=1)
    return today


class PartitionSessions(NamedTuple):
    """The weekdays a run builds for one (period, ticker) partition, sorted."""

    key: dg.MultiPartitionKey
    ticker: str
    period: str
    days: list[dt.date]


def run_sessions(
    partition_keys: Iterable[str | dg.MultiPartitionKey],
    tags: Mapping[str, str],
    now: dt.datetime,
) -> dict[str, list[PartitionSessions]]:
    """``{ticker: [PartitionSessions by period]}`` of a run (see the module docstring).

    Untagged, sessions that have not closed at ``now`` are left out; a tag that asks for one is
    kept (``cached_bars`` then refuses it, naming it). A partition with no weekday left is dropped.
    """
    start = dt.date.fromisoformat(first_session())
    last = last_session()
    end = dt.date.fromisoformat(last) if last else dt.date.max
    tagged = SESSIONS_TAG in tags
    if tagged:
        tagged_first, tagged_last = parse_sessions_tag(tags[SESSIONS_TAG])
        start, end = max(start, tagged_first), min(end, tagged_last)
    grouped: dict[str, list[PartitionSessions]] = {}
    for key in partition_keys:
        if not isinstance(key, dg.MultiPartitionKey):
            key = period_ticker_partitions.get_partition_key_from_str(key)
        by_dimension = key.keys_by_dimension
        ticker, period = by_dimension[TICKER_DIMENSION], by_dimension[PERIOD_DIMENSION]
        first_day, last_day = period_days(period)
        first_day, last_day = max(first_day, start), min(last_day, end)
        if not tagged:
            last_day = closed_through(last_day, now)
        days = weekdays(first_day, last_day) if first_day <= last_day else []
        if days:
            grouped.setdefault(ticker, []).append(PartitionSessions(key, ticker, period, days))
    return {
        ticker: sorted(parts, key=lambda p: p.period) for ticker, parts in sorted(grouped.items())
    }


def _range_request(
    start: dg.MultiPartitionKey,
    end: dg.MultiPartitionKey,
    tags: dict[str, str],
    asset_selection: Sequence[dg.AssetKey] | None,
) -> dg.RunRequest:
    # A RunRequest covers a key range through Dagster's documented range tags.
    return dg.RunRequest(
        asset_selection=list(asset_selection) if asset_selection else None,
        tags={**tags, RANGE_START_TAG: str(start), RANGE_END_TAG: str(end)},
    )


def existing_weekdays(first: dt.date | str, last: dt.date | str) -> list[dt.date]:
    """Weekdays ``first..last`` clipped to ``ORB_FIRST_SESSION .. ORB_LAST_SESSION`` and to the
    periods that exist now; ``ValueError`` when none is left."""
    start = max(
        dt.date.fromisoformat(first_session()),
        period_days(period_partitions.get_first_partition_key())[0],
    )
    last_key = period_partitions.get_last_partition_key()
    end = period_days(last_key)[1] if last_key else start - dt.timedelta(days=1)
    if last_session():
        end = min(end, dt.date.fromisoformat(last_session()))
    days = [day for day in weekdays(first, last) if start <= day <= end]
    if not days:
        raise ValueError(
            f"no session partition between {first} and {last} (data partitions cover {start} to {end}; "
            "ORB_FIRST_SESSION and ORB_LAST_SESSION move them)"
        )
    return days


def sessions_tag(first: dt.date, last: dt.date) -> str:
    return first.isoformat() if first == last else f"{first}..{last}"


def ticker_range_run_requests(
    ticker: str,
    first: dt.date | str,
    last: dt.date | str,
    *,
    max_periods_per_run: int = 10,
    asset_selection: Sequence[dg.AssetKey] | None = None,
) -> list[dg.RunRequest]:
    """Run requests that build ``ticker``'s sessions ``first..last`` (inclusive, clipped to the
    data partitions): one run per ``max_periods_per_run`` periods (ten years is one run by
    default), tagged with the sessions; no other ticker is touched. The ticker must already be a
    ``tickers`` dynamic partition."""
    if max_periods_per_run < 1:
        raise ValueError(f"max_periods_per_run must be >= 1, got {max_periods_per_run}")
    days = existing_weekdays(first, last)
    periods: dict[str, list[dt.date]] = {}
    for day in days:
        periods.setdefault(period_key(day), []).append(day)
    keys = list(periods)
    requests = []
    for index in range(0, len(keys), max_periods_per_run):
        chunk = keys[index : index + max_periods_per_run]
        chunk_first, chunk_last = periods[chunk[0]][0], periods[chunk[-1]][-1]
        requests.append(
            _range_request(
                period_ticker_key(chunk[0], ticker),
                period_ticker_key(chunk[-1], ticker),
                {"orb/ticker": ticker, SESSIONS_TAG: sessions_tag(chunk_first, chunk_last)},
                asset_selection,
            )
        )
    return requests


def rectangle_run_request(
    first: dt.date | str,
    last: dt.date | str,
    tickers: Sequence[str],
    *,
    asset_selection: Sequence[dg.AssetKey] | None = None,
    run_key: str | None = None,
) -> dg.RunRequest:
    """One run request for the sessions ``first..last`` (clipped to the data partitions) of every
    ticker from ``tickers[0]`` to ``tickers[-1]`` in the ``tickers`` partitions' order (pass
    ``instance.get_dynamic_partitions("tickers")`` or a contiguous run of it). The run builds only
    those sessions: the daily update of every ticker is ``rectangle_run_request(day, day, tickers)``.
    """
    if not tickers:
        raise ValueError("tickers is empty")
    days = existing_weekdays(first, last)
    request = _range_request(
        session_key(days[0], tickers[0]),
        session_key(days[-1], tickers[-1]),
        {SESSIONS_TAG: sessions_tag(days[0], days[-1]), "orb/tickers": str(len(tickers))},
        asset_selection,
    )
    return request.with_replaced_attrs(run_key=run_key) if run_key else request


def sessions_run_request(
    session: dt.date | str,
    tickers: Sequence[str],
    *,
    asset_selection: Sequence[dg.AssetKey] | None = None,
) -> dg.RunRequest:
    """One run request that builds one session for every ticker in ``tickers`` (see
    ``rectangle_run_request``)."""
    return rectangle_run_request(session, session, tickers, asset_selection=asset_selection)


def materialize_requests(
    requests: Sequence[dg.RunRequest],
    *,
    assets: Sequence[dg.AssetsDefinition],
    resources: dict,
    instance: dg.DagsterInstance,
    run_config: dict | None = None,
) -> list[dg.ExecuteInProcessResult]:
    """Execute each request in-process as one run (``dg.materialize`` with its range tags).

    For the demo command and tests; a daemon or sensor launches the same requests instead.
    Stops at the first failed run (the results so far are returned with it last).
    """
    results = []
    for request in requests:
        selection = list(request.asset_selection) if request.asset_selection else None
        result = dg.materialize(
            assets,
            instance=instance,
            resources=resources,
            tags=dict(request.tags),
            selection=selection,
            run_config=run_config,
            raise_on_error=False,
        )
        results.append(result)
        if not result.success:
            break
    return results
