"""The documented jobs: each selects assets that share one partitions definition, so one run
covers a partition or a partition-key range of all of them.

- ``daily_data_job`` (``cached_bars``, ``opening_ranges``, ``compressed_series``) [session x ticker]:
  ranged runs, one per rectangle of sessions x tickers (the daily schedule, the ticker sensor).
- ``stage_window_job`` (``staged_window``) [ticker]: run config names the window.
- ``sweep_job`` (``sweep_results``) [ticker x chunk]: a range of one ticker's chunks per run
  (``orchestration/sweep_plan.py``), with the ECS sizing tags of its largest chunk.
- ``leaderboard_job`` (``leaderboard``) [ticker].
- ``validation_job`` (``walk_forward``, ``monte_carlo``, ``verdict``, ``research_report``) [ticker]:
  ECS sizing tags from the grid.
- ``universe_job`` (``universe_ranking``), unpartitioned: every ticker of a window.

Every job runs its steps in the run's own process (``in_process_executor``): each job is one step
or a short chain of dependent steps, so a process per step bought no parallelism and cost a
Python start-up and a definitions load per step (see docs/ARCHITECTURE.md, "Runs and launches").
"""

from __future__ import annotations

import dagster as dg

from orb_pipeline.core.lineage import (
    DATA_ASSETS,
    LEADERBOARD,
    STAGED_WINDOW,
    SWEEP_RESULTS,
    UNIVERSE_RANKING,
    VALIDATION_ASSETS,
)
from orb_pipeline.orchestration.ecs import sweep_run_tags, validation_run_tags
from orb_pipeline.orchestration.sweep_plan import SESSIONS_PER_YEAR, chunk_size
from orb_pipeline.sweeps.grid import SweepSettings

DAILY_DATA_JOB = "daily_data_job"
STAGE_WINDOW_JOB = "stage_window_job"
SWEEP_JOB = "sweep_job"
LEADERBOARD_JOB = "leaderboard_job"
VALIDATION_JOB = "validation_job"
UNIVERSE_JOB = "universe_job"
# The automation condition sensor that launches validation (orchestration/definitions.py).
VALIDATION_AUTOMATION = "validation_automation"


MAX_RUNTIME_TAG = "dagster/max_runtime"
"""Run monitoring (deploy/dagster.yaml, dagster.yaml) cancels a run older than this many seconds."""


def max_runtime_seconds(job_name: str, grid_rows: int) -> int:
    """Each job's runtime limit: a generous bound on what its largest normal run takes, so a hung
    run (a stuck connection, a deadlock) is canceled and alerted instead of holding its pool
    slots and its ECS task for ever. Sweeps and validation grow with the grid: 1,800 s plus
    10 ms per backtest (a run covers at most a ticker's grid; the engine and the upsert do
    about 30,000 backtests/s over a ticker-year on one core, so 10 ms allows 300x that)."""
    fixed = {
        DAILY_DATA_JOB: 2 * 3600,
        STAGE_WINDOW_JOB: 1800,
        LEADERBOARD_JOB: 1800,
        UNIVERSE_JOB: 1800,
    }
    if job_name in fixed:
        return fixed[job_name]
    return 1800 + grid_rows // 100


def build_jobs(settings: SweepSettings) -> list[dg.UnresolvedAssetJobDefinition]:
    size = chunk_size(settings)
    rows = settings.grid().height

    def limit(job_name: str) -> dict[str, str]:
        return {MAX_RUNTIME_TAG: str(max_runtime_seconds(job_name, rows))}

    jobs = [
        dg.define_asset_job(
            DAILY_DATA_JOB,
            executor_def=dg.in_process_executor,
            selection=dg.AssetSelection.assets(*DATA_ASSETS),
            tags={"orb/kind": "daily", **limit(DAILY_DATA_JOB)},
            description="Warehouse pull -> 1-second bars -> opening ranges -> compressed series, "
            "for any rectangle of sessions x tickers in one run.",
        ),
        dg.define_asset_job(
            STAGE_WINDOW_JOB,
            executor_def=dg.in_process_executor,
            selection=dg.AssetSelection.assets(STAGED_WINDOW),
            tags={"orb/kind": "staging", **limit(STAGE_WINDOW_JOB)},
            description="Stage one ticker's window (run config: first_session, last_session).",
        ),
        dg.define_asset_job(
            SWEEP_JOB,
            executor_def=dg.in_process_executor,
            selection=dg.AssetSelection.assets(SWEEP_RESULTS),
            # The run launcher reads run tags; job tags become every run's tags.
            tags={**sweep_run_tags(size), **limit(SWEEP_JOB)},
            description=f"Backtest a range of one ticker's parameter chunks (up to {size} "
            "backtests each, one after another) and upsert the results; sized for one ECS task.",
        ),
        dg.define_asset_job(
            LEADERBOARD_JOB,
            executor_def=dg.in_process_executor,
            selection=dg.AssetSelection.assets(LEADERBOARD),
            tags={"orb/kind": "results", **limit(LEADERBOARD_JOB)},
            description="Rank one ticker's backtests, write ledgers of the top ones and pictures.",
        ),
        dg.define_asset_job(
            VALIDATION_JOB,
            executor_def=dg.in_process_executor,
            selection=dg.AssetSelection.assets(*VALIDATION_ASSETS),
            # Sized for a year of the sweep's grid; the walk-forward keeps per-session statistics
            # of every backtest in memory.
            tags={
                **validation_run_tags(settings.grid().height, SESSIONS_PER_YEAR),
                **limit(VALIDATION_JOB),
            },
            description="Walk-forward and Monte Carlo validation of one ticker's leaderboard, "
            "then the verdict on every leaderboard row and the research report.",
        ),
        dg.define_asset_job(
            UNIVERSE_JOB,
            executor_def=dg.in_process_executor,
            selection=dg.AssetSelection.assets(UNIVERSE_RANKING),
            tags={"orb/kind": "validation", **limit(UNIVERSE_JOB)},
            description="Rank parameter sets across every ticker of a window (after the verdicts).",
        ),
    ]
    return jobs
