"""ECS sizing of sweep runs, derived from the parameter-chunk size.

``EcsRunLauncher`` reads *run* tags (never asset or op tags): ``ecs/cpu`` and ``ecs/memory``
become the task's CPU units / MiB overrides, and ``ecs/container_overrides`` (JSON) is merged
into the container override, which is how ``NUMBA_NUM_THREADS`` follows the task's vCPUs. Put
these tags on the sweep job (``dg.define_asset_job(tags=...)``) or on each ``dg.RunRequest``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from orb_pipeline.core import settings
from orb_pipeline.validation.runner import AUTO_FOLDS, validation_memory_bytes

# Fargate's valid CPU units and, for each, the memory range (MiB) and its step.
FARGATE_MEMORY_MIB: dict[int, tuple[int, int, int]] = {
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
    8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}

# Backtests per vCPU-chunk a task is sized for: above each bound the next CPU size is chosen.
BACKTESTS_PER_CPU_SIZE: tuple[tuple[int, int], ...] = (
    (25_000, 1024),
    (100_000, 2048),
    (400_000, 4096),
    (1_600_000, 8192),
)
# Result rows kept in memory per backtest (statistics + parameters, float64/int64 columns) plus
# the interpreter, numba, polars and the staged series window.
BYTES_PER_BACKTEST = 2_048
BASE_MEMORY_MIB = 1_536


@dataclass(frozen=True)
class TaskSize:
    cpu_units: int  # ECS CPU units, 1024 per vCPU
    memory_mib: int

    @property
    def vcpus(self) -> int:
        return max(1, self.cpu_units // 1024)


def sweep_task_size(chunk_size: int) -> TaskSize:
    """Smallest valid Fargate size for one sweep chunk of ``chunk_size`` backtests."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive number of backtests, got {chunk_size!r}")
    cpu = next((units for bound, units in BACKTESTS_PER_CPU_SIZE if chunk_size <= bound), 16384)
    low, high, step = FARGATE_MEMORY_MIB[cpu]
    wanted = BASE_MEMORY_MIB + (chunk_size * BYTES_PER_BACKTEST) // (1024 * 1024)
    memory = max(low, -(-wanted // step) * step)
    if memory > high:
        raise ValueError(
            f"a sweep chunk of {chunk_size} backtests needs {wanted} MiB, more than Fargate's "
            f"{high} MiB for {cpu} CPU units; lower the chunk size"
        )
    return TaskSize(cpu_units=cpu, memory_mib=memory)


def sweep_run_tags(chunk_size: int) -> dict[str, str]:
    """Run tags that size a sweep run's ECS task and set numba's thread count to its vCPUs."""
    return _sized_tags(sweep_task_size(chunk_size), "sweep")


# Backtest-sessions per vCPU-second of the engine: 993,600 backtests x 252 sessions swept in
# 18.6 s on 2 vCPUs (`python -m benchmarks.sweep_chain --grid large`) is 6.7 M; rounded down.
BACKTEST_SESSIONS_PER_VCPU_SECOND = 6_000_000


def validation_task_size(grid_rows: int, sessions: int, folds: int = AUTO_FOLDS) -> TaskSize:
    """Smallest valid Fargate size for ``validation_job`` over ``grid_rows`` backtests and a
    window of ``sessions`` sessions: memory for one block of the streamed walk-forward plus the
    grid (``validation.runner.validation_memory_bytes``, one owner), and one more vCPU size per
    fourfold work above 25,000 backtests x 252 sessions (the sweep's table)."""
    if grid_rows < 1 or sessions < 1:
        raise ValueError(f"grid_rows and sessions must be positive, got {grid_rows}, {sessions}")
    wanted = BASE_MEMORY_MIB + validation_memory_bytes(grid_rows, sessions, folds) // (1024 * 1024)
    work = grid_rows * sessions // 252
    cpu = next((units for bound, units in BACKTESTS_PER_CPU_SIZE if work <= bound), 16384)
    for units in sorted(FARGATE_MEMORY_MIB):
        low, high, step = FARGATE_MEMORY_MIB[units]
        if units >= cpu and wanted <= high:
            return TaskSize(cpu_units=units, memory_mib=max(low, -(-wanted // step) * step))
    raise ValueError(
        f"validation of {grid_rows} backtests over {sessions} sessions needs {wanted} MiB, more "
        f"than Fargate's largest task; validate a smaller grid (walk_forward's grid_file)"
    )


def _sized_tags(size: TaskSize, kind: str) -> dict[str, str]:
    environment = [{"name": "NUMBA_NUM_THREADS", "value": str(size.vcpus)}]
    return {
        "ecs/cpu": str(size.cpu_units),
        "ecs/memory": str(size.memory_mib),
        "ecs/container_overrides": json.dumps({"environment": environment}),
        "orb/kind": kind,
    }


def validation_run_tags(grid_rows: int, sessions: int = 252) -> dict[str, str]:
    """Run tags that size ``validation_job``'s ECS task from the grid and window length."""
    return _sized_tags(validation_task_size(grid_rows, sessions), "validation")


# Fargate Spot: up to 70% cheaper, but AWS may stop the task with two minutes' notice. Sweep runs
# are safe on it (each chunk's rows are upserted by deterministic backtest_id, and the instance
# resumes or retries an interrupted run: deploy/dagster.yaml run_monitoring / run_retries), so
# they ask for it when ORB_SWEEP_FARGATE_SPOT is true and the cluster has the FARGATE_SPOT
# capacity provider. Data and staging runs never do (the daily update has a deadline).
FARGATE_SPOT_TAGS = {
    "ecs/run_task_kwargs": json.dumps(
        {"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]}
    )
}


def fargate_spot_requested() -> bool:
    """``ORB_SWEEP_FARGATE_SPOT`` (true/false, default false)."""
    return settings.current().sweep_fargate_spot
