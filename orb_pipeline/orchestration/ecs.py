"""ECS sizing of sweep runs, derived from the parameter-chunk size.

``EcsRunLauncher`` reads *run* tags (never asset or op tags): ``ecs/cpu`` and ``ecs/memory``
become the task's CPU units / MiB overrides, and ``ecs/container_overrides`` (JSON) is merged
into the container override, which is how ``NUMBA_NUM_THREADS`` follows the task's vCPUs. Put
these tags on the sweep job (``dg.define_asset_job(tags=...)``) or on each ``dg.RunRequest``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

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
    size = sweep_task_size(chunk_size)
    environment = [{"name": "NUMBA_NUM_THREADS", "value": str(size.vcpus)}]
    return {
        "ecs/cpu": str(size.cpu_units),
        "ecs/memory": str(size.memory_mib),
        "ecs/container_overrides": json.dumps({"environment": environment}),
        "orb/kind": "sweep",
    }
