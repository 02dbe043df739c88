"""kill -9 of two runs holding both ``warehouse`` pool slots, then a third run completes: the
dead_run_sensor fails the dead runs and frees their slots (on the repository's dagster.yaml)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from orb_pipeline.orchestration.dead_runs import dead_run_sensor, fail_dead_runs

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def local_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")  # pools: 2 slots each
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _start_run(tmp_path: Path, name: str, seconds: float) -> tuple[subprocess.Popen, Path]:
    pid_file = tmp_path / (name + ".pid")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orb_pipeline_tests.orchestration.pool_runs",
            str(pid_file),
            str(seconds),
        ],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return process, pid_file


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, f"{path.name}: the step never started"
        time.sleep(0.2)


def test_two_killed_runs_do_not_block_the_third(local_home, tmp_path):
    killed = []
    for name in ("first", "second"):
        process, pid_file = _start_run(tmp_path, name, 600)
        _wait_for(pid_file, process)
        killed.append(process)
    for process in killed:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        process.stderr.close()

    with dg.DagsterInstance.get() as instance:
        started = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        assert len(started) == 2  # what Dagster believes without the sensor: for ever
        info = instance.event_log_storage.get_concurrency_info("warehouse")
        assert info.slot_count == 2 and len(info.claimed_slots) == 2

        result = dead_run_sensor(dg.build_sensor_context(instance=instance))
        assert "failed 2 dead run(s)" in result.skip_message
        for record in started:
            run = instance.get_run_by_id(record.dagster_run.run_id)
            assert run.status == dg.DagsterRunStatus.FAILURE
        assert instance.event_log_storage.get_concurrency_info("warehouse").claimed_slots == []
        assert fail_dead_runs(instance) == []  # nothing left to do; live runs are never touched

    third, pid_file = _start_run(tmp_path, "third", 0)
    try:
        assert third.wait(timeout=180) == 0, third.stderr.read().decode()[-3000:]
    finally:
        if third.poll() is None:
            third.kill()
        third.stderr.close()
    assert pid_file.exists()
