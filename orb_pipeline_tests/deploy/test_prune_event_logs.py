"""prune_event_logs_job on the production instance (deploy/dagster.yaml on a real PostgreSQL): old
runs go with their events, except runs holding an asset partition's latest materialization."""

import datetime as dt

import dagster as dg
import sqlalchemy as sa

from orb_pipeline.orchestration.cleanup import prune_event_logs_job, prune_runs
from orb_pipeline_tests.deploy.conftest import postgres_engine

days = dg.StaticPartitionsDefinition(["p1", "p2"])


@dg.asset(partitions_def=days)
def table(context: dg.AssetExecutionContext) -> None:
    context.log.info(f"wrote {context.partition_key}")


@dg.asset
def broken() -> None:
    raise ValueError("boom")


def _event_counts(postgres_database: dict) -> dict[str, int]:
    engine = postgres_engine(postgres_database)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT run_id, count(*) FROM event_logs GROUP BY run_id")
            ).all()
            runs = connection.execute(sa.text("SELECT run_id FROM runs")).scalars().all()
    finally:
        engine.dispose()
    return {run_id: dict(rows).get(run_id, 0) for run_id in runs}


def test_old_runs_are_deleted_with_their_events_latest_materializations_kept(
    production_home, postgres_database
):
    instance = dg.DagsterInstance.get()
    try:
        superseded = dg.materialize([table], instance=instance, partition_key="p1").run_id
        latest_p1 = dg.materialize([table], instance=instance, partition_key="p1").run_id
        only_p2 = dg.materialize([table], instance=instance, partition_key="p2").run_id
        failed = dg.materialize([broken], instance=instance, raise_on_error=False).run_id
        before = _event_counts(postgres_database)
        assert set(before) == {superseded, latest_p1, only_p2, failed}
        assert all(count > 0 for count in before.values())

        # Nothing is old enough yet: nothing goes.
        report = prune_runs(instance, dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        assert report.deleted_runs == [] and report.kept_as_latest == 0

        # Everything is old: the superseded and the failed run go, the latest of p1 and p2 stay.
        report = prune_runs(instance, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
        assert sorted(report.deleted_runs) == sorted([superseded, failed])
        assert report.kept_as_latest == 2
        assert instance.get_run_by_id(superseded) is None
        latest = instance.get_latest_materialization_event(dg.AssetKey("table"))
        assert latest is not None and latest.run_id == only_p2
        materialized = instance.get_materialized_partitions(dg.AssetKey("table"))
        assert materialized == {"p1", "p2"}
    finally:
        instance.dispose()
    # Independently of Dagster: the rows are gone from PostgreSQL.
    after = _event_counts(postgres_database)
    assert set(after) == {latest_p1, only_p2}
    assert after[latest_p1] == before[latest_p1] and after[only_p2] == before[only_p2]


def test_the_job_reads_its_retention_from_the_settings(production_home, monkeypatch):
    monkeypatch.setenv("ORB_EVENT_LOG_RETENTION_DAYS", "30")
    instance = dg.DagsterInstance.get()
    try:
        dg.materialize([broken], instance=instance, raise_on_error=False)
        result = prune_event_logs_job.execute_in_process(instance=instance)
        assert result.success
        # The failed run finished seconds ago, within the 30 days: still there.
        failed = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
        assert len(failed) == 1
        cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).strftime("%Y-%m-%d")
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
        assert any(f"deleted 0 runs finished before {cutoff}" in m for m in messages), messages
    finally:
        instance.dispose()


def test_definitions_register_the_operations_sensors_and_schedules():
    from orb_pipeline.definitions import defs

    assert {"run_failure_alert", "failed_check_alert", "dead_run_sensor"} <= {
        sensor.name for sensor in defs.sensors
    }
    assert {"freshness_schedule", "prune_event_logs_schedule"} <= {
        schedule.name for schedule in defs.schedules
    }
