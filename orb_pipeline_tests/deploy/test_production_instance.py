"""deploy/dagster.yaml loads against a real PostgreSQL and stores runs and events there."""

import dagster as dg
import sqlalchemy as sa
import yaml

from orb_pipeline_tests.deploy.conftest import DEPLOY


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["2024-01-02", "2024-01-03"]))
def probe(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
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
    url = sa.engine.URL.create(
        "postgresql+psycopg2",
        username=postgres_database["user"],
        password=postgres_database["password"] or None,
        host=postgres_database["host"],
        port=postgres_database["port"],
        database=postgres_database["database"],
    )
    engine = sa.create_engine(url)
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
