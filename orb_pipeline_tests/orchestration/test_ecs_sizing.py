"""Fargate sizing of sweep runs from the chunk size, against hand-computed sizes."""

from __future__ import annotations

import json

import pytest

from orb_pipeline.orchestration.ecs import (
    sweep_run_tags,
    sweep_task_size,
    validation_run_tags,
    validation_task_size,
)
from orb_pipeline.orchestration.jobs import build_jobs, max_runtime_seconds
from orb_pipeline.orchestration.sweep_plan import chunk_size
from orb_pipeline.sweeps.grid import parse_settings


@pytest.mark.parametrize(
    ("backtests", "cpu", "memory"),
    [
        (1, 1024, 2048),
        (2_437, 1024, 2048),  # default grid 9,747 / 4 chunks
        (25_000, 1024, 2048),  # 1,536 + 48 MiB, under the 2,048 minimum
        (25_001, 2048, 4096),
        (400_000, 4096, 8192),  # 1,536 + 781 MiB
        (1_600_000, 8192, 16384),  # 1,536 + 3,125 MiB
        (10_000_000, 16384, 32768),  # 1,536 + 19,531 -> 24,576 in 8 GiB steps, minimum 32,768
        (60_000_000, 16384, 122880),  # 1,536 + 117,187 = 118,723 -> 122,880
    ],
)
def test_task_size_is_the_smallest_valid_fargate_size(backtests, cpu, memory):
    size = sweep_task_size(backtests)
    assert (size.cpu_units, size.memory_mib) == (cpu, memory)


def test_too_large_or_empty_chunks_are_refused_with_the_number():
    with pytest.raises(ValueError, match="62500000 backtests needs 123606 MiB"):
        sweep_task_size(62_500_000)
    with pytest.raises(ValueError, match="chunk_size must be a positive"):
        sweep_task_size(0)


def test_run_tags_set_numba_threads_to_the_vcpus():
    tags = sweep_run_tags(100_000)
    assert (tags["ecs/cpu"], tags["ecs/memory"]) == ("2048", "4096")
    overrides = json.loads(tags["ecs/container_overrides"])
    assert overrides == {"environment": [{"name": "NUMBA_NUM_THREADS", "value": "2"}]}


def test_sweep_job_carries_the_tags_of_its_chunk_size():
    settings = parse_settings({"chunks": 3})  # default grid: 9,747 rows -> chunks of 3,249
    assert chunk_size(settings) == 3_249
    (sweep_job,) = [job for job in build_jobs(settings) if job.name == "sweep_job"]
    # 1,800 s + 10 ms per backtest of the grid: 1,800 + 97 s
    assert sweep_job.tags == {**sweep_run_tags(3_249), "dagster/max_runtime": "1897"}


@pytest.mark.parametrize(
    ("backtests", "sessions", "cpu", "memory"),
    [
        # Memory is one streamed block + 80 bytes per grid row (validation.runner), 252 sessions
        # and 6 folds: 20,160 + 3,072 = 23,232 bytes per parameter set, 11,554 per 256 MiB block.
        # 9,747 x 23,232 = 216 MiB + 0.7 MiB + 1,536 -> 1 vCPU's 2,048 minimum
        (9_747, 252, 1024, 2048),
        # 11,554 x 23,232 = 256 MiB + 7.6 MiB + 1,536 = 1,799 -> 2 vCPU (work 100,000), 4,096 min
        (100_000, 252, 2048, 4096),
        # 256 MiB + 76 MiB + 1,536 = 1,868 -> work 1 M > 400,000: 8 vCPU, its 16,384 minimum
        # (24,576 before the walk-forward streamed: 84 bytes per backtest and session)
        (1_000_000, 252, 8192, 16384),
        # the grid cap over ten years: 256 MiB + 763 MiB + 1,536 -> 16 vCPU's 32,768 minimum
        (10_000_000, 2_520, 16384, 32768),
    ],
)
def test_validation_task_is_sized_by_grid_and_window(backtests, sessions, cpu, memory):
    size = validation_task_size(backtests, sessions)
    assert (size.cpu_units, size.memory_mib) == (cpu, memory)


def test_validation_job_carries_tags_of_the_grid():
    settings = parse_settings({})
    (validation_job,) = [job for job in build_jobs(settings) if job.name == "validation_job"]
    assert validation_job.tags == {
        **validation_run_tags(9_747, 252),
        "dagster/max_runtime": "1897",
    }
    assert validation_job.tags["orb/kind"] == "validation"
    with pytest.raises(ValueError, match="needs .* MiB, more than Fargate's largest task"):
        validation_task_size(2_000_000_000, 252)  # 149 GiB of grid alone


def test_every_job_has_a_runtime_limit_that_run_monitoring_enforces():
    limits = {
        job.name: int(job.tags["dagster/max_runtime"]) for job in build_jobs(parse_settings({}))
    }
    assert limits == {
        "daily_data_job": 7200,
        "stage_window_job": 1800,
        "sweep_job": 1897,
        "leaderboard_job": 1800,
        "validation_job": 1897,
        "universe_job": 1800,
    }
    # A million-backtest grid gets 1,800 + 10,000 s.
    assert max_runtime_seconds("sweep_job", 1_000_000) == 11_800
