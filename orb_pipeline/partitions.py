"""Shared partitions: trading sessions x tickers, and run requests that cover many keys per run.

``session`` is a weekday time-window dimension (``YYYY-MM-DD``, Monday to Friday, New York time)
rather than a static list of exchange sessions: it grows by itself every day without a redeploy,
and the few exchange holidays among weekdays are materialized as empty partitions with a metadata
note (cheap, and a backfill over a date range stays one contiguous range). ``ticker`` is the
dynamic partitions definition ``tickers``.

Multi-partition keys are rectangles: a run tagged with the range ``first|T .. last|T`` covers every
session from ``first`` to ``last`` for ticker ``T``; the range ``D|A .. D|Z`` covers every ticker
(in the order they were added) for session ``D``. The data assets use ``BackfillPolicy.single_run``
and process every key of their run, so a UI backfill of one ticker's year is one run and a daily
update of every ticker is one run. Dagster has been reported to split multi-partition single-run
backfills whose keys are not a rectangle (dagster-io/dagster#18852, #23996); the helpers below
build rectangular requests explicitly, so schedules, sensors and the demo do not depend on that.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import dagster as dg

from orb_pipeline.calendar import as_date
from orb_pipeline.core import settings

SESSION_DIMENSION = "session"
TICKER_DIMENSION = "ticker"
TICKERS_PARTITIONS_NAME = "tickers"
SESSION_TIMEZONE = "America/New_York"


def first_session() -> str:
    """First partition date (``ORB_FIRST_SESSION``, default 2025-01-02); a name, not a secret."""
    return settings.current().first_session.isoformat()


# A weekday's window runs from its midnight to the next weekday's midnight (Friday's to Monday's),
# so without an offset Friday's partition would only exist on Monday. ``end_offset=1`` makes the
# current weekday's partition exist from its midnight in New York; ``cached_bars`` refuses a
# session that has not closed yet, so schedules run after the close.
session_partitions = dg.TimeWindowPartitionsDefinition(
    start=first_session(),
    cron_schedule="0 0 * * 1-5",
    fmt="%Y-%m-%d",
    timezone=SESSION_TIMEZONE,
    end_offset=1,
)
ticker_partitions = dg.DynamicPartitionsDefinition(name=TICKERS_PARTITIONS_NAME)
session_ticker_partitions = dg.MultiPartitionsDefinition(
    {SESSION_DIMENSION: session_partitions, TICKER_DIMENSION: ticker_partitions}
)


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


# Every key of a backfill goes into as few runs as its rectangles allow; the assets read
# ``context.partition_keys`` and handle any number of sessions and tickers per run.
backfill_policy = dg.BackfillPolicy.single_run()


def session_ticker_key(session: dt.date | str, ticker: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey(
        {SESSION_DIMENSION: as_date(session, "session").isoformat(), TICKER_DIMENSION: ticker}
    )


def keys_by_ticker(
    partition_keys: Iterable[str | dg.MultiPartitionKey],
) -> dict[str, list[dt.date]]:
    """Group multi-partition keys into ``{ticker: sorted session dates}``."""
    grouped: dict[str, set[dt.date]] = {}
    for key in partition_keys:
        if not isinstance(key, dg.MultiPartitionKey):
            key = session_ticker_partitions.get_partition_key_from_str(key)
        by_dimension = key.keys_by_dimension
        grouped.setdefault(by_dimension[TICKER_DIMENSION], set()).add(
            dt.date.fromisoformat(by_dimension[SESSION_DIMENSION])
        )
    return {ticker: sorted(days) for ticker, days in sorted(grouped.items())}


def weekdays(first: dt.date | str, last: dt.date | str) -> list[dt.date]:
    """Session-dimension dates (Monday to Friday) from ``first`` to ``last``, inclusive."""
    day, end = as_date(first, "first_session"), as_date(last, "last_session")
    out = []
    while day <= end:
        if day.weekday() < 5:
            out.append(day)
        day += dt.timedelta(days=1)
    return out


RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


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
    """Weekdays ``first..last`` clipped to the session partitions that exist (from
    ``ORB_FIRST_SESSION`` to the last complete day); ``ValueError`` when none is left."""
    start = dt.date.fromisoformat(session_partitions.get_first_partition_key())
    end = dt.date.fromisoformat(session_partitions.get_last_partition_key())
    days = [day for day in weekdays(first, last) if start <= day <= end]
    if not days:
        raise ValueError(
            f"no session partition between {first} and {last} (partitions run from {start} to {end}; "
            "ORB_FIRST_SESSION moves the start)"
        )
    return days


def ticker_range_run_requests(
    ticker: str,
    first: dt.date | str,
    last: dt.date | str,
    *,
    max_sessions_per_run: int = 366,
    asset_selection: Sequence[dg.AssetKey] | None = None,
) -> list[dg.RunRequest]:
    """Run requests that materialize ``ticker`` for every weekday ``first..last`` (inclusive,
    clipped to the existing session partitions).

    One run per ``max_sessions_per_run`` weekdays (a year is one run by default); no other ticker
    is touched. The ticker must already be a ``tickers`` dynamic partition.
    """
    if max_sessions_per_run < 1:
        raise ValueError(f"max_sessions_per_run must be >= 1, got {max_sessions_per_run}")
    days = existing_weekdays(first, last)
    requests = []
    for start in range(0, len(days), max_sessions_per_run):
        chunk = days[start : start + max_sessions_per_run]
        requests.append(
            _range_request(
                session_ticker_key(chunk[0], ticker),
                session_ticker_key(chunk[-1], ticker),
                {"orb/ticker": ticker, "orb/sessions": f"{chunk[0]}..{chunk[-1]}"},
                asset_selection,
            )
        )
    return requests


def sessions_run_request(
    session: dt.date | str,
    tickers: Sequence[str],
    *,
    asset_selection: Sequence[dg.AssetKey] | None = None,
) -> dg.RunRequest:
    """One run request that materializes one session for every ticker in ``tickers``.

    ``tickers`` must be the full, ordered list of ``tickers`` partitions (``instance.get_dynamic_partitions``)
    or a contiguous run of it: the range spans from its first to its last entry in that order.
    """
    if not tickers:
        raise ValueError("tickers is empty")
    [day] = existing_weekdays(session, session)
    return _range_request(
        session_ticker_key(day, tickers[0]),
        session_ticker_key(day, tickers[-1]),
        {"orb/sessions": day.isoformat()},
        asset_selection,
    )


def rectangle_run_request(
    first: dt.date | str,
    last: dt.date | str,
    tickers: Sequence[str],
    *,
    asset_selection: Sequence[dg.AssetKey] | None = None,
) -> dg.RunRequest:
    """One run request for every weekday ``first..last`` (clipped to existing partitions) of every
    ticker from ``tickers[0]`` to ``tickers[-1]`` in the ``tickers`` partitions' order (pass
    ``instance.get_dynamic_partitions("tickers")`` or a contiguous run of it). For the demo and
    small universes; prefer one ticker per run for long backfills (a failure then costs one ticker).
    """
    if not tickers:
        raise ValueError("tickers is empty")
    days = existing_weekdays(first, last)
    return _range_request(
        session_ticker_key(days[0], tickers[0]),
        session_ticker_key(days[-1], tickers[-1]),
        {"orb/sessions": f"{days[0]}..{days[-1]}"},
        asset_selection,
    )


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
