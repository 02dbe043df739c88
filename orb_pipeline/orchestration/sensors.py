"""Research sensor: compressed series -> staged window -> sweeps -> leaderboard, per ticker.

A cursor-based ``dg.sensor`` over the event log (not ``asset_sensor``, which sees one event per
tick): every tick reads *all* materializations since its cursor (the storage id reached per
asset), so any number of partitions landing between two ticks are handled together.

- ``compressed_series`` gained sessions for ticker T -> one ``stage_window_job`` run for T over its
  longest fully materialized window of exchange sessions ending at its newest session (starting
  no earlier than ``ORB_WINDOW_FIRST`` when set);
- ``staged_window`` T materialized -> ``sweep_job`` runs that cover every parameter chunk of T,
  each a range of chunks sized by work (``sweep_plan.plan_ticker``: the default grid is one run);
- every chunk of T has ``sweep_results`` newer than T's latest staged window -> one
  ``leaderboard_job`` run for T;

The last step of the chain, ``leaderboard`` -> ``walk_forward`` and ``monte_carlo``, is Dagster's
declarative automation (``validation.assets.AFTER_LEADERBOARD``, acted on by the
``validation_automation`` sensor), so the UI shows why each validation run launched. The three
steps above stay in this hand-written sensor because declarative automation cannot express them:

- staging needs run configuration (the window's bounds, computed from which sessions exist);
- the sweeps are launched as ranges of chunk partitions sized by estimated work, with per-run ECS
  tags (an automation condition requests partitions, not sized ranges);
- the leaderboard is a fan-in over *all* chunks swept since the ticker's latest staging (an
  automation condition sees "a dependency updated", not "every chunk newer than that staging").

Run keys carry the triggering storage ids, so a re-evaluated tick never launches a run twice.
The first tick after the sensor is turned on only records where the event log stands.
"""

# No `from __future__ import annotations`: Dagster reads the sensor's resource annotation.
import datetime as dt
import json
from collections.abc import Sequence

import dagster as dg

from orb_pipeline.calendar import session_table
from orb_pipeline.core import settings
from orb_pipeline.core.cache_store import SERIES_PREFIX, CacheStore
from orb_pipeline.core.event_log import (
    latest_materialization,
    latest_storage_ids,
    materializations,
)
from orb_pipeline.core.lineage import COMPRESSED_SERIES, STAGED_WINDOW, SWEEP_RESULTS
from orb_pipeline.data_stage import stored_sessions
from orb_pipeline.orchestration.ecs import fargate_spot_requested
from orb_pipeline.orchestration.jobs import (
    LEADERBOARD_JOB,
    STAGE_WINDOW_JOB,
    SWEEP_JOB,
)
from orb_pipeline.orchestration.sweep_plan import plan_ticker, sweep_run_request
from orb_pipeline.partitions import (
    CHUNK_DIMENSION,
    PERIOD_DIMENSION,
    TICKER_DIMENSION,
    period_days,
    period_ticker_partitions,
)
from orb_pipeline.sweeps.assets import sweep_partitions
from orb_pipeline.sweeps.grid import SweepSettings

WATCHED = (COMPRESSED_SERIES, STAGED_WINDOW, SWEEP_RESULTS)


def window_first() -> dt.date:
    """``ORB_WINDOW_FIRST``, else ``ORB_FIRST_SESSION``."""
    chosen = settings.current()
    return chosen.window_first or chosen.first_session


def staged_window_bounds(present: set[dt.date], newest: dt.date) -> tuple[dt.date, dt.date] | None:
    """Longest run of exchange sessions ending at ``newest`` that are all in ``present`` (the
    ticker's stored ``compressed_series`` sessions), not before ``window_first()``; None when
    ``newest`` is not an exchange session of that range."""
    first = window_first()
    if newest < first:
        return None
    sessions = session_table(first, newest)["session_date"].to_list()
    if not sessions or sessions[-1] != newest:
        return None
    start = None
    for day in reversed(sessions):
        if day not in present:
            break
        start = day
    return (start, newest) if start else None


def window_sessions(staged: dg.EventLogRecord) -> int:
    """Exchange sessions of the window a ``staged_window`` materialization recorded."""
    metadata = staged.asset_materialization.metadata
    first, last = (
        dt.date.fromisoformat(metadata[name].value) for name in ("window_start", "window_end")
    )
    return max(1, session_table(first, last).height)


def research_requests(
    instance: dg.DagsterInstance,
    cursor: dict[str, int],
    settings: SweepSettings,
    cache: CacheStore,
) -> tuple[list[dg.RunRequest], dict[str, int], list[str]]:
    """Run requests for everything materialized since ``cursor``; returns (requests, cursor, notes).

    A ``compressed_series`` materialization of (period, ticker) restages the ticker's window
    ending at its newest stored session of that period (from the cache's files)."""
    chunk_keys = settings.chunk_keys()
    sweep_def = sweep_partitions(settings)
    requests: list[dg.RunRequest] = []
    notes: list[str] = []
    seen = {
        key: materializations(instance, key, after_storage_id=cursor.get(key.to_user_string()))
        for key in WATCHED
    }
    next_cursor = dict(cursor)
    for key, records in seen.items():
        if records:
            next_cursor[key.to_user_string()] = max(r.storage_id for r in records)

    # 1. New compressed sessions -> restage the ticker's window.
    newest: dict[str, tuple[dt.date, int]] = {}
    stored: dict[str, set[dt.date]] = {}
    for record in seen[COMPRESSED_SERIES]:
        if not record.partition_key:
            continue
        keys = period_ticker_partitions.get_partition_key_from_str(
            record.partition_key
        ).keys_by_dimension
        ticker = keys[TICKER_DIMENSION]
        if ticker not in stored:
            stored[ticker] = stored_sessions(cache, SERIES_PREFIX, ticker)
        period_first, period_last = period_days(keys[PERIOD_DIMENSION])
        in_period = [day for day in stored[ticker] if period_first <= day <= period_last]
        if not in_period:
            notes.append(f"{ticker}: no stored compressed session in {keys[PERIOD_DIMENSION]}")
            continue
        previous = newest.get(ticker)
        day = max(in_period)
        newest[ticker] = (max(day, previous[0]) if previous else day, record.storage_id)
    for ticker, (day, storage_id) in sorted(newest.items()):
        bounds = staged_window_bounds(stored[ticker], day)
        if bounds is None:
            notes.append(
                f"{ticker}: newest compressed session {day} is not an exchange session; not staged"
            )
            continue
        first, last = bounds
        requests.append(
            dg.RunRequest(
                job_name=STAGE_WINDOW_JOB,
                partition_key=ticker,
                run_key=f"stage-{ticker}-{storage_id}",
                run_config={
                    "ops": {
                        STAGED_WINDOW.to_user_string(): {
                            "config": {
                                "first_session": first.isoformat(),
                                "last_session": last.isoformat(),
                            }
                        }
                    }
                },
                tags={"orb/ticker": ticker, "orb/sessions": f"{first}..{last}"},
            )
        )

    # 2. A newly staged window -> sweep every chunk of it, in runs sized by work.
    staged: dict[str, dg.EventLogRecord] = {}
    for record in seen[STAGED_WINDOW]:
        if record.partition_key:
            staged[record.partition_key] = record
    spot = fargate_spot_requested()
    for ticker, record in sorted(staged.items()):
        for run in plan_ticker(settings, ticker, window_sessions(record)):
            run_key = f"sweep-{ticker}-{run.chunks[0]}-{run.chunks[-1]}-{record.storage_id}"
            requests.append(sweep_run_request(run, run_key, job_name=SWEEP_JOB, spot=spot))

    # 3. All chunks swept since the latest staging -> rank.
    swept = {
        sweep_def.get_partition_key_from_str(record.partition_key).keys_by_dimension[
            TICKER_DIMENSION
        ]
        for record in seen[SWEEP_RESULTS]
        if record.partition_key
    }
    for ticker in sorted(swept):
        staged = latest_materialization(instance, STAGED_WINDOW, ticker)
        staged_id = staged.storage_id if staged is not None else None
        if staged_id is None:
            continue
        chunk_partitions = [
            str(dg.MultiPartitionKey({TICKER_DIMENSION: ticker, CHUNK_DIMENSION: chunk}))
            for chunk in chunk_keys
        ]
        done = {
            record.partition_key
            for record in materializations(
                instance, SWEEP_RESULTS, partitions=chunk_partitions, after_storage_id=staged_id
            )
        }
        if done >= set(chunk_partitions):
            requests.append(
                dg.RunRequest(
                    job_name=LEADERBOARD_JOB,
                    partition_key=ticker,
                    run_key=f"leaderboard-{ticker}-{staged_id}",
                    tags={"orb/ticker": ticker},
                )
            )
        else:
            notes.append(
                f"{ticker}: {len(done)}/{len(chunk_partitions)} chunks swept since staging"
            )

    return requests, next_cursor, notes


def build_research_sensor(
    jobs: "Sequence[dg.UnresolvedAssetJobDefinition]", settings: SweepSettings
) -> dg.SensorDefinition:
    @dg.sensor(
        name="research_sensor",
        jobs=[job for job in jobs if job.name in {STAGE_WINDOW_JOB, SWEEP_JOB, LEADERBOARD_JOB}],
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="New compressed sessions -> stage the ticker's window -> sweep every chunk -> "
        "leaderboard (cursor over the event log; many partitions per tick); validation follows "
        "by declarative automation (validation_automation).",
    )
    def research_sensor(context: dg.SensorEvaluationContext, cache: CacheStore):
        if context.cursor is None:
            # First tick after the sensor is turned on: start from now rather than restaging
            # every ticker for its whole history (the daily schedule and the UI cover that).
            start = latest_storage_ids(context.instance, WATCHED)
            return dg.SensorResult(
                cursor=json.dumps(start, sort_keys=True),
                skip_reason="started: reacting to materializations from now on",
            )
        cursor = json.loads(context.cursor)
        requests, next_cursor, notes = research_requests(context.instance, cursor, settings, cache)
        for note in notes:
            context.log.info(note)
        if not requests and next_cursor == cursor:
            return dg.SkipReason("nothing materialized since the last tick")
        return dg.SensorResult(
            run_requests=requests, cursor=json.dumps(next_cursor, sort_keys=True)
        )

    return research_sensor
