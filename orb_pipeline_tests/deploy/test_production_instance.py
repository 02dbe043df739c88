"""deploy/dagster.yaml loads against a real PostgreSQL and stores runs and events there."""

import os

import dagster as dg
import sqlalchemy as sa
import yaml

from orb_pipeline_tests.deploy.conftest import DEPLOY, postgres_engine


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["2024-01-02", "2024-01-03"]))
def probe(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    print(f"probe stdout for {context.partition_key}")  # noqa: T201 - the captured step log
    return dg.MaterializeResult(metadata={"session": context.partition_key})


def test_every_connection_value_comes_from_the_environment():
    config = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    postgres = config["storage"]["postgres"]["postgres_db"]
    for key in ("hostname", "port", "username", "password", "db_name"):
        assert set(postgres[key]) == {"env"}, f"{key} must come from the environment"
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    assert launcher["config"]["task_definition"] == {"env": "ORB_ECS_RUN_TASK_DEFINITION"}
    assert config["run_monitoring"]["start_timeout_seconds"] > 0
    assert config["run_retries"]["enabled"] and config["run_retries"]["max_retries"] >= 1
    # Slots of runs that died holding them are freed; step logs outlive the task.
    assert config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0
    compute_logs = config["compute_logs"]
    assert (compute_logs["module"], compute_logs["class"]) == (
        "dagster_aws.s3.compute_log_manager",
        "S3ComputeLogManager",
    )
    assert compute_logs["config"]["bucket"] == {"env": "DAGSTER_COMPUTE_LOGS_BUCKET"}


def test_runs_and_materializations_round_trip_through_postgres(production_home, postgres_database):
    instance = dg.DagsterInstance.get()
    try:
        assert type(instance.run_launcher).__name__ == "EcsRunLauncher"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        concurrency = instance.get_concurrency_config()
        assert concurrency.run_queue_config.max_concurrent_runs == 40
        assert concurrency.pool_config.default_pool_limit == 16
        assert instance.run_monitoring_start_timeout_seconds == 600
        assert instance.run_monitoring_max_resume_run_attempts == 2
        assert instance.run_retries_max_retries == 2
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 120
        result = dg.materialize([probe], instance=instance, partition_key="2024-01-03")
        assert result.success
        stored = instance.get_run_by_id(result.run_id)
        assert stored is not None and stored.status == dg.DagsterRunStatus.SUCCESS
        assert stored.tags["dagster/partition"] == "2024-01-03"
        event = instance.get_latest_materialization_event(dg.AssetKey("probe"))
        assert event is not None and event.run_id == result.run_id
        assert event.asset_materialization.metadata["session"].value == "2024-01-03"
    finally:
        instance.dispose()

    # Independently of Dagster: the rows are in the PostgreSQL database the variables name.
    engine = postgres_engine(postgres_database)
    try:
        with engine.connect() as connection:
            run_ids = connection.execute(sa.text("SELECT run_id FROM runs")).scalars().all()
            materializations = connection.execute(
                sa.text(
                    "SELECT count(*) FROM event_logs WHERE run_id = :run_id "
                    "AND dagster_event_type = 'ASSET_MATERIALIZATION'"
                ),
                {"run_id": result.run_id},
            ).scalar_one()
    finally:
        engine.dispose()
    assert run_ids == [result.run_id]
    assert materializations == 1


def test_step_logs_go_to_s3(production_home, fake_aws):
    instance = dg.DagsterInstance.get()
    try:
        assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"
        result = dg.materialize([probe], instance=instance, partition_key="2024-01-02")
        assert result.success
    finally:
        instance.dispose()
    # Read independently of Dagster, from the bucket the variable names.
    s3 = fake_aws.client("s3")
    bucket = os.environ["DAGSTER_COMPUTE_LOGS_BUCKET"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys and all(key.startswith("compute-logs/storage/") for key in keys)
    logs = b"".join(s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys)
    assert b"probe stdout for 2024-01-02" in logs
