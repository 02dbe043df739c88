"""How a ticker's sweep is cut into runs: the unit of launch is sized by work, not by chunk.

A chunk partition (``sweep_results`` [ticker x chunk]) is the unit of memory and of the results'
bookkeeping; a *run* covers a contiguous range of one ticker's chunks (Dagster's partition-range
tags), processed one chunk after another. A ticker's chunks go into as few runs as keep each run
under ``MAX_RUN_SECONDS`` of estimated work:

- the default grid (9,747 backtests) of one ticker-year is one run;
- a million-combination grid over a year is still one run per ticker (about 17 s of engine and
  upsert on a 4-vCPU task); over ten years it is split so that each run stays under 15 minutes;
- every run is a whole ticker or, when a ticker is split, about ``MAX_RUN_SECONDS / 2`` or more
  of work, far above the minute an ECS task needs to start.

The estimate is the engine's measured throughput (``ecs.BACKTEST_SESSIONS_PER_VCPU_SECOND``) on
the task's vCPUs plus the measured upsert rate; ``orb-pipeline plan`` prints it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import dagster as dg

from orb_pipeline.orchestration.ecs import (
    BACKTEST_SESSIONS_PER_VCPU_SECOND,
    FARGATE_SPOT_TAGS,
    sweep_task_size,
)
from orb_pipeline.partitions import (
    CHUNK_DIMENSION,
    RANGE_END_TAG,
    RANGE_START_TAG,
    TICKER_DIMENSION,
)
from orb_pipeline.sweeps.grid import SweepSettings

# At most this much estimated work per run, so a very large ticker spreads over several tasks
# (in parallel, and an interrupted Spot task loses at most this much).
MAX_RUN_SECONDS = 900.0
# Upsert rate into MariaDB measured by `python -m benchmarks.sweep_chain --grid large` (159,000
# rows/s over 2 connections), rounded down.
UPSERT_ROWS_PER_SECOND = 150_000
SESSIONS_PER_YEAR = 252


def chunk_size(settings: SweepSettings) -> int:
    """Backtests in the largest chunk (chunks differ by at most one row)."""
    return -(-settings.grid().height // settings.chunks)


def chunk_rows(rows: int, chunks: int) -> list[int]:
    """Rows of each chunk, as ``sweeps.grid.chunk_of`` cuts them."""
    return [(k + 1) * rows // chunks - k * rows // chunks for k in range(chunks)]


def estimated_seconds(backtests: int, sessions: int, vcpus: int) -> float:
    """Engine + upsert seconds of ``backtests`` over ``sessions`` sessions on ``vcpus`` vCPUs."""
    engine_seconds = backtests * sessions / (BACKTEST_SESSIONS_PER_VCPU_SECOND * vcpus)
    return engine_seconds + backtests / UPSERT_ROWS_PER_SECOND


@dataclass(frozen=True)
class SweepRun:
    """One planned sweep run: contiguous ``chunks`` of ``ticker``."""

    ticker: str
    chunks: tuple[str, ...]
    backtests: int
    estimated_seconds: float

    def partition_keys(self) -> tuple[dg.MultiPartitionKey, dg.MultiPartitionKey]:
        """First and last partition key of the run's range."""
        return tuple(
            dg.MultiPartitionKey({TICKER_DIMENSION: self.ticker, CHUNK_DIMENSION: chunk})
            for chunk in (self.chunks[0], self.chunks[-1])
        )


def plan_ticker(
    settings: SweepSettings,
    ticker: str,
    sessions: int = SESSIONS_PER_YEAR,
    max_run_seconds: float = MAX_RUN_SECONDS,
) -> list[SweepRun]:
    """The runs that sweep every chunk of ``ticker`` over a window of ``sessions`` sessions, in
    chunk order; each chunk is in exactly one run."""
    if sessions < 1:
        raise ValueError(f"sessions must be >= 1, got {sessions}")
    keys = settings.chunk_keys()
    rows = chunk_rows(settings.grid().height, settings.chunks)
    vcpus = sweep_task_size(max(rows)).vcpus
    total = estimated_seconds(sum(rows), sessions, vcpus)
    runs = min(len(keys), max(1, math.ceil(total / max_run_seconds)))
    plan = []
    for index in range(runs):
        first, stop = index * len(keys) // runs, (index + 1) * len(keys) // runs
        backtests = sum(rows[first:stop])
        plan.append(
            SweepRun(
                ticker,
                tuple(keys[first:stop]),
                backtests,
                estimated_seconds(backtests, sessions, vcpus),
            )
        )
    return plan


def sweep_run_request(
    run: SweepRun, run_key: str, *, job_name: str | None = None, spot: bool = False
) -> dg.RunRequest:
    """A ``sweep_job`` request for ``run`` (a partition-key range), Fargate Spot if ``spot``."""
    start, end = run.partition_keys()
    tags = {
        RANGE_START_TAG: str(start),
        RANGE_END_TAG: str(end),
        "orb/ticker": run.ticker,
        "orb/chunks": f"{run.chunks[0]}..{run.chunks[-1]}",
    }
    if spot:
        tags |= FARGATE_SPOT_TAGS
    return dg.RunRequest(job_name=job_name, run_key=run_key, tags=tags)


def runs_per_universe(
    settings: SweepSettings, tickers: int, sessions: int = SESSIONS_PER_YEAR
) -> int:
    """Sweep runs for ``tickers`` tickers of ``sessions`` sessions each (same plan per ticker)."""
    return tickers * len(plan_ticker(settings, "T", sessions))


# The example of a million-combination grid `orb-pipeline plan` prints beside the default:
# 10 x 100 x 10 x 10 x 10 backtests in 16 chunks of 62,500.
MILLION_GRID = {
    "chunks": 16,
    "blocks": [
        {
            "range_seconds": list(range(30, 330, 30)),
            "stop_distance": {"start": 0.01, "stop": 1.0, "step": 0.01},
            "stop_count_limit": list(range(1, 11)),
            "stop_cooloff_period": list(range(0, 100, 10)),
            "limit_distance": list(range(1, 11)),
        }
    ],
}


def plan_table(grids: dict[str, SweepSettings], tickers: int, sessions: int) -> str:
    """The table ``orb-pipeline plan`` prints: sweep runs per grid for a universe."""
    header = (
        "grid",
        "backtests",
        "chunks",
        "task",
        "runs/ticker",
        "sweep runs",
        "est. s/run",
        "runs if one per chunk",
    )
    lines = [header]
    for name, settings in grids.items():
        plan = plan_ticker(settings, "T", sessions)
        size = sweep_task_size(chunk_size(settings))
        lines.append(
            (
                name,
                f"{settings.grid().height:,}",
                str(settings.chunks),
                f"{size.vcpus} vCPU {size.memory_mib // 1024} GiB",
                str(len(plan)),
                f"{tickers * len(plan):,}",
                f"{max(run.estimated_seconds for run in plan):.1f}",
                f"{tickers * settings.chunks:,}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def add_plan_command(subcommands) -> None:
    plan = subcommands.add_parser(
        "plan", help="print how many sweep runs a universe takes (default grid, 1 M grid, yours)"
    )
    plan.add_argument("--tickers", type=int, default=500, help="tickers in the universe (500)")
    plan.add_argument(
        "--sessions",
        type=int,
        default=SESSIONS_PER_YEAR,
        help="sessions per ticker's window (252, a year)",
    )
    plan.set_defaults(handler=_plan)


def _plan(args) -> int:
    from orb_pipeline.sweeps.grid import load_settings, parse_settings

    grids = {
        "default": parse_settings({}),
        "1 M example": parse_settings(MILLION_GRID, "the 1 M example grid"),
        "configured (ORB_SWEEP_GRID)": load_settings(),
    }
    print(
        f"sweep runs for {args.tickers:,} tickers x {args.sessions} sessions "
        f"(at most {MAX_RUN_SECONDS:.0f} s of estimated work per run):"
    )
    print(plan_table(grids, args.tickers, args.sessions))
    return 0
