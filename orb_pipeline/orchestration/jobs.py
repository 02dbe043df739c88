"""The documented jobs: each selects assets that share one partitions definition, so one run
covers a partition or a partition-key range of all of them.

- ``daily_data_job`` (``cached_bars``, ``opening_ranges``, ``compressed_series``) [session x ticker]:
  ranged runs, one per rectangle of sessions x tickers (the daily schedule, the ticker sensor).
- ``stage_window_job`` (``staged_window``) [ticker]: run config names the window.
- ``sweep_job`` (``sweep_results``) [ticker x chunk]: carries the ECS sizing tags of one chunk.
- ``leaderboard_job`` (``leaderboard``) [ticker].
- ``validation_job`` (``walk_forward``, ``monte_carlo``) [ticker].
"""

from __future__ import annotations

import dagster as dg

from orb_pipeline.orchestration.ecs import sweep_run_tags
from orb_pipeline.sweeps.grid import SweepSettings

DATA_ASSETS = ("cached_bars", "opening_ranges", "compressed_series")
COMPRESSED_SERIES = dg.AssetKey("compressed_series")
STAGED_WINDOW = dg.AssetKey("staged_window")
SWEEP_RESULTS = dg.AssetKey("sweep_results")
LEADERBOARD = dg.AssetKey("leaderboard")
VALIDATION_ASSETS = ("walk_forward", "monte_carlo")

DAILY_DATA_JOB = "daily_data_job"
STAGE_WINDOW_JOB = "stage_window_job"
SWEEP_JOB = "sweep_job"
LEADERBOARD_JOB = "leaderboard_job"
VALIDATION_JOB = "validation_job"


def chunk_size(settings: SweepSettings) -> int:
    """Backtests in the largest chunk (chunks differ by at most one row)."""
    rows = settings.grid().height
    return -(-rows // settings.chunks)


def build_jobs(settings: SweepSettings) -> list[dg.UnresolvedAssetJobDefinition]:
    return [
        dg.define_asset_job(
            DAILY_DATA_JOB,
            selection=dg.AssetSelection.assets(*DATA_ASSETS),
            tags={"orb/kind": "daily"},
            description="Warehouse pull -> 1-second bars -> opening ranges -> compressed series, "
            "for any rectangle of sessions x tickers in one run.",
        ),
        dg.define_asset_job(
            STAGE_WINDOW_JOB,
            selection=dg.AssetSelection.assets(STAGED_WINDOW),
            tags={"orb/kind": "staging"},
            description="Stage one ticker's window (run config: first_session, last_session).",
        ),
        dg.define_asset_job(
            SWEEP_JOB,
            selection=dg.AssetSelection.assets(SWEEP_RESULTS),
            # The run launcher reads run tags; job tags become every run's tags.
            tags=sweep_run_tags(chunk_size(settings)),
            description=f"Backtest one ticker x parameter chunk (up to {chunk_size(settings)} "
            "backtests) and upsert the results; sized for one ECS task.",
        ),
        dg.define_asset_job(
            LEADERBOARD_JOB,
            selection=dg.AssetSelection.assets(LEADERBOARD),
            tags={"orb/kind": "results"},
            description="Rank one ticker's backtests, write ledgers of the top ones and pictures.",
        ),
        dg.define_asset_job(
            VALIDATION_JOB,
            selection=dg.AssetSelection.assets(*VALIDATION_ASSETS),
            tags={"orb/kind": "validation"},
            description="Walk-forward and Monte Carlo validation of one ticker's leaderboard.",
        ),
    ]
