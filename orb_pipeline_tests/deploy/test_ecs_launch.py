"""A sweep-partition run goes the production way: `dagster job launch` queues it on the
deploy/dagster.yaml instance (PostgreSQL), the daemon dequeues it and EcsRunLauncher starts it on
(moto's) ECS, copying the daemon task's network, with CPU, memory and numba threads derived from
the configured chunk size. Code comes from a real gRPC code server through deploy/workspace.yaml."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from orb_pipeline_tests.deploy.conftest import DEPLOY
from orb_pipeline_tests.services import free_port

# 3 x 20 x 5 x 10 x 20 = 60,000 backtests in one chunk: more than 25,000 per vCPU, so 2 vCPUs
# (2048 units); 1,536 MiB + 60,000 x 2 KiB = 1,653 MiB, below Fargate's 4,096 MiB minimum for
# 2 vCPUs -> 4096. numba gets 2 threads.
GRID_TOML = """
chunks = 1
[[blocks]]
range_seconds = [30, 60, 300]
stop_distance = {start = 0.1, stop = 2.0, step = 0.1}
stop_count_limit = [1, 2, 3, 4, 5]
stop_cooloff_period = {start = 30, stop = 300, step = 30}
limit_distance = {start = 1, stop = 20, step = 1}
"""
EXPECTED_CPU, EXPECTED_MEMORY, EXPECTED_THREADS = 2048, 4096, "2"


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for_code_server(port: int, env: dict, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"code server exited:\n{log.read_text()[-3000:]}")
        check = subprocess.run(
            [_bin("dagster"), "api", "grpc-health-check", "-p", str(port), "--host", "127.0.0.1"],
            env=env,
            capture_output=True,
        )
        if check.returncode == 0:
            return
        time.sleep(1)
    pytest.fail(f"code server did not answer on {port}:\n{log.read_text()[-3000:]}")


def test_sweep_run_is_launched_as_a_sized_ecs_task(production_home, fake_aws, tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID_TOML)
    port = free_port()
    env = {
        **os.environ,
        "ORB_SWEEP_GRID": str(grid),
        "ORB_DATA_DIR": str(tmp_path / "data"),
        "ORB_CODE_SERVER_HOST": "127.0.0.1",
        "ORB_CODE_SERVER_PORT": str(port),
        "DAGSTER_CURRENT_IMAGE": "orb-pipeline:test",
    }
    instance = dg.DagsterInstance.get()
    instance.add_dynamic_partitions("tickers", ["SPY"])
    code_log, daemon_log = tmp_path / "code.log", tmp_path / "daemon.log"
    code_server = _start(
        [
            _bin("dagster"),
            "api",
            "grpc",
            "-m",
            "orb_pipeline.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env,
        code_log,
    )
    daemon = None
    try:
        _wait_for_code_server(port, env, code_server, code_log)
        partition = str(dg.MultiPartitionKey({"ticker": "SPY", "chunk": "000"}))
        launch = subprocess.run(
            [
                _bin("dagster"),
                "job",
                "launch",
                "-w",
                str(DEPLOY / "workspace.yaml"),
                "-j",
                "sweep_job",
                "--tags",
                json.dumps(
                    {
                        "dagster/partition": partition,
                        "dagster/partition/ticker": "SPY",
                        "dagster/partition/chunk": "000",
                        "orb/ticker": "SPY",
                    }
                ),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert launch.returncode == 0, launch.stdout + launch.stderr
        (run,) = instance.get_runs(dg.RunsFilter(job_name="sweep_job"))
        assert run.status == dg.DagsterRunStatus.QUEUED  # the queued coordinator holds it

        daemon = _start(
            [_bin("dagster-daemon"), "run", "-w", str(DEPLOY / "workspace.yaml")], env, daemon_log
        )
        deadline = time.monotonic() + 150
        while "ecs/task_arn" not in run.tags and time.monotonic() < deadline:
            if daemon.poll() is not None:
                pytest.fail(f"daemon exited:\n{daemon_log.read_text()[-3000:]}")
            time.sleep(1)
            run = instance.get_run_by_id(run.run_id)
        assert "ecs/task_arn" in run.tags, daemon_log.read_text()[-5000:]
    finally:
        if daemon is not None:
            _stop(daemon)
        _stop(code_server)
        instance.dispose()

    ecs = fake_aws.client("ecs")
    (task,) = ecs.describe_tasks(cluster=fake_aws.cluster_arn, tasks=[run.tags["ecs/task_arn"]])[
        "tasks"
    ]
    assert task["taskDefinitionArn"] == fake_aws.run_task_definition_arn
    assert task["launchType"] == "FARGATE"
    # The run task joins the daemon's subnet (use_current_ecs_task_config).
    (attachment,) = task["attachments"]
    details = {d["name"]: d["value"] for d in attachment["details"]}
    assert details["subnetId"] == fake_aws.subnet_id

    overrides = task["overrides"]
    assert (overrides["cpu"], overrides["memory"]) == (str(EXPECTED_CPU), str(EXPECTED_MEMORY))
    (container,) = overrides["containerOverrides"]
    assert container["name"] == "run"
    assert (container["cpu"], container["memory"]) == (EXPECTED_CPU, EXPECTED_MEMORY)
    assert container["command"][:3] == ["dagster", "api", "execute_run"]
    assert run.run_id in container["command"][-1]
    assert {"name": "NUMBA_NUM_THREADS", "value": EXPECTED_THREADS} in container["environment"]

    tags = {
        t["key"]: t["value"]
        for t in ecs.list_tags_for_resource(resourceArn=task["taskArn"])["tags"]
    }
    assert tags["dagster/run_id"] == run.run_id
    assert tags["dagster/job_name"] == "sweep_job"
    assert tags["project"] == "orb_pipeline"
    assert tags["orb/kind"] == "sweep" and tags["orb/ticker"] == "SPY"
    # Real ECS rejects tag values outside this alphabet (moto does not check it).
    for key, value in tags.items():
        assert re.fullmatch(r"[\w\s+\-=.:/@]*", value), (key, value)
