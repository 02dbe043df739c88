"""``prune_event_logs_job``: delete finished runs older than the retention, with their events.

The event log grows with every run (runs, steps, materializations, logs). Daily, runs that
finished more than ``retention_days`` ago (default ``ORB_EVENT_LOG_RETENTION_DAYS``, 90) are
deleted with ``DagsterInstance.delete_run`` (the run and all its events), except a run that holds
the latest materialization of some asset partition: deleting it would make that partition look
never materialized (the UI, the research sensor and ``expected_window`` read those records).
"""

import datetime as dt
from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from orb_pipeline.core import settings

FINISHED = [
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
]
_BATCH = 500


@dataclass(frozen=True)
class PruneReport:
    deleted_runs: list[str]
    kept_as_latest: int  # old runs kept: they hold an asset partition's latest materialization


def latest_materialization_run_ids(instance: dg.DagsterInstance) -> set[str]:
    """Runs holding the latest materialization of any asset (per partition when partitioned)."""
    protected: set[str] = set()
    for key in instance.get_asset_keys():
        latest = instance.get_latest_materialization_event(key)
        if latest is not None:
            protected.add(latest.run_id)
        storage_ids = sorted(
            instance.get_latest_storage_id_by_partition(
                key, dg.DagsterEventType.ASSET_MATERIALIZATION
            ).values()
        )
        for start in range(0, len(storage_ids), _BATCH):
            chunk = storage_ids[start : start + _BATCH]
            result = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, storage_ids=chunk), limit=len(chunk)
            )
            protected.update(record.run_id for record in result.records)
    return protected


def prune_runs(instance: dg.DagsterInstance, finished_before: dt.datetime) -> PruneReport:
    """Delete runs that finished before ``finished_before`` (aware) and hold no latest
    materialization; returns what was deleted and how many old runs were kept."""
    protected = latest_materialization_run_ids(instance)
    deleted, kept, cursor = [], 0, None
    while True:
        records = instance.get_run_records(
            dg.RunsFilter(statuses=FINISHED, updated_before=finished_before),
            limit=_BATCH,
            cursor=cursor,
        )
        for record in records:
            run_id = record.dagster_run.run_id
            if run_id in protected:
                kept += 1
            else:
                deleted.append(run_id)
        if len(records) < _BATCH:
            break
        cursor = records[-1].dagster_run.run_id
    # Deleted after paging, so the cursor's run still exists while it is used.
    for run_id in deleted:
        instance.delete_run(run_id)
    return PruneReport(deleted, kept)


class PruneConfig(dg.Config):
    retention_days: int = Field(
        default_factory=lambda: settings.current().event_log_retention_days,
        ge=1,
        description="delete finished runs older than this many days (ORB_EVENT_LOG_RETENTION_DAYS)",
    )


@dg.op(description="Delete finished runs older than the retention, with their events.")
def prune_event_logs(context: dg.OpExecutionContext, config: PruneConfig) -> None:
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=config.retention_days)
    report = prune_runs(context.instance, cutoff)
    context.log.info(
        f"deleted {len(report.deleted_runs)} runs finished before {cutoff:%Y-%m-%d %H:%M} UTC "
        f"with their events; kept {report.kept_as_latest} that hold a latest materialization"
    )


@dg.job(
    name="prune_event_logs_job",
    tags={"orb/kind": "maintenance", "dagster/max_runtime": "3600"},
    description="Deletes finished runs older than ORB_EVENT_LOG_RETENTION_DAYS and their events.",
)
def prune_event_logs_job():
    prune_event_logs()


prune_event_logs_schedule = dg.ScheduleDefinition(
    name="prune_event_logs_schedule",
    job=prune_event_logs_job,
    cron_schedule="30 3 * * *",
    execution_timezone="America/New_York",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
