"""Dagster definitions of the validation stage: ``walk_forward`` and ``monte_carlo`` per ticker.

The walk-forward's default grid is the sweep stage's (``ORB_SWEEP_GRID``), read when definitions
load, so a bad grid fails there; the default run configuration is validated here too.
"""

import dagster as dg

from orb_pipeline.sweeps.grid import load_settings
from orb_pipeline.validation.assets import build_walk_forward, monte_carlo
from orb_pipeline.validation.config import MonteCarloConfig, WalkForwardConfig
from orb_pipeline.validation.selection_assets import (
    UniverseConfig,
    VerdictConfig,
    universe_ranking_asset,
    verdict,
)

WalkForwardConfig()  # the defaults are valid (raises at load time otherwise)
MonteCarloConfig()
VerdictConfig()
UniverseConfig()

defs = dg.Definitions(
    assets=[
        build_walk_forward(load_settings().grid()),
        monte_carlo,
        verdict,
        universe_ranking_asset,
    ]
)
