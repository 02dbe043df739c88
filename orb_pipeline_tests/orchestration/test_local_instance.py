"""The local instance (top-level dagster.yaml): queued runs with limits, pools, run monitoring,
run retries, and every file under DAGSTER_HOME."""

import shutil
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[2]


@dg.asset
def probe() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"ok": True})


def test_local_instance_queues_limits_monitors_and_retries(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        concurrency = instance.get_concurrency_config()
        queue = concurrency.run_queue_config
        assert queue.max_concurrent_runs == 4
        limits = {
            (limit["key"], limit["value"]): limit["limit"] for limit in queue.tag_concurrency_limits
        }
        assert limits == {("orb/kind", "daily"): 1, ("orb/kind", "sweep"): 2}
        assert concurrency.pool_config.default_pool_limit == 2
        assert concurrency.pool_config.pool_granularity.value == "op"
        assert (
            instance.run_monitoring_enabled and instance.run_monitoring_start_timeout_seconds == 180
        )
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2

        result = dg.materialize([probe], instance=instance)
        assert result.success
    finally:
        instance.dispose()
    # Storage is DAGSTER_HOME's (the paths .gitignore lists for the repository root).
    assert (home / "history" / "runs.db").is_file()
    assert (home / "history" / "runs" / f"{result.run_id}.db").is_file()
    assert (home / "schedules").is_dir()
    assert {p.name for p in home.iterdir()} <= {
        "dagster.yaml",
        "history",
        "logs",
        "schedules",
        "storage",
    }
