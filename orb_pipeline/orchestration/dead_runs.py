"""``dead_run_sensor``: runs whose process was killed are failed and their pool slots freed.

A run started by the local instance's default launcher (``dagster dev``, the compose stack, the
demo, ``dagster asset materialize``) runs in a process on this machine. When that process dies
without a word (kill -9, the OOM killer), Dagster never hears of it: the run stays ``STARTED``
for ever and keeps its ``warehouse`` / ``results_db`` pool slots, so later runs wait on "Step
still blocked by limit for pool". This sensor finds ``STARTED`` runs whose run worker (the pid of
the run's start event) no longer exists, reports them failed (which also alerts) and frees their
slots at once. Where the launcher can check its workers itself (``EcsRunLauncher`` on ECS), run
monitoring does this instead and the sensor leaves runs alone; ``free_slots_after_run_end_seconds``
in the instance frees the slots of runs that ended any other way.
"""

from __future__ import annotations

import dagster as dg

from orb_pipeline.core.files import process_alive


def run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid that started ``run_id`` (its ``RUN_START`` event), or None before it started."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_START):
        if entry.dagster_event is not None and entry.dagster_event.pid:
            return entry.dagster_event.pid
    return None


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail every ``STARTED`` run of this machine whose worker process is gone and free its pool
    slots; returns their run ids. Does nothing where the run launcher checks its own workers."""
    if instance.run_launcher.supports_check_run_worker_health:
        return []
    failed = []
    for record in instance.get_run_records(
        dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]), limit=1000
    ):
        run = record.dagster_run
        pid = run_worker_pid(instance, run.run_id)
        if pid is None or process_alive(pid):
            continue
        instance.report_run_failed(
            run,
            f"run worker process {pid} is gone (killed, or out of memory) while the run was "
            "STARTED; failed by dead_run_sensor, its pool slots freed",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed


@dg.sensor(
    name="dead_run_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Fails STARTED runs whose process on this machine was killed, and frees their "
    "pool slots (local instance; on ECS run monitoring does it).",
)
def dead_run_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    failed = fail_dead_runs(context.instance)
    if failed:
        context.log.warning(f"failed {len(failed)} dead run(s): {', '.join(failed)}")
        return dg.SkipReason(f"failed {len(failed)} dead run(s) and freed their pool slots")
    return dg.SkipReason("no dead runs")
